import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-deploy-check-1234567890",
    "ALLOWED_HOSTS": "studio.example.com",
    "SITE_URL": "https://studio.example.com",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KLING_SITE_TESTING")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_production_without_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_production_without_allowed_hosts():
    env = {**PRODUCTION_ENV, "ALLOWED_HOSTS": ""}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_it_passes_check_deploy_in_production():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_healthz_reports_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_a_broken_broker(client, db, monkeypatch):
    import django_q.brokers

    class BrokenBroker:
        def queue_size(self):
            raise ConnectionError("down")

        def ping(self):
            raise ConnectionError("down")

    monkeypatch.setattr(django_q.brokers, "get_broker", lambda *args, **kwargs: BrokenBroker())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


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
