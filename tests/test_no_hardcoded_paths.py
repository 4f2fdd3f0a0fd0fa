"""No page, view or email spells out one of the site's own paths.

Links come from the URL names (`{% url %}`, `reverse()`, a model's `get_absolute_url()`),
static files from `{% static %}`, absolute links from `kling_site.links.absolute_url`. A
path written out by hand survives a change of the URLconf silently and breaks the link.

What counts as one of our paths is read from the URLconf itself (the first segment of
every top-level pattern: `/credits/`, `/generations/`, `/accounts/`, ...) plus STATIC_URL
and MEDIA_URL, so a new app is covered as soon as it is mounted. The files read: every
template of the project and the apps, and every non-test Python module of the apps
(migrations left out: they are history).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "billing", "generations", "kling_site")

# (file relative to the repository, the literal string): what must stay written out.
ALLOWED_PYTHON = {
    # Django reads these settings before any URLconf exists; they are URL prefixes, not links.
    ("kling_site/settings.py", "/static/"),
    ("kling_site/settings.py", "/media/"),
    # The default KLING_API_BASE in demo mode: the simulator's base URL is a setting read at
    # start-up (before the URLconf loads) and handed to the provider client as a plain string.
    ("kling_site/settings.py", "/_sim/kling"),
    # Kling's own API path (account resource packs), part of Kling's contract, not our site:
    # it only shares its first segment with our /account/ pages.
    ("generations/providers/kling.py", "/account/costs"),
    ("generations/providers/kling.py", "/account/costs `data` is not an object"),
}
# (template relative to the repository, the matched text): nothing needs to be literal.
ALLOWED_TEMPLATE: set[tuple[str, str]] = set()

REDIRECTS = {"redirect", "HttpResponseRedirect", "HttpResponsePermanentRedirect"}


def _first_segments(patterns, prefix: str = "") -> set[str]:
    segments = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver) and "/" not in route:
            segments |= _first_segments(pattern.url_patterns, route)
            continue
        if isinstance(pattern, URLPattern | URLResolver):
            head = re.split(r"[/$(<\[?\\]", route, maxsplit=1)[0]
            if head:
                segments.add(head)
    return segments


@cache
def site_segments() -> tuple[str, ...]:
    segments = _first_segments(get_resolver().url_patterns)
    for url in (settings.STATIC_URL, settings.MEDIA_URL):
        segments.add(url.strip("/").split("/")[0])
    segments.add("_sim")  # the simulator, whether or not this run mounts it
    return tuple(sorted(segments, key=len, reverse=True))


@cache
def site_path() -> re.Pattern[str]:
    """A string that starts with one of our paths: `/credits/`, `/healthz`, `/generations?x`."""
    alternatives = "|".join(re.escape(s) for s in site_segments())
    return re.compile(rf"/(?:{alternatives})(?=[/?#\"'\s`]|$)")


def template_files() -> list[Path]:
    folders = [ROOT / "templates", *(ROOT / app / "templates" for app in APPS)]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file())


def python_files() -> list[Path]:
    return sorted(
        p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
    )


def template_offences(text: str) -> list[str]:
    found = []
    # An attribute that holds an absolute path of this site (including the home page, "/").
    attribute = re.compile(
        r"""(?:href|src|action|formaction|poster|hx-(?:get|post|put|patch|delete)|data-[\w-]+)"""
        r"""\s*=\s*["'](/(?!/)[^"'\s{]*)"""
    )
    in_attributes = set()
    for m in attribute.finditer(text):
        found.append(m.group(1))
        in_attributes.add(m.start(1) - 1)
    # A quoted path anywhere else, e.g. `{% if request.path == "/accounts/login/" %}`.
    quoted = re.compile(r"""["']""" + site_path().pattern)
    found += [m.group(0) for m in quoted.finditer(text) if m.start() not in in_attributes]
    # A path glued onto a variable: `{{ SITE_URL }}/account/`.
    found += [m.group(0) for m in re.finditer(r"[}%]}" + site_path().pattern, text)]
    return found


def python_offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and site_path().match(node.value):
            found.append(node.value)
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in REDIRECTS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and first.value == "/":
                    found.append("/")
    return found


def test_it_knows_the_site_paths():
    segments = set(site_segments())
    assert {"generations", "generate", "credits", "accounts", "account", "admin", "static"} <= segments
    assert site_path().match("/generations/1/")
    assert site_path().match("/healthz")
    assert not site_path().match("/v1/images/generations")
    assert not site_path().match("/generationsx/")


def test_it_catches_a_written_out_path():
    assert template_offences('<a href="/">Home</a>') == ["/"]
    assert template_offences('<a href="/generations/{{ g.pk }}/">x</a>')
    assert template_offences('{% if request.path == "/accounts/login/" %}')
    assert template_offences("{{ SITE_URL }}/account/")
    assert not template_offences("<a href=\"{% url 'generations:gallery' %}\">x</a>")
    assert python_offences('redirect("/generations/")') == ["/generations/"]
    assert python_offences('x = f"{settings.SITE_URL}/account/"') == ["/account/"]
    assert python_offences('redirect("/")') == ["/"]
    assert not python_offences('path.split("/")')


def test_templates_use_url_names():
    offences = []
    for template in template_files():
        name = template.relative_to(ROOT).as_posix()
        text = template.read_text(errors="replace")
        for line_no, line in enumerate(text.splitlines(), 1):
            offences += [
                f"{name}:{line_no}: {found}"
                for found in template_offences(line)
                if (name, found) not in ALLOWED_TEMPLATE
            ]
    assert not offences, "Hard-coded paths; use {% url %} or {% static %}:\n" + "\n".join(offences)


def test_python_uses_reverse():
    offences = []
    for module in python_files():
        name = module.relative_to(ROOT).as_posix()
        offences += [
            f"{name}: {found!r}"
            for found in python_offences(module.read_text())
            if (name, found) not in ALLOWED_PYTHON
        ]
    assert not offences, "Hard-coded paths; use reverse() or get_absolute_url():\n" + "\n".join(offences)


def test_every_allowed_entry_is_still_needed():
    present = set()
    for module in python_files():
        name = module.relative_to(ROOT).as_posix()
        present |= {(name, found) for found in python_offences(module.read_text())}
    assert present >= ALLOWED_PYTHON, f"no longer needed: {ALLOWED_PYTHON - present}"
