"""Webhook URLs that could make the site talk to its own network are refused, with words."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from outbound_webhooks.subscriptions import check_webhook_url
from tests.outbound_webhooks.resolver import fake_public_dns


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/hook",
        "https://api.localhost/hook",
        "https://127.0.0.1/hook",
        "https://127.1.2.3:8000/hook",
        "https://10.0.0.8/hook",
        "https://172.16.4.1/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://metadata.internal/hook",
    ],
)
def test_it_refuses_private_and_local_hosts(url):
    with pytest.raises(ValidationError) as caught:
        check_webhook_url(url)
    assert caught.value.code == "private"
    assert "private network" in caught.value.messages[0]


def test_it_refuses_a_name_that_resolves_to_a_private_address(monkeypatch):
    fake_public_dns(monkeypatch, {"sneaky.example.net": ["93.184.215.14", "10.1.2.3"]})
    with pytest.raises(ValidationError) as caught:
        check_webhook_url("https://sneaky.example.net/hook")
    assert caught.value.code == "private"


def test_it_refuses_a_name_that_does_not_resolve(monkeypatch):
    import socket

    def fail(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ValidationError) as caught:
        check_webhook_url("https://nowhere.invalid/hook")
    assert caught.value.code == "unresolvable"
    assert "nowhere.invalid" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hook", "invalid"),
        ("example.com/hook", "invalid"),
        ("https://", "invalid"),
        ("https://example.com:99999/hook", "invalid"),
        ("https://user:pass@example.com/hook", "credentials"),
        ("https://example.com/" + "a" * 500, "too_long"),
    ],
)
def test_it_refuses_malformed_urls(monkeypatch, url, code):
    fake_public_dns(monkeypatch)
    with pytest.raises(ValidationError) as caught:
        check_webhook_url(url)
    assert caught.value.code == code


def test_it_wants_https_in_production(settings, monkeypatch):
    fake_public_dns(monkeypatch)
    settings.DEBUG = False
    with pytest.raises(ValidationError) as caught:
        check_webhook_url("http://hooks.example.com/kling")
    assert caught.value.code == "https_required"
    assert check_webhook_url(" https://hooks.example.com/kling ") == "https://hooks.example.com/kling"


def test_it_accepts_public_v6_and_plain_http_in_demo_mode(settings, monkeypatch):
    settings.DEBUG = True
    fake_public_dns(monkeypatch, {"v6.example.org": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    assert check_webhook_url("https://v6.example.org/hook") == "https://v6.example.org/hook"
    assert check_webhook_url("http://hooks.example.com/kling") == "http://hooks.example.com/kling"


def test_it_lets_demo_mode_reach_this_machine_only_when_asked(settings):
    settings.DEBUG = True
    with pytest.raises(ValidationError):
        check_webhook_url("http://127.0.0.1:9000/hook")
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    assert check_webhook_url("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
    settings.DEBUG = False
    with pytest.raises(ValidationError):
        check_webhook_url("https://127.0.0.1:9000/hook")
