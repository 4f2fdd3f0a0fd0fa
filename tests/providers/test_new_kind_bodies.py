"""The create bodies of motion control, multi-image to video and video extension, from a
stored generation to the bytes on the wire (Kling's exact field names), and the answers
read back (video ids, parent video)."""

import base64
import json

import pytest
from django.core.files.base import ContentFile

from generations import follow
from generations.models import Generation, InputFile, Kind
from generations.providers.kling import parse_task
from tests.media_files import video_bytes
from tests.providers import examples
from tests.providers.conftest import BASE

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _generation(owner, kind, product, params, files=()):
    generation = Generation.objects.create(
        owner=owner,
        kind=kind,
        provider="kling",
        model_name=params.get("model_name", "kling-v1-6"),
        cost=10,
        product=product,
        params=params,
    )
    for field, index, name, content, content_type in files:
        given = InputFile(generation=generation, field=field, index=index, content_type=content_type)
        given.file.save(name, ContentFile(content), save=False)
        given.save()
    return generation


def _sent(mocked):
    return json.loads(mocked.calls[0].request.body)


@pytest.mark.django_db
def test_it_sends_motion_control_with_klings_field_names(kling, mocked, alice, settings):
    params = {
        "model_name": "kling-v3",
        "prompt": "On a beach",
        "mode": "pro",
        "character_orientation": "video",
        "keep_original_sound": "no",
    }
    generation = _generation(
        alice,
        Kind.MOTION_CONTROL,
        "videos/motion-control",
        params,
        [
            ("image_url", 0, "hero.png", PNG, "image/png"),
            ("video_url", 0, "dance.mp4", video_bytes(), "video/mp4"),
        ],
    )
    mocked.post(f"{BASE}/v1/videos/motion-control", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert set(body) == {
        "model_name",
        "prompt",
        "mode",
        "character_orientation",
        "keep_original_sound",
        "image_url",
        "video_url",
        "external_task_id",
        "callback_url",
    }
    assert {k: body[k] for k in params} == params
    for field in ("image_url", "video_url"):
        assert body[field].startswith(f"{settings.SITE_URL}/inputs/")
    assert body["external_task_id"] == str(generation.external_task_id)


@pytest.mark.django_db
def test_it_sends_multi_image_to_video_with_an_image_list_of_raw_base64(kling, mocked, alice):
    params = {
        "model_name": "kling-v1-6",
        "prompt": "Friends",
        "mode": "std",
        "duration": "5",
        "aspect_ratio": "1:1",
    }
    generation = _generation(
        alice,
        Kind.MULTI_IMAGE2VIDEO,
        "videos/multi-image2video",
        params,
        [("image_list", i, f"s{i}.png", PNG, "image/png") for i in range(3)],
    )
    mocked.post(f"{BASE}/v1/videos/multi-image2video", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert {k: body[k] for k in params} == params
    assert body["image_list"] == [{"image": base64.b64encode(PNG).decode()}] * 3


@pytest.mark.django_db
def test_it_sends_video_extend_with_the_video_id_and_no_model(kling, mocked, alice):
    params = {"video_id": "7650", "prompt": "Then it rains"}
    generation = _generation(alice, Kind.VIDEO_EXTEND, "videos/video-extend", params)
    mocked.post(f"{BASE}/v1/videos/video-extend", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert body == {
        "video_id": "7650",
        "prompt": "Then it rains",
        "external_task_id": str(generation.external_task_id),
        "callback_url": body["callback_url"],
    }
    assert "model_name" not in body and "mode" not in body


def test_it_reads_the_video_id_and_parent_video_of_an_extension():
    data = {
        **examples.SUCCEEDED_VIDEO_TASK,
        "task_info": {"parent_video": {"id": "p-1", "url": "https://cdn.klingai.com/p.mp4", "duration": "5"}},
        "task_result": {"videos": [{"id": "v-2", "url": "https://cdn.klingai.com/v.mp4", "duration": "9.9"}]},
    }
    task = parse_task(data, "videos/video-extend")
    assert [(m.id, m.duration) for m in task.media] == [("v-2", 9.9)]
    assert task.raw["task_info"]["parent_video"]["id"] == "p-1"


@pytest.mark.django_db
def test_it_sends_text_to_audio_with_a_numeric_duration_and_no_model(kling, mocked, alice):
    generation = _generation(
        alice, Kind.TEXT2AUDIO, "audio/text-to-audio", {"prompt": "Rain on a tin roof", "duration": 4.5}
    )
    mocked.post(f"{BASE}/v1/audio/text-to-audio", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert body["duration"] == 4.5 and body["prompt"] == "Rain on a tin roof"
    assert "model_name" not in body


@pytest.mark.django_db
def test_it_sends_video_to_audio_with_a_signed_video_url_and_a_boolean_asmr_mode(
    kling, mocked, alice, settings
):
    params = {"sound_effect_prompt": "Steps", "bgm_prompt": "Piano", "asmr_mode": True}
    generation = _generation(
        alice,
        Kind.VIDEO2AUDIO,
        "audio/video-to-audio",
        params,
        [("video_url", 0, "clip.mp4", video_bytes(), "video/mp4")],
    )
    mocked.post(f"{BASE}/v1/audio/video-to-audio", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert {k: body[k] for k in params} == params
    assert body["video_url"].startswith(f"{settings.SITE_URL}/inputs/")


def test_it_reads_audio_results_mp3_first():
    data = {
        **examples.SUCCEEDED_VIDEO_TASK,
        "task_result": {
            "audios": [
                {
                    "id": "a-1",
                    "url_mp3": "https://cdn.klingai.com/a.mp3",
                    "url_wav": "https://cdn.klingai.com/a.wav",
                    "duration_mp3": "4.5",
                    "duration_wav": "4.5",
                }
            ]
        },
    }
    task = parse_task(data, "audio/text-to-audio")
    assert [(m.kind, m.url, m.duration, m.id) for m in task.media] == [
        ("audio", "https://cdn.klingai.com/a.mp3", 4.5, "a-1")
    ]


@pytest.mark.django_db
def test_it_sends_omni_video_with_image_url_items_and_the_storyboard(kling, mocked, alice):
    params = {
        "model_name": "kling-v3-omni",
        "prompt": "",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": [
            {"index": 1, "prompt": "Wide shot of <<<image_1>>>", "duration": "2"},
            {"index": 2, "prompt": "Close up", "duration": "3"},
        ],
    }
    generation = _generation(
        alice,
        Kind.OMNI_VIDEO,
        "videos/omni-video",
        params,
        [("image_list", 0, "r0.png", PNG, "image/png")],
    )
    mocked.post(f"{BASE}/v1/videos/omni-video", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = _sent(mocked)
    assert {k: body[k] for k in params} == params
    assert body["multi_shot"] is True
    assert body["image_list"] == [{"image_url": base64.b64encode(PNG).decode()}]
