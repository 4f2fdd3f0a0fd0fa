"""Fixtures for the billing tests (the personas come from tests/conftest.py)."""

import pytest

from billing import ledger


@pytest.fixture
def alice_with_100(alice):
    ledger.grant(alice, 100, key="test:alice:100", memo="Test credits")
    return alice
