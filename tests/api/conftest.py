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
    """Records subscribe(generation, url) calls of the outbound-webhooks app; names under
    example.com resolve to a public address without asking DNS."""
    from outbound_webhooks import subscriptions as module
    from tests.outbound_webhooks.resolver import fake_public_dns

    fake_public_dns(monkeypatch)
    calls = []
    monkeypatch.setattr(module, "subscribe", lambda generation, url: calls.append((generation.pk, url)))
    return calls


@pytest.fixture
def rich_alice(alice):
    ledger.grant(alice, 1000, key="test:grant:alice")
    return alice
