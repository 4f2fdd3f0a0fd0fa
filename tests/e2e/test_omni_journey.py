"""Browser journey: an omni video told as a multi-shot storyboard, with a reference picture
whose token is put into a shot's prompt by clicking its thumbnail."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def generating(workers, simulator, prices):
    return workers


@pytest.mark.journey("20-omni-storyboard")
def test_it_makes_a_multi_shot_storyboard_with_a_clicked_reference_token(
    page, people, generating, screenshot
):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/omni-video/")
    expect(page.locator("select[name=model_name]")).to_have_value("kling-v3-omni")
    page.set_input_files(
        "#id_image_list", files=[{"name": "balcony.png", "mimeType": "image/png", "buffer": _png()}]
    )
    expect(page.locator("#reference-thumbs .thumb-token")).to_have_count(1)
    page.check("#id_multi_shot")

    shots = page.locator("#storyboard-shots li")
    expect(shots).to_have_count(2)  # the editor starts with two shots of 2 and 3 s
    shots.nth(0).locator(".shot-prompt").fill("Wide shot of the city at dusk")
    second = shots.nth(1).locator(".shot-prompt")
    second.fill("The camera pushes toward ")
    second.press("End")
    page.locator("#reference-thumbs .thumb-token").first.click()
    expect(second).to_have_value("The camera pushes toward <<<image_1>>>")
    expect(page.locator("#storyboard-total")).to_have_text("5")
    screenshot(page, "storyboard")

    # A storyboard that does not add up is refused before any charge, and kept.
    shots.nth(1).locator(".shot-duration").fill("4")
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    expect(page.locator("#id_multi_prompt_error")).to_contain_text("they must add up to the clip's 5 s")
    assert ledger.balance_of(alice) == 1000 and not Generation.objects.exists()
    expect(page.locator("#storyboard-shots li")).to_have_count(2)

    page.set_input_files(
        "#id_image_list", files=[{"name": "balcony.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.locator("#storyboard-shots li").nth(1).locator(".shot-duration").fill("3")
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.kind == Kind.OMNI_VIDEO and generation.params["multi_shot"] is True
    assert [s["prompt"] for s in generation.params["multi_prompt"]] == [
        "Wide shot of the city at dusk",
        "The camera pushes toward <<<image_1>>>",
    ]
    expect(page.locator("#storyboard-shots")).to_contain_text("Wide shot of the city at dusk")
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - generation.cost
