"""Shared fixtures: the personas alice and bob (regular people) and staff."""

import pytest
from django.core.cache import cache

pytest_plugins = ["tests.fixtures.simulator"]


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


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
