"""Browser journey: an omni video told as a multi-shot storyboard, with a reference picture
whose token is put into a shot's prompt by clicking its thumbnail."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind
from tests.e2e.test_journeys import signed_in_with_credits
from tests.media_files import picture_png

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


def _on_the_omni_page(page, people):
    """Alice, with 1000 credits, signed in on the omni video page (Kling 3.0 Omni chosen)."""
    alice = signed_in_with_credits(page, people)
    page.goto("/generate/omni-video/")
    expect(page.locator("select[name=model_name]")).to_have_value("kling-v3-omni")
    return alice


@pytest.mark.journey("20-omni-storyboard")
def test_it_makes_a_multi_shot_storyboard_with_a_clicked_reference_token(
    page, people, generating, screenshot
):
    alice = _on_the_omni_page(page, people)
    page.set_input_files(
        "#id_image_list", files=[{"name": "balcony.png", "mimeType": "image/png", "buffer": picture_png()}]
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
        "#id_image_list", files=[{"name": "balcony.png", "mimeType": "image/png", "buffer": picture_png()}]
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


@pytest.mark.journey("20-omni-model-options")
def test_switching_to_a_model_without_storyboards_hides_the_storyboard_and_sends_none(
    page, people, generating, screenshot
):
    alice = _on_the_omni_page(page, people)
    model = page.locator("select[name=model_name]")
    box = page.locator("#id_multi_shot")
    expect(box).to_be_visible()
    box.check()
    expect(page.locator("#storyboard-shots li")).to_have_count(2)

    # Kling O1 makes no multi-shot videos: the tick box and the storyboard go, unticked.
    model.select_option("kling-video-o1")
    expect(page.locator("#field-multi_shot")).to_be_hidden()
    expect(page.locator("#storyboard")).to_be_hidden()
    expect(box).not_to_be_checked()
    expect(box).to_be_disabled()
    expect(page.locator("#gen-options")).to_contain_text("Storyboards (several shots): Kling 3.0 Omni.")
    screenshot(page, "o1-no-storyboard")

    # Back on Kling 3.0 Omni they return.
    page.locator("select[name=model_name]").select_option("kling-v3-omni")
    expect(box).to_be_visible()
    expect(box).to_be_enabled()
    expect(page.locator("#storyboard")).to_be_visible()

    # Ticked again, then O1 chosen: what is created is a one-shot O1 video.
    box.check()
    page.locator("select[name=model_name]").select_option("kling-video-o1")
    expect(box).to_be_hidden()
    page.fill("#id_prompt", "A kite over a grey sea")
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.model_name == "kling-video-o1"
    assert not generation.params.get("multi_shot") and not generation.params.get("multi_prompt")
