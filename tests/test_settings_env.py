"""Settings that fail clearly: every variable is parsed by kling_site.env, a bad value stops
the start with one line naming it, and what the settings say does not depend on who
imported them (tests change declared settings instead)."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import global_settings, settings
from django.core.exceptions import ImproperlyConfigured

from generations import media, queue
from kling_site.env import envbool, envfloat, envint, envrate

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-settings-check-1234567890",
    "ALLOWED_HOSTS": "studio.example.com",
    "SITE_URL": "https://studio.example.com",
    "KLING_PROVIDER": "kling",
    "KLING_ACCESS_KEY": "production-access-key",
    "KLING_SECRET_KEY": "production-secret-key-for-the-settings-check",
}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


# --- the helpers ------------------------------------------------------------------------


def test_envint_reads_a_whole_number_or_the_default(monkeypatch):
    monkeypatch.setenv("SOME_COUNT", " 12 ")
    assert envint("SOME_COUNT", 3) == 12
    monkeypatch.setenv("SOME_COUNT", "")
    assert envint("SOME_COUNT", 3) == 3
    monkeypatch.delenv("SOME_COUNT")
    assert envint("SOME_COUNT", 3, minimum=1) == 3


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        ("abc", None, "SOME_COUNT must be a whole number, got 'abc'"),
        ("1.5", None, "SOME_COUNT must be a whole number, got '1.5'"),
        ("-1", 0, "SOME_COUNT must be at least 0, got '-1'"),
        ("0", 1, "SOME_COUNT must be at least 1, got '0'"),
    ],
)
def test_envint_refuses_naming_the_variable(monkeypatch, value, minimum, message):
    monkeypatch.setenv("SOME_COUNT", value)
    with pytest.raises(ImproperlyConfigured) as caught:
        envint("SOME_COUNT", 3, minimum=minimum)
    assert str(caught.value) == message


def test_envfloat_reads_a_number(monkeypatch):
    monkeypatch.setenv("SOME_SECONDS", "2.5")
    assert envfloat("SOME_SECONDS", 1.0, positive=True) == 2.5
    monkeypatch.setenv("SOME_SECONDS", "0")
    assert envfloat("SOME_SECONDS", 1.0, minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fast", "SOME_SECONDS must be a number, got 'fast'"),
        ("nan", "SOME_SECONDS must be a number, got 'nan'"),
        ("inf", "SOME_SECONDS must be a number, got 'inf'"),
        ("0", "SOME_SECONDS must be more than 0, got '0'"),
        ("-2", "SOME_SECONDS must be more than 0, got '-2'"),
    ],
)
def test_envfloat_refuses_naming_the_variable(monkeypatch, value, message):
    monkeypatch.setenv("SOME_SECONDS", value)
    with pytest.raises(ImproperlyConfigured) as caught:
        envfloat("SOME_SECONDS", 1.0, positive=True)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), ("Yes", True), ("on", True), ("0", False), ("False", False), ("NO", False), ("off", False), ("", True)],
)  # fmt: skip
def test_envbool_accepts_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_SWITCH", value)
    assert envbool("SOME_SWITCH", True) is expected


def test_envbool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_SWITCH", "Maybe")
    with pytest.raises(ImproperlyConfigured) as caught:
        envbool("SOME_SWITCH", True)
    assert str(caught.value) == "SOME_SWITCH must be 1 or 0 (true/false, yes/no, on/off), got 'Maybe'"


def test_envrate_reads_a_rate_and_refuses_a_negative_one(monkeypatch):
    monkeypatch.setenv("SOME_RATE", "5/hour")
    assert envrate("SOME_RATE", "1/day") == (5, 3600)
    monkeypatch.setenv("SOME_RATE", "0")
    assert envrate("SOME_RATE", "1/day") == (0, 1)
    monkeypatch.setenv("SOME_RATE", "-1/hour")
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_RATE must be a rate such as 5/hour"):
        envrate("SOME_RATE", "1/day")
    monkeypatch.setenv("SOME_RATE", "5/fortnight")
    with pytest.raises(ImproperlyConfigured, match=r"^SOME_RATE='5/fortnight': the period is one of"):
        envrate("SOME_RATE", "1/day")


# --- a bad environment stops the start with one line -------------------------------------


BAD_VALUES = [
    ("GENERATION_POLL_SECONDS", "abc", "must be a whole number, got 'abc'"),
    ("KLING_CONNECT_TIMEOUT", "fast", "must be a number, got 'fast'"),
    ("KLING_READ_TIMEOUT", "0", "must be more than 0, got '0'"),
    ("SIMULATOR_RUN_SECONDS", "-1", "must be at least 0, got '-1'"),
    ("WELCOME_CREDITS", "-5", "must be at least 0, got '-5'"),
    ("Q_WORKERS", "0", "must be at least 1, got '0'"),
    ("KLING_MAX_CONCURRENCY", "-1", "must be at least 0, got '-1'"),
    ("STRIPE_TIMEOUT", "0", "must be at least 1, got '0'"),
    ("EMAIL_USE_TLS", "maybe", "must be 1 or 0 (true/false, yes/no, on/off), got 'maybe'"),
    ("SIGNUP_LIMIT_PER_IP", "-1/hour", "must be a rate such as 5/hour, or 0 for none, got '-1/hour'"),
]


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_VALUES)
def test_manage_py_refuses_a_bad_value_in_one_line(variable, value, problem):
    result = _run("manage.py", "check", env={variable: value})
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"Configuration error: {variable} {problem}"]


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("GENERATION_POLL_SECONDS", "abc", "must be a whole number, got 'abc'"),
        ("GUNICORN_TIMEOUT", "soon", "must be a whole number, got 'soon'"),
        ("GUNICORN_WORKERS", "0", "must be at least 1, got '0'"),
    ],
)
def test_gunicorn_refuses_a_bad_value_in_one_line_before_forking(variable, value, problem):
    # The master reads its config file first: it stops there, before any worker boots.
    result = _run(
        "-m", "gunicorn", "kling_site.wsgi", "-c", "gunicorn.conf.py", "--check-config",
        env={**PRODUCTION_ENV, variable: value},
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"Configuration error: {variable} {problem}"]


def test_gunicorns_settings_check_leaves_no_trace_in_the_master():
    # Workers must still read the settings (and .env) afresh, after a HUP as well.
    code = (
        "import os, runpy, sys; before = dict(os.environ); "
        "config = runpy.run_path('gunicorn.conf.py'); "
        "print(config['threads'], dict(os.environ) == before, 'kling_site.settings' in sys.modules)"
    )
    result = _run("-c", code, env={**PRODUCTION_ENV, "GUNICORN_THREADS": "6"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "True", "False"]


# --- no setting depends on pytest, none is read undeclared -------------------------------


def test_the_settings_are_the_same_whether_or_not_pytest_is_imported():
    show = (
        "from django.conf import settings; "
        "print(settings.ACCOUNT_RATE_LIMITS, settings.STORAGES['staticfiles']['BACKEND'], "
        "settings.SIMULATOR_CALLBACK_THREAD)"
    )
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "kling_site.settings"}
    plain = _run("-c", show, env=env)
    under_pytest = _run("-c", "import pytest; " + show, env=env)
    assert plain.returncode == 0, plain.stderr
    assert under_pytest.stdout == plain.stdout
    assert plain.stdout.split() == ["{}", "whitenoise.storage.CompressedManifestStaticFilesStorage", "True"]


def _declared_settings() -> set[str]:
    module = importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "kling_site.settings"))
    return {name for name in vars(module) if name.isupper()} | {
        name for name in dir(global_settings) if name.isupper()
    }


def _project_sources() -> list[Path]:
    skip = {"node_modules", "migrations", "media", "staticfiles"}
    return [
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part in skip for part in path.relative_to(ROOT).parts)
    ]


def test_no_module_reads_a_setting_that_settings_py_does_not_declare():
    declared = _declared_settings()
    undeclared = []
    for path in _project_sources():
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            # getattr(settings, "X", default) hides a typo behind its default.
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "settings"
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value not in declared
            ):
                undeclared.append(f"{where}:{node.lineno} {node.func.id}(settings, {node.args[1].value!r})")
            # Tests may read back what they set themselves; the site reads only what is declared.
            if (
                where.parts[0] != "tests"
                and isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
                and node.value.id == "settings"
                and node.attr.isupper()
                and node.attr not in declared
            ):
                undeclared.append(f"{where}:{node.lineno} settings.{node.attr}")
    assert undeclared == []


# --- leases follow the task time limit ---------------------------------------------------


def test_a_claim_outlasts_the_longest_a_task_may_run():
    timeout = settings.Q_CLUSTER["timeout"]
    # django-q2 hands an unacknowledged task to another worker only after `retry`.
    assert timeout < settings.Q_CLUSTER["retry"]
    assert queue.task_lease() > timedelta(seconds=timeout)
    # Copying results stops on its own well before django-q2 kills the worker.
    assert timeout > media.COPY_SECONDS


def test_the_lease_is_derived_from_the_queue_timeout(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 600, "retry": 700}
    assert queue.task_lease() > timedelta(seconds=600)
