"""API fixtures: alice's key and a DRF client that sends it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import api_keys
from billing import ledger
from tests.generations.conftest import _default_prices, make_image  # noqa: F401 (fixtures)


@pytest.fixture
def alice_key(alice):
    """(PersonalAPIKey row, the full key) for alice."""
    return api_keys.create_key(alice, "render script")


@pytest.fixture
def api(alice_key):
    """An APIClient that authenticates as alice with her key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_key[1]}")
    return client


@pytest.fixture
def anon_api():
    return APIClient()


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture(autouse=True)
def subscriptions(monkeypatch):
    """Records subscribe(generation, url) calls of the outbound-webhooks app."""
    import importlib
    import sys
    import types

    try:
        module = importlib.import_module("outbound_webhooks.subscriptions")
    except ImportError:  # the app is being built alongside; the interface is fixed
        module = types.ModuleType("outbound_webhooks.subscriptions")
        module.check_webhook_url = lambda url: url
        module.subscribe = lambda generation, url: None
        monkeypatch.setitem(sys.modules, "outbound_webhooks", types.ModuleType("outbound_webhooks"))
        monkeypatch.setitem(sys.modules, "outbound_webhooks.subscriptions", module)
    calls = []
    monkeypatch.setattr(module, "subscribe", lambda generation, url: calls.append((generation.pk, url)))
    return calls


@pytest.fixture
def rich_alice(alice):
    ledger.grant(alice, 1000, key="test:grant:alice")
    return alice
