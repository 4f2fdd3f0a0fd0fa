"""Shared fixtures: the personas alice and bob (regular people) and staff."""

import pytest
from django.core.cache import cache
from django.utils import translation

pytest_plugins = ["tests.fixtures.simulator"]
PLAIN_STATIC_FILES = "django.contrib.staticfiles.storage.StaticFilesStorage"


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # What tests need switched off, whatever DJANGO_DEBUG the run has: allauth's rate limits
    # (tests sign in over and over), the hashed static files (nothing ran collectstatic) and
    # the simulator's callback thread (tests deliver callbacks when they choose).
    settings.ACCOUNT_RATE_LIMITS = False
    if settings.STORAGES["staticfiles"]["BACKEND"] != PLAIN_STATIC_FILES:
        settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC_FILES}}
    settings.SIMULATOR_CALLBACK_THREAD = False
    cache.clear()
    # Each request activates its own language and leaves it active in the thread after the
    # answer; a test that follows one on the same process starts from the default again.
    translation.activate(settings.LANGUAGE_CODE)


def _make_user(django_user_model, email: str, **extra):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(email=email, password="password-for-tests", **extra)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def alice(db, django_user_model):
    return _make_user(django_user_model, "alice@example.org")


@pytest.fixture
def bob(db, django_user_model):
    return _make_user(django_user_model, "bob@example.org")


@pytest.fixture
def staff(db, django_user_model):
    return _make_user(django_user_model, "staff@example.org", is_staff=True, is_superuser=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


# --- Ledger invariants and the postgres marker -----------------------------------------
# After every test that used the database: each balance equals the sum of its entries (and
# its newest entry's balance_after), and no balance is below zero without a clawback.

_DB_FIXTURES = {
    "db",
    "transactional_db",
    "live_server",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


@pytest.fixture(autouse=True)
def _ledger_invariant(request):
    uses_db = request.node.get_closest_marker("django_db") is not None or not _DB_FIXTURES.isdisjoint(
        request.fixturenames
    )
    if not uses_db:
        yield
        return
    # Set the database up before this fixture so it is torn down (rolled back or flushed)
    # after the check below, for TestCase-style and transactional tests alike.
    request.getfixturevalue("db")
    yield
    from django.db import connection

    from billing.ledger import find_drifts, negative_balances_without_clawback

    if connection.in_atomic_block and connection.needs_rollback:
        return  # the test broke its own transaction on purpose; nothing can be read
    assert find_drifts() == [], "ledger drift: a balance differs from the sum of its entries"
    assert negative_balances_without_clawback() == [], "a balance is below zero without a clawback"


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
