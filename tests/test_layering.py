"""The apps' modules import each other in layers, and never in a cycle.

The imports are read from the source with `ast` (nothing is imported). Every import
statement counts, at module level and inside a function body alike: an import moved into
a function only postpones a cycle to run time, the two modules still need each other, so
it is no way around these rules. Left out are only imports under `if TYPE_CHECKING:`,
which never run. An import names the most specific module it loads (`from billing import
ledger` is `billing.ledger`); the package `__init__` that Python runs on the way is not
counted, or every package that imports its own submodules would be a cycle.

The layers, bottom up:

- the foundation (`FOUNDATION`): models, the ledger, the capability table, prices, our
  limits and queue, the provider clients. It imports nothing above itself.
- services: the business rules (`generations.services`, `follow`, `media`,
  `billing.payments`, `webhooks`, ...): every module not in another layer.
- entry points (`is_entry_point`): views, admin, URLs, forms, tasks, callbacks, the API,
  app configs, management commands, template tags. They call services; nothing but
  another entry point imports them.

Across apps, billing knows nothing of generations: generations charges and refunds through
`billing.ledger`, never the other way round.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "billing", "generations", "kling_site", "outbound_webhooks")

# The bottom layer: each entry is a module or a package (all of its modules).
FOUNDATION = (
    "accounts.models",
    "billing.account_flags",
    "billing.payment_types",
    "billing.ledger",
    "billing.models",
    "billing.money",
    "billing.queue",
    "generations.capabilities",
    "generations.effects",
    "generations.limiter",
    "generations.models",
    "generations.pricing",
    "generations.providers",
    "generations.queue",
    "generations.simulator.models",
    "outbound_webhooks.models",
    "outbound_webhooks.queue",
)

# Modules with these names, or inside packages with these names, are entry points.
ENTRY_POINT_NAMES = frozenset(
    {
        "admin",
        "api",
        "apps",
        "asgi",
        "callbacks",
        "context_processors",
        "forms",
        "management",
        "middleware",  # called by Django for each request, like views
        "settings",
        "tasks",
        "templatetags",
        "urls",
        "views",
        "wsgi",
    }
)

# (importer, imported, why not): module or package names, as in FOUNDATION.
FORBIDDEN = (
    ("billing", "generations", "billing knows nothing of generations; generations calls billing.ledger"),
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


@cache
def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" not in parts:
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """Every import statement's target names, wherever it stands, but for TYPE_CHECKING blocks."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.found: list[tuple[str, int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend((alias.name, node.lineno) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        # `from package import name`: the submodule when `name` is one, else the package.
        self.found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific project module a dotted import target names (None: not ours)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports(root: Path = ROOT) -> tuple[Import, ...]:
    modules = project_modules(root)
    found = []
    for importer, path in modules.items():
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        collector = _ImportCollector(package)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for target, line in collector.found:
            imported = _resolve(target, modules)
            if imported is not None and imported != importer:
                found.append(Import(importer, imported, f"{path.relative_to(root)}:{line}"))
    return tuple(found)


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in project_modules(root)}
    for item in imports(root):
        edges[item.importer].add(item.imported)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for other in sorted(edges[name]):
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in on_stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return groups


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def is_foundation(name: str) -> bool:
    return any(within(name, entry) for entry in FOUNDATION)


def is_entry_point(name: str) -> bool:
    return any(part in ENTRY_POINT_NAMES for part in name.split(".")[1:])


def _report(problems: list[Import]) -> str:
    return "\n".join(str(p) for p in problems)


# --- the checker itself -------------------------------------------------------------------


def test_it_reads_imports_inside_functions_and_skips_type_checking_blocks(tmp_path):
    package = tmp_path / "billing"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from billing import c\n"
        "def later():\n    from billing import b\n"
    )
    (package / "b.py").write_text("from . import a\nimport billing.c as c\n")
    (package / "c.py").write_text("from billing.a import later\nimport json\n")
    found = {(i.importer, i.imported) for i in imports(tmp_path)}
    # a -> c is under TYPE_CHECKING; a -> b is inside a function and counts.
    assert found == {
        ("billing.a", "billing.b"),
        ("billing.b", "billing.a"),
        ("billing.b", "billing.c"),
        ("billing.c", "billing.a"),
    }
    assert cycles(graph(tmp_path)) == [["billing.a", "billing.b", "billing.c"]]


def test_every_listed_module_exists():
    modules = project_modules()
    for entry in FOUNDATION:
        assert any(within(name, entry) for name in modules), f"FOUNDATION lists {entry}, which does not exist"


# --- the rules ----------------------------------------------------------------------------


def test_no_module_imports_another_in_a_cycle():
    found = cycles(graph())
    # Each group with the imports that tie it together, so the one to undo can be picked.
    report = [
        ", ".join(group)
        + "\n"
        + _report(list(dict.fromkeys(i for i in imports() if i.importer in group and i.imported in group)))
        for group in found
    ]
    assert not found, "modules that import each other in a cycle (untangle them):\n" + "\n\n".join(report)


def test_the_foundation_imports_nothing_above_it():
    problems = [i for i in imports() if is_foundation(i.importer) and not is_foundation(i.imported)]
    assert not problems, "the foundation layer imports upward:\n" + _report(problems)


def test_only_entry_points_import_entry_points():
    problems = [i for i in imports() if is_entry_point(i.imported) and not is_entry_point(i.importer)]
    assert not problems, "views, admin, tasks and the like call the rules; the rules never import them:\n" + (
        _report(problems)
    )


@pytest.mark.parametrize(("importer", "imported", "why"), FORBIDDEN)
def test_apps_depend_one_way(importer, imported, why):
    problems = [i for i in imports() if within(i.importer, importer) and within(i.imported, imported)]
    assert not problems, f"{why}:\n" + _report(problems)


# Covered by the foundation rule, and spelled out so that no edit of FOUNDATION drops them.
BOTTOM = ("billing.ledger", "generations.capabilities", "generations.pricing", "generations.providers")
RULES_ABOVE_THE_BOTTOM = ("generations.services", "generations.follow")


@pytest.mark.parametrize("lower", BOTTOM)
def test_the_bottom_never_imports_an_entry_point_or_the_rules_above_it(lower):
    problems = [
        i
        for i in imports()
        if within(i.importer, lower)
        and (is_entry_point(i.imported) or any(within(i.imported, rules) for rules in RULES_ABOVE_THE_BOTTOM))
    ]
    assert not problems, f"{lower} imports upward:\n" + _report(problems)
