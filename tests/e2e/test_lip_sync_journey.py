"""Browser journey: lip-sync one's own finished video. From the video's page, find the
faces (shown as our copies of Kling's thumbnails), pick one, upload a sound and watch the
lip-synced video finish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind
from tests.media_files import audio_bytes

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


@pytest.fixture
def generating(workers, simulator, prices):
    return workers


def _create(page) -> None:
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))


@pytest.mark.journey("21-lip-sync")
def test_it_lip_syncs_a_finished_video_with_a_chosen_face(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    # A finished 5 s video of her own to start from.
    page.goto("/generate/omni-video/")
    page.fill("#id_prompt", "A woman looks into the camera and talks")
    _create(page)
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    source = Generation.objects.get(owner=alice)

    page.reload()  # the finished page's actions (the live part shows the video only)
    page.locator("#lip-sync").click()
    page.wait_for_url(re.compile(r"/generate/lip-sync/\?video_id="))
    page.get_by_role("button", name="Find faces").click()
    faces = page.locator("#faces input[name=face_id]")
    expect(faces).to_have_count(2)  # one face throughout, one in the second half
    thumbnail = page.locator("#faces img").first
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/faces/\d+/0/picture/$"))
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "faces")

    faces.first.check()
    page.set_input_files(
        "#id_sound_file", files=[{"name": "hello.mp3", "mimeType": "audio/mpeg", "buffer": audio_bytes(3)}]
    )
    _create(page)
    generation = Generation.objects.exclude(pk=source.pk).get(owner=alice)
    assert generation.kind == Kind.LIP_SYNC and generation.params["face_choose"][0]["face_id"] == "0"
    expect(page.locator(".media-frame video")).to_be_visible(timeout=GENERATION_TIMEOUT)
    expect(page.locator("#lip-sync-face img")).to_have_attribute(
        "src", re.compile(r"^/faces/\d+/0/picture/$")
    )
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - source.cost - generation.cost
