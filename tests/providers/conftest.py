import pytest
import responses

from generations.providers.kling import KlingClient, clear_token_cache

BASE = "https://api-singapore.klingai.com"
ACCESS_KEY = "ak-test"
SECRET_KEY = "sk-test-secret-long-enough-for-hs256-keys"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def kling():
    """The official client with JWT auth and no rate limiter (contract tests need no database)."""
    return KlingClient(BASE, access_key=ACCESS_KEY, secret_key=SECRET_KEY, connect_timeout=3, read_timeout=7)
