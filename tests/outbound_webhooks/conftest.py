"""Webhook fixtures: the generation fixtures (fake Kling, inline tasks, the fake CDN that
also receives our POSTs), alice's API key, and DNS answered without the network."""

from __future__ import annotations

import pytest

from tests.api.conftest import alice_key, api  # noqa: F401 (fixtures)
from tests.generations.conftest import (  # noqa: F401 (fixtures)
    _default_prices,
    cdn,
    commit,
    fake,
    mp4_bytes,
    png_bytes,
    rich_alice,
    slots,
    sync_tasks,
)
from tests.outbound_webhooks.resolver import fake_public_dns


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    fake_public_dns(monkeypatch)
