"""Browser journeys (Chromium) of two video kinds: a motion control video
from an uploaded character picture and an uploaded motion video, priced from the length the
browser measured; and an extension of a finished video, opened from that video's page, whose
page then shows the chain."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind
from tests.e2e.test_journeys import create_from_page, signed_in_with_credits
from tests.media_files import picture_png, video_bytes

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


@pytest.mark.journey("23-motion-control")
def test_it_makes_a_motion_control_video_from_an_uploaded_picture_and_video(
    page, people, generating, screenshot
):
    alice = signed_in_with_credits(page, people)
    page.goto("/generate/motion-control/")
    page.set_input_files(
        "#id_image_url",
        files=[
            {"name": "hero.png", "mimeType": "image/png", "buffer": picture_png(640, 800, (90, 140, 200))}
        ],
    )
    page.set_input_files(
        "#id_video_url",
        files=[{"name": "dance.mp4", "mimeType": "video/mp4", "buffer": video_bytes(4, 640, 480, 24)}],
    )
    page.fill("#id_prompt", "The hero dances on a rooftop")
    # Billed by the second: the total follows the 4 s the browser measured.
    expect(page.locator("#price-credits")).to_be_visible()
    price = int(page.locator("#price-credits").inner_text())
    screenshot(page, "priced")
    page.get_by_role("button", name=f"Create for {price} credits").click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.kind == Kind.MOTION_CONTROL and generation.cost == price
    assert price % 4 == 0  # credits a second x 4 s
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - price


@pytest.mark.journey("24-extend")
def test_it_extends_a_finished_video_from_its_page_and_shows_the_chain(page, people, generating, screenshot):
    alice = signed_in_with_credits(page, people)
    source_id = create_from_page(
        page, "text-to-video", "A red fox trotting through snow", model_name="kling-v1-6", duration="5"
    )
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)

    page.reload()  # the finished page's actions (the live part shows the video only)
    page.locator("#extend").click()
    page.wait_for_url(re.compile(r"/generate/extend-video/\?video_id="))
    expect(page.locator("#extend-source")).to_contain_text(f"#{source_id}")
    page.fill("#id_prompt", "The fox stops and looks back")
    screenshot(page, "extend")
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    extension = Generation.objects.exclude(pk=source_id).get(owner=alice)
    assert extension.kind == Kind.VIDEO_EXTEND and extension.parent_id == source_id
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    page.reload()
    expect(page.locator("#chain")).to_contain_text(f"#{source_id}")
    screenshot(page, "chain")

    page.goto(f"/generations/{source_id}/")
    expect(page.locator("#chain")).to_contain_text(f"extension #{extension.pk}")
    source = Generation.objects.get(pk=source_id)
    assert ledger.balance_of(alice) == 1000 - source.cost - extension.cost
