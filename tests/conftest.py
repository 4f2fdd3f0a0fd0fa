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


# --- Rows the migrations made ------------------------------------------------------------
# Data migrations seed the catalogue (prices, credit packs, effect scenes), and a
# transactional test flushes every table when it ends. Run alone, pytest-django puts the
# transactional tests last; spread over processes (`TEST_WORKERS`), whole files move
# together and a file's ordinary tests can follow another file's transactional one. So after
# a flush, before a test that is not transactional, the migrated rows are put back as a fresh
# database has them (the transactional tests keep what they had: they may follow a flush).
# Tables that post_migrate fills again after a flush (content types, schedules) are left alone.
_migrated: dict[str, dict[str, str]] = {}


def _database_use(item) -> str | None:
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    if {"transactional_db", "live_server"} & names or (marker and marker.kwargs.get("transaction")):
        return "transactional"
    if marker or "db" in names:
        return "db"
    return None


@pytest.fixture(autouse=True)
def _rows_made_by_migrations(request, django_db_blocker):
    """Keep the migrated rows, at the first test that opens the database (none has written yet)."""
    if "tables" in _migrated or _database_use(request.node) is None:
        return
    from django.apps import apps
    from django.core import serializers

    request.getfixturevalue("django_db_setup")
    with django_db_blocker.unblock():
        _migrated["tables"] = {
            model._meta.label: serializers.serialize("json", model._base_manager.order_by("pk"))
            for model in apps.get_models()
            if model._meta.managed and not model._meta.proxy and model._base_manager.exists()
        }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the transactional test's flush happens in here
    if (
        "tables" in _migrated
        and nextitem is not None
        and _database_use(item) == "transactional"
        and _database_use(nextitem) != "transactional"
    ):
        from django.apps import apps
        from django.core import serializers
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            for label, rows in _migrated["tables"].items():
                if not apps.get_model(label)._base_manager.exists():
                    for row in serializers.deserialize("json", rows):
                        row.save()


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
