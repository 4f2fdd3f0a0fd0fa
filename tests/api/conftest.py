"""API fixtures: alice's key and a DRF client that sends it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import api_keys


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
