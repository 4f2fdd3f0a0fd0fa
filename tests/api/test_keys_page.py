"""The API keys page: create (shown once), list, revoke; only a hash is kept."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts import api_keys
from accounts.models import PersonalAPIKey

NEW_KEY = re.compile(r'<code id="new-api-key">(ks_live_[^<]+)</code>')


def test_it_creates_a_key_and_shows_it_once(alice, alice_client):
    response = alice_client.post(reverse("accounts:api_keys"), {"name": "render script"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    (full,) = NEW_KEY.findall(response.content.decode())
    assert full.startswith("ks_live_")
    key = PersonalAPIKey.objects.get(user=alice)
    assert key.name == "render script"
    assert full[len("ks_live_") :].split(".")[0] == key.prefix
    # Only a hash is stored: the secret part appears in no column.
    secret = full.split(".", 1)[1]
    assert secret not in key.hashed_key and secret not in key.pk
    assert key.hashed_key.startswith("sha512$$")
    assert api_keys.key_for(full).user == alice
    listing = alice_client.get(reverse("accounts:api_keys")).content.decode()
    assert "render script" in listing and f"ks_live_{key.prefix}" in listing
    assert full not in listing and not NEW_KEY.search(listing)


def test_it_requires_a_name(alice, alice_client):
    response = alice_client.post(reverse("accounts:api_keys"), {"name": "  "})
    assert response.status_code == 200
    assert not PersonalAPIKey.objects.filter(user=alice).exists()
    assert not NEW_KEY.search(response.content.decode())


def test_it_caps_the_keys_per_person(alice, alice_client):
    for i in range(api_keys.MAX_KEYS_PER_USER):
        api_keys.create_key(alice, f"key {i}")
    response = alice_client.post(reverse("accounts:api_keys"), {"name": "one more"})
    assert "the most at once" in response.content.decode()
    assert PersonalAPIKey.objects.filter(user=alice).count() == api_keys.MAX_KEYS_PER_USER


def test_it_revokes_a_key_at_once(alice, alice_client):
    key, full = api_keys.create_key(alice, "old laptop")
    response = alice_client.post(reverse("accounts:api_key_revoke", args=[key.prefix]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked
    assert api_keys.key_for(full) is None
    assert alice_client.get(reverse("accounts:api_keys")).context["keys"] == []


def test_it_answers_404_for_someone_elses_key(alice, bob, client):
    key, full = api_keys.create_key(alice, "mine")
    client.force_login(bob)
    assert client.post(reverse("accounts:api_key_revoke", args=[key.prefix])).status_code == 404
    assert api_keys.key_for(full).user == alice


def test_the_account_page_lists_keys_and_links_the_page(alice, alice_client):
    key, _ = api_keys.create_key(alice, "staging server")
    page = alice_client.get(reverse("accounts:profile")).content.decode()
    assert "staging server" in page and f"ks_live_{key.prefix}" in page
    assert reverse("accounts:api_keys") in page


def test_it_records_when_a_key_was_last_used(alice):
    key, full = api_keys.create_key(alice, "cron")
    assert key.last_used_at is None
    api_keys.key_for(full)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    api_keys.key_for(full)
    key.refresh_from_db()
    assert key.last_used_at == first  # at most one write a minute


def test_it_refuses_keys_that_are_not_ours(alice):
    _, full = api_keys.create_key(alice, "cron")
    assert api_keys.key_for(full[len("ks_live_") :]) is None
    assert api_keys.key_for(full[:-1] + ("A" if full[-1] != "A" else "B")) is None
    assert api_keys.key_for("ks_live_nothing.here") is None
    assert api_keys.key_for("") is None
