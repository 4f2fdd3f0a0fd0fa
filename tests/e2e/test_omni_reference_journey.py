"""Browser journey: an omni video after an uploaded reference video, whose <<<video_1>>>
token is put into the prompt by clicking the video's thumbnail; the price follows the
with-video rate once the browser has measured the file."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation
from tests.media_files import video_bytes

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


@pytest.fixture
def generating(workers, simulator, prices):
    return workers


@pytest.mark.journey("22-omni-reference-video")
def test_it_makes_an_omni_video_after_a_clicked_reference_video(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/omni-video/")
    page.select_option("select[name=model_name]", "kling-video-o1")
    expect(page.locator("#price-credits")).to_have_text("30")  # std 5 s without a video
    page.fill("#id_prompt", "A fox dances like the girl in ")
    page.set_input_files(
        "#id_video_url",
        files=[{"name": "dance.mp4", "mimeType": "video/mp4", "buffer": video_bytes(4, 1280, 720, 24)}],
    )
    expect(page.locator("#price-credits")).to_have_text("45")  # 0.9 units a second with a video
    # Parts the page hides until they are wanted stay hidden (no pictures, no storyboard).
    expect(page.locator("#reference-tokens")).to_be_hidden()
    expect(page.locator("#storyboard-shots")).to_be_hidden()
    page.locator("#id_prompt").press("End")
    page.locator("#video-thumbs .thumb-token").click()
    expect(page.locator("#id_prompt")).to_have_value("A fox dances like the girl in <<<video_1>>>")
    screenshot(page, "reference-video")

    page.get_by_role("button", name="Create for 45 credits").click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.cost == 45 and generation.params["video_list"][0]["refer_type"] == "feature"
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    expect(page.locator("#given-inputs")).to_contain_text("video_1: the reference video")
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - 45
