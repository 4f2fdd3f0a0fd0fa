"""Omni video on the wire: a reference or base video goes as `video_list` with the signed
URL of the stored video inside it (Kling's exact field names and types); a base video
sends no duration or aspect ratio."""

import json

import pytest
from django.core.files.base import ContentFile

from generations import follow
from generations.models import Generation, InputFile, Kind
from generations.providers.base import ProviderError
from generations.providers.kling import omni_video_list
from tests.media_files import video_bytes
from tests.providers import examples
from tests.providers.conftest import BASE
from tests.simulator.pipeline import png


def _omni(alice, params: dict) -> Generation:
    generation = Generation.objects.create(
        owner=alice,
        kind=Kind.OMNI_VIDEO,
        provider="kling",
        model_name="kling-video-o1",
        cost=45,
        product="videos/omni-video",
        params=params,
    )
    given = InputFile(generation=generation, field="video_url", index=0, content_type="video/mp4")
    given.file.save("ref.mp4", ContentFile(video_bytes(seconds=4)), save=False)
    given.save()
    picture = InputFile(generation=generation, field="image_list", index=0, content_type="image/png")
    picture.file.save("p.png", ContentFile(png()), save=False)
    picture.save()
    return generation


@pytest.mark.django_db
def test_it_sends_a_reference_video_in_video_list(kling, mocked, alice, settings):
    params = {
        "model_name": "kling-video-o1",
        "prompt": "<<<image_1>>> dances like <<<video_1>>>",
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "16:9",
        "video_list": [{"refer_type": "feature", "keep_original_sound": "no"}],
    }
    mocked.post(f"{BASE}/v1/videos/omni-video", json=examples.CREATE_OK)
    kling.submit(follow.build_request(_omni(alice, params)))
    body = json.loads(mocked.calls[0].request.body)
    assert set(body) == {
        "model_name",
        "prompt",
        "mode",
        "duration",
        "aspect_ratio",
        "image_list",
        "video_list",
        "external_task_id",
        "callback_url",
    }
    assert body["duration"] == "5" and body["aspect_ratio"] == "16:9"
    [video] = body["video_list"]
    assert set(video) == {"video_url", "refer_type", "keep_original_sound"}
    assert video["video_url"].startswith(f"{settings.SITE_URL}/inputs/")
    assert (video["refer_type"], video["keep_original_sound"]) == ("feature", "no")
    assert set(body["image_list"][0]) == {"image_url"}


@pytest.mark.django_db
def test_a_base_video_goes_without_duration_or_aspect_ratio(kling, mocked, alice):
    params = {
        "model_name": "kling-video-o1",
        "prompt": "Make it snow in <<<video_1>>>",
        "mode": "pro",
        "video_list": [{"refer_type": "base", "keep_original_sound": "yes"}],
    }
    mocked.post(f"{BASE}/v1/videos/omni-video", json=examples.CREATE_OK)
    kling.submit(follow.build_request(_omni(alice, params)))
    body = json.loads(mocked.calls[0].request.body)
    assert "duration" not in body and "aspect_ratio" not in body and "video_url" not in body
    assert body["video_list"][0]["refer_type"] == "base"
    assert body["video_list"][0]["keep_original_sound"] == "yes"


def test_omni_video_list_takes_one_video_with_its_url():
    assert omni_video_list({"video_url": "https://x.test/v.mp4"}) == [
        {"video_url": "https://x.test/v.mp4", "refer_type": "feature", "keep_original_sound": "yes"}
    ]
    with pytest.raises(ProviderError):
        omni_video_list({"video_list": [{"refer_type": "base"}]})
    with pytest.raises(ProviderError):
        omni_video_list({"video_list": [{"video_url": "a"}, {"video_url": "b"}]})
