"""Lip-sync on the wire: identify-face's body and answer, and advanced-lip-sync's body
with the sound moved into `face_choose` (Kling's exact field names and types)."""

import json

import pytest
from django.core.files.base import ContentFile

from generations import follow
from generations.models import Generation, InputFile, Kind
from generations.providers.base import ProviderError
from generations.providers.kling import lip_sync_faces
from tests.media_files import audio_bytes
from tests.providers import examples
from tests.providers.conftest import BASE

FACES = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "r-1",
    "data": {
        "session_id": "867283741759111999",
        "final_unit_deduction": "0.05",
        "face_data": [
            {
                "face_id": "0",
                "face_image": "https://cdn.example.org/f0.jpg",
                "start_time": 0,
                "end_time": 5200,
            },
            {
                "face_id": 1,
                "face_image": "https://cdn.example.org/f1.jpg",
                "start_time": 1000,
                "end_time": 5200,
            },
        ],
    },
}


def test_identify_face_sends_exactly_one_video_and_reads_the_faces(kling, mocked):
    mocked.post(f"{BASE}/v1/videos/identify-face", json=FACES)
    scan = kling.identify_face(video_url="https://example.org/inputs/t/clip.mp4")
    assert json.loads(mocked.calls[0].request.body) == {"video_url": "https://example.org/inputs/t/clip.mp4"}
    assert scan.session_id == "867283741759111999" and scan.units == "0.05"
    assert scan.faces == [
        {"face_id": "0", "face_image": "https://cdn.example.org/f0.jpg", "start_time": 0, "end_time": 5200},
        {
            "face_id": "1",
            "face_image": "https://cdn.example.org/f1.jpg",
            "start_time": 1000,
            "end_time": 5200,
        },
    ]
    kling.identify_face(video_id="8672837417591112020")
    assert json.loads(mocked.calls[1].request.body) == {"video_id": "8672837417591112020"}
    with pytest.raises(ValueError):
        kling.identify_face(video_id="a", video_url="b")


def test_identify_face_refusals_are_provider_errors(kling, mocked):
    mocked.post(
        f"{BASE}/v1/videos/identify-face",
        json={"code": 1201, "message": "video_url: failed to read the video", "request_id": "r"},
        status=400,
    )
    with pytest.raises(ProviderError) as caught:
        kling.identify_face(video_url="https://example.org/v.mp4")
    assert caught.value.provider_code == 1201


@pytest.mark.django_db
def test_it_sends_advanced_lip_sync_with_the_sound_inside_the_face(kling, mocked, alice, settings):
    face = {
        "face_id": "1",
        "sound_start_time": 0,
        "sound_end_time": 3000,
        "sound_insert_time": 1000,
        "sound_volume": 1.5,
        "original_audio_volume": 0.0,
    }
    generation = Generation.objects.create(
        owner=alice,
        kind=Kind.LIP_SYNC,
        provider="kling",
        model_name="kling-lip-sync",
        cost=6,
        product="videos/advanced-lip-sync",
        params={"session_id": "s-1", "face_choose": [face]},
    )
    given = InputFile(generation=generation, field="sound_file", index=0, content_type="audio/mpeg")
    given.file.save("voice.mp3", ContentFile(audio_bytes(seconds=3)), save=False)
    given.save()
    mocked.post(f"{BASE}/v1/videos/advanced-lip-sync", json=examples.CREATE_OK)
    kling.submit(follow.build_request(generation))
    body = json.loads(mocked.calls[0].request.body)
    assert set(body) == {"session_id", "face_choose", "external_task_id", "callback_url"}
    assert body["session_id"] == "s-1"
    [sent] = body["face_choose"]
    assert sent["sound_file"].startswith(f"{settings.SITE_URL}/inputs/")
    assert {k: sent[k] for k in face} == face
    assert set(sent) == {*face, "sound_file"}
    for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
        assert type(sent[name]) is int
    assert type(sent["sound_volume"]) is float and type(sent["original_audio_volume"]) is float


def test_lip_sync_faces_takes_exactly_one_face_with_whole_millisecond_times():
    one = {"face_id": 0, "sound_start_time": "0", "sound_end_time": 2500.0, "sound_insert_time": 10}
    assert lip_sync_faces({"face_choose": [one], "audio_id": "a-1"}) == [
        {
            "face_id": "0",
            "sound_start_time": 0,
            "sound_end_time": 2500,
            "sound_insert_time": 10,
            "audio_id": "a-1",
        }
    ]
    with pytest.raises(ProviderError):
        lip_sync_faces({"face_choose": [one, one]})
    with pytest.raises(ProviderError):
        lip_sync_faces({"face_choose": [{"face_id": "0"}]})
