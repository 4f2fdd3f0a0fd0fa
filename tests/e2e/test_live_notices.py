"""The site-wide pulse in a real browser: on any page, the credit badge follows a refund made
in the background, and a toast with a link says that a generation finished elsewhere."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import ledger
from generations import pulse, services
from generations.models import Generation, Status

pytestmark = pytest.mark.e2e

WAIT = (pulse.BUSY_SECONDS * 2 + 2) * 1000  # ms: two rounds of the busy pulse


def live(owner, prompt: str, cost: int = 0) -> Generation:
    generation = Generation.objects.create(
        owner=owner, kind="text2video", provider="fake", model_name="kling-v2-6", mode="pro",
        prompt=prompt, params={"duration": "5"}, cost=cost, status=Status.PROCESSING,
    )  # fmt: skip
    if cost:
        ledger.charge(owner, cost, key=f"gen:{generation.pk}:charge", generation=generation)
    return generation


@pytest.mark.journey("live-notices")
def test_the_badge_and_a_toast_follow_work_that_ends_on_another_page(page, people, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    failing = live(alice, "A quiet harbour at night", cost=40)
    people.log_in(page, "alice@example.org")

    page.goto("/account/")
    badge = page.locator("#balance-badge")
    expect(badge).to_have_text("960")
    page.wait_for_timeout(pulse.BUSY_SECONDS * 1000 + 500)  # the browser has asked once
    page.evaluate("window.__stillTheSamePage = true")

    # The worker fails it and refunds it while Alice reads her account page.
    services.fail(failing.pk, code="provider_failed", message="Kling could not make it.")
    toast = page.locator(f"#toast-gen-{failing.pk}")
    expect(toast).to_be_visible(timeout=WAIT)
    expect(toast).to_contain_text("Your text to video could not be made")
    expect(toast).to_contain_text("Your 40 credits were refunded.")
    expect(badge).to_have_text("1,000")
    expect(page.locator("#toasts")).to_have_attribute("aria-live", "polite")
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"
    screenshot(page, "refund-toast")

    # Dismissed from the keyboard: Escape on its button, and the focus goes back to the page.
    toast.get_by_role("button", name="Dismiss").focus()
    page.keyboard.press("Escape")
    expect(toast).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "main"

    # A success told on another page, with a link to it.
    ready = live(alice, "A lighthouse on a cliff at dusk")
    page.goto("/credits/")
    now = timezone.now()
    Generation.objects.filter(pk=ready.pk).update(
        status=Status.SUCCEEDED, finished_at=now, assets_saved_at=now
    )
    toast = page.locator(f"#toast-gen-{ready.pk}")
    expect(toast).to_contain_text("Your text to video is ready", timeout=WAIT)
    screenshot(page, "ready-toast")
    toast.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/generations/{ready.pk}/$"))
    # Told once: the next page has no toast about it.
    page.wait_for_timeout(pulse.BUSY_SECONDS * 1000 + 500)
    expect(page.locator("[data-toast]")).to_have_count(0)


def test_the_first_tab_stop_skips_to_the_content(page, people):
    people.make_person("alice@example.org")
    people.log_in(page, "alice@example.org")
    for path in ("/", "/credits/", "/accounts/password/change/"):
        page.goto(path)
        page.keyboard.press("Tab")
        skip = page.locator(":focus")
        expect(skip).to_have_text("Skip to content")
        box = skip.bounding_box()
        assert box and box["y"] >= 0 and box["width"] > 0, "the skip link is not on screen when focused"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert page.evaluate("window.scrollY") >= 0


def test_the_skip_link_speaks_chinese(new_context):
    page = new_context(extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"}).new_page()
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("跳到主要内容")
