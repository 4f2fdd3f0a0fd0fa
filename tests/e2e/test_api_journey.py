"""A person makes an API key on the account page, a program uses it, and the generation it
made shows up in the person's gallery."""

from __future__ import annotations

import re

import pytest
import requests
from django.urls import reverse
from playwright.sync_api import expect

from billing import ledger
from tests.api.conftest import subscriptions  # noqa: F401 (the outbound-webhooks seam)

pytestmark = pytest.mark.e2e


@pytest.mark.journey("09-api-key")
def test_it_creates_a_key_calls_the_api_and_sees_the_generation(
    page,
    people,
    prices,
    live_server,
    subscriptions,  # noqa: F811
    screenshot,
):
    person = people.make_person("alice@example.org", welcome=False)
    ledger.grant(person, 200, key="e2e:api")
    people.log_in(page, "alice@example.org")

    page.goto(reverse("accounts:profile"))
    page.get_by_role("link", name="Create an API key").click()
    page.fill("[name=name]", "render script")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-api-key").inner_text().strip()
    assert re.fullmatch(r"ks_live_[A-Za-z0-9]{8}\.[A-Za-z0-9]{40}", key)
    screenshot(page, "new-key")

    response = requests.post(
        live_server.url + reverse("api:generations"),
        json={"kind": "text2image", "prompt": "A lighthouse at dusk, made over the API", "n": 1},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-1"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    generation_id = response.json()["id"]

    page.goto(reverse("generations:gallery"))
    expect(page.get_by_text("A lighthouse at dusk, made over the API")).to_be_visible()
    page.goto(reverse("accounts:api_keys"))
    expect(page.locator("#api-key-table")).to_contain_text("render script")
    expect(page.locator("#api-key-table")).not_to_contain_text("Never")  # last used is recorded
    screenshot(page, "keys-after-use")
    assert subscriptions == [(generation_id, None)]
