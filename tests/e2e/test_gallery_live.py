"""The gallery in a real browser: one poller follows every live card, swaps in finished
media without a reload, and stops asking once nothing is live."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from generations.models import Asset, Generation, Status

pytestmark = pytest.mark.e2e

POLL_SECONDS = 3  # the poller's `every 3s`


def live(owner, prompt: str) -> Generation:
    return Generation.objects.create(
        owner=owner, kind="text2video", provider="fake", model_name="kling-v2-6", mode="pro",
        prompt=prompt, params={"duration": "5"}, cost=0, status=Status.PROCESSING,
    )  # fmt: skip


def finish(generation: Generation, media_root: Path) -> None:
    name = f"results/live-{generation.pk}-thumb.jpg"
    (media_root / "results").mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 80, 40)).save(buffer, "JPEG")
    (media_root / name).write_bytes(buffer.getvalue())
    Asset.objects.create(
        generation=generation, kind="video", index=0, file=f"results/live-{generation.pk}.mp4",
        thumbnail=name, content_type="video/mp4", width=64, height=36,
    )  # fmt: skip
    now = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, finished_at=now, assets_saved_at=now
    )


@pytest.mark.journey("gallery-live")
def test_one_poller_follows_every_live_card_and_stops(new_context, people, e2e_media_root, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    cards = [live(alice, f"Live clip {i}") for i in range(5)]
    page = new_context().new_page()
    people.log_in(page, "alice@example.org")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/status/" in r.url or "/live/" in r.url else None)

    page.goto(reverse("generations:gallery"))
    page.evaluate("window.__stillTheSamePage = true")
    expect(page.locator(".gallery-item .progress-bar")).to_have_count(5)
    expect(page.locator("[hx-trigger]:not(#pulse)")).to_have_count(1)

    page.wait_for_timeout(POLL_SECONDS * 2 * 1000 + 500)
    # One request a round for five live cards (five a round with a poller per card).
    assert 1 <= len(polls) <= 3, polls
    assert all(reverse("generations:live_cards") in url for url in polls)

    first = cards[0]
    finish(first, e2e_media_root)
    card = page.locator(f"#gen-card-{first.pk}")
    expect(card.locator(".chip-succeeded")).to_be_visible(timeout=POLL_SECONDS * 3 * 1000)
    thumbnail = card.locator("img")
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    expect(card.locator(".progress-bar")).to_have_count(0)
    expect(page.locator(".gallery-item .progress-bar")).to_have_count(4)
    screenshot(page, "one-finished")

    for generation in cards[1:]:
        Generation.objects.filter(pk=generation.pk).update(status=Status.FAILED, finished_at=timezone.now())
    expect(page.locator(".gallery-item .chip-failed")).to_have_count(4, timeout=POLL_SECONDS * 3 * 1000)
    expect(page.locator("[hx-trigger]:not(#pulse)")).to_have_count(0)
    asked = len(polls)
    time.sleep(POLL_SECONDS * 2 + 0.5)
    assert len(polls) == asked, "the gallery kept polling with nothing live"
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"
