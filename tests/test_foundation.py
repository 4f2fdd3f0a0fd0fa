import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.core import mail
from redis.backoff import NoBackoff
from redis.retry import Retry

from generations import queue

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-deploy-check-1234567890",
    "ALLOWED_HOSTS": "studio.example.com",
    "SITE_URL": "https://studio.example.com",
    "KLING_PROVIDER": "kling",
    "KLING_ACCESS_KEY": "production-access-key",
    "KLING_SECRET_KEY": "production-secret-key-for-the-deploy-check",
    "EMAIL_HOST": "smtp.example.com",
}


def _manage(*args: str, env: dict[str, str | None]) -> subprocess.CompletedProcess:
    """Run manage.py with `env` on top of ours; a None value leaves the variable unset."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    merged = {k: v for k, v in {**clean, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=merged,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_it_refuses_production_without_a_required_variable(variable):
    result = _manage("check", env={**PRODUCTION_ENV, variable: ""})
    assert result.returncode != 0
    # One clear line naming the variable, not a traceback.
    assert result.stderr.strip().splitlines() == [
        f"Configuration error: {variable} is not set: production mode (DJANGO_DEBUG=0) needs "
        + ("a secret key" if variable == "SECRET_KEY" else "the site's host names")
    ]


@pytest.mark.parametrize(
    ("provider", "named"), [(None, "KLING_PROVIDER is not set"), ("simulator", "KLING_PROVIDER=simulator")]
)
def test_it_refuses_production_with_the_simulator(provider, named):
    # A deploy that forgot its Kling keys must not take payments for simulated results.
    result = _manage("check", env={**PRODUCTION_ENV, "KLING_PROVIDER": provider})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Configuration error: {named}: production mode (DJANGO_DEBUG=0) needs kling or gateway"
        " (a staging site may set ALLOW_SIMULATOR_IN_PRODUCTION=1)"
    ]


def test_a_staging_site_may_run_the_simulator_in_production_mode():
    env = {**PRODUCTION_ENV, "KLING_PROVIDER": None, "ALLOW_SIMULATOR_IN_PRODUCTION": "1"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    code = "from django.conf import settings; print(settings.KLING_PROVIDER, settings.DEBUG)"
    assert _manage("shell", "-v", "0", "-c", code, env=env).stdout.split() == ["simulator", "False"]


def test_the_deploy_files_run_in_production_mode_and_make_run_in_demo_mode():
    import re

    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV DJANGO_DEBUG=0 ", dockerfile, re.MULTILINE)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in ("migrate", "web", "worker", "results", "clock"):
        assert compose["services"][service]["environment"]["DJANGO_DEBUG"] == "0"
    commands = [
        line.partition(":")[2].split()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(commands) == 5 and all(command[:2] == ["env", "DJANGO_DEBUG=0"] for command in commands)
    for demo in ("Procfile.dev", "scripts/run_dev.py", "Makefile"):
        assert "DJANGO_DEBUG" not in (ROOT / demo).read_text()
    # The image's collectstatic step loads production settings with its build-only values.
    build = re.search(r"^RUN ((?:\w+=\S+ )+)\\\n\s+python manage.py collectstatic", dockerfile, re.MULTILINE)
    build_env = dict(pair.split("=", 1) for pair in build.group(1).split())
    result = _manage("check", env={"DJANGO_DEBUG": "0", "KLING_PROVIDER": None, **build_env})
    assert result.returncode == 0, result.stdout + result.stderr
    # The deploy guide names what a production deploy must set.
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for name in (
        "DJANGO_DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "DATABASE_URL", "REDIS_URL",
        "KLING_PROVIDER", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET", "EMAIL_HOST",
    ):  # fmt: skip
        assert re.search(rf"^{name}=", guide, re.MULTILINE), name
    assert "ALLOW_SIMULATOR_IN_PRODUCTION=1" in guide


def test_it_names_a_malformed_variable():
    result = _manage("check", env={"WELCOME_CREDITS": "fifty"})
    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: WELCOME_CREDITS must be a whole number, got 'fifty'"


def test_check_deploy_warns_when_verification_emails_would_go_nowhere():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "EMAIL_HOST": None}
    )
    assert result.returncode != 0
    assert "accounts.W001" in result.stderr + result.stdout
    assert "Set EMAIL_HOST" in result.stderr + result.stdout


def test_it_passes_check_deploy_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_healthz_reports_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_a_broken_broker(client, db, monkeypatch):
    class BrokenBroker:
        def queue_size(self):
            raise ConnectionError("down")

        def ping(self):
            raise ConnectionError("down")

    monkeypatch.setattr(queue, "_brokers", {})
    monkeypatch.setattr(queue, "get_broker", lambda *args, **kwargs: BrokenBroker())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


def _redis_server(port: int, directory: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    for _ in range(100):
        try:
            probe.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError("redis-server did not start")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_healthz_keeps_one_redis_connection_and_sees_redis_go_down_and_come_back(
    client, db, monkeypatch, tmp_path
):
    from django_q.brokers import redis_broker

    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]

    class OwnRedis(redis_broker.Redis):
        @staticmethod
        def get_connection(list_key=None):
            # A short retry, so that "down" is told quickly here (the site keeps redis-py's).
            return redis.Redis(port=port, retry=Retry(NoBackoff(), 1), socket_timeout=2)

    made = []
    monkeypatch.setattr(queue, "_brokers", {})
    monkeypatch.setattr(queue, "get_broker", lambda cluster=None: made.append(cluster) or OwnRedis())
    server = _redis_server(port, tmp_path)
    try:
        for _ in range(3):
            assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "broker": "ok"}
        assert made == [None]
        # The server sees one client: the checks reused it (this question goes over it too).
        assert len(queue.broker().connection.client_list()) == 1
        _stop(server)
        for _ in range(2):
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "database": "ok", "broker": "down"}
        server = _redis_server(port, tmp_path)
        assert client.get("/healthz").status_code == 200
        assert made == [None]
    finally:
        _stop(server)


def test_home_page_says_what_the_site_does(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Text to video" in response.content


def test_unknown_url_gets_the_styled_404(client, db, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"couldn't find that page" in response.content


def test_it_signs_up_verifies_and_logs_in(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(
        "/accounts/signup/",
        {
            "email": "carol@example.org",
            "password1": "a-very-good-passphrase",
            "password2": "a-very-good-passphrase",
        },
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/accounts/confirm-email/" in line
    ).strip()
    path = link[link.index("/accounts/confirm-email/") :]
    response = client.post(path)
    assert response.status_code == 302
    from allauth.account.models import EmailAddress

    assert EmailAddress.objects.get(email="carol@example.org").verified
    client.logout()
    response = client.post(
        "/accounts/login/", {"login": "carol@example.org", "password": "a-very-good-passphrase"}
    )
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "field", "message"),
    [
        ("alice@example.org", "a-very-good-passphrase", "email", "already registered"),
        ("dave@example.org", "password", "password1", "too common"),
        ("not-an-email", "a-very-good-passphrase", "email", "valid email"),
    ],
)
def test_it_shows_signup_errors_next_to_the_field(client, alice, email, password, field, message):
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": password, "password2": password}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert f'id="field-{field}"'.encode() in response.content


def test_it_logs_out(alice_client):
    response = alice_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert alice_client.get("/account/").status_code == 302


def test_it_resets_a_password(client, alice):
    response = client.post("/accounts/password/reset/", {"email": "alice@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/key/" in line
    ).strip()
    path = link[link.index("/accounts/password/reset/key/") :]
    response = client.get(path, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else path
    response = client.post(
        form_url, {"password1": "another-fine-passphrase", "password2": "another-fine-passphrase"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-fine-passphrase")


def test_profile_page_saves(alice_client, alice):
    response = alice_client.post("/account/", {"display_name": "Alice A.", "notify_on_finish": ""})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == "Alice A."
    assert alice.notify_on_finish is False


def test_seed_demo_is_idempotent(db):
    from django.core.management import call_command

    from accounts.models import User

    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.filter(email="admin@example.com", is_staff=True).count() == 1


def test_makemigrations_is_clean():
    result = _manage("makemigrations", "--check", "--dry-run", env={})
    assert result.returncode == 0, result.stdout + result.stderr


def _settings_variables() -> set[str]:
    import ast

    tree = ast.parse((ROOT / "kling_site" / "settings.py").read_text())
    readers = {"envstr", "envbool", "envint", "envfloat", "envlist", "envrate", "getenv"}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in readers:
                names.add(node.args[0].value)
    return names


def test_it_documents_every_environment_variable():
    names = _settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "KLING_PROVIDER", "STRIPE_SECRET_KEY"} <= names
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert [n for n in sorted(names) if f"| `{n}` |" not in readme] == []
    assert [n for n in sorted(names) if f"# {n}=" not in example] == []


def test_the_500_page_needs_no_database_and_no_context_processors(rf):
    from kling_site.views import server_error

    # No `db` fixture: any query here would fail the test.
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"/static/css/site.css" in response.content


def test_the_demo_banner_shows_only_in_demo_mode(client, db, settings):
    assert b'class="demo-banner"' in client.get("/").content
    settings.DEMO_MODE = False
    assert b'class="demo-banner"' not in client.get("/").content


def test_make_run_stops_every_process_on_ctrl_c(tmp_path):
    import signal
    import time

    # Each process leaves a child in its group, as qcluster does with its workers.
    child = f'{sys.executable} -c \'import subprocess, sys, time; subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]); time.sleep(60)\''
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"one: {child}\ntwo: {child}\n")
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_dev.py"), str(procfile)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    started = ""
    while started.count("started") < 2 and time.monotonic() < deadline:
        started += runner.stderr.readline()
    pids = [int(line.split("pid ")[1].split(")")[0]) for line in started.splitlines() if "started" in line]
    time.sleep(0.5)

    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=30) == 0
    # Nothing is left alive in either process group (zombies wait for init, which is fine).
    deadline = time.monotonic() + 5
    while _live_members(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_members(pids) == []


def _live_members(groups: list[int]) -> list[int]:
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgid = fields[0], int(fields[2])
        if pgid in groups and state != "Z":
            live.append(int(stat.parent.name))
    return live


def test_it_collects_static_files_for_production(tmp_path):
    """Production serves hashed, compressed static files through whitenoise's manifest."""
    env = {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path / "static")}
    result = _manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed_css = manifest["paths"]["css/site.css"]
    assert hashed_css != "css/site.css"
    assert (tmp_path / "static" / hashed_css).exists()
    assert (tmp_path / "static" / (hashed_css + ".gz")).exists()
    # htmx is served from our own static files, never a CDN.
    assert any(path == "django_htmx/htmx-2.min.js" for path in manifest["paths"])
