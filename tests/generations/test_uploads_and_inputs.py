"""Shared groundwork for the kinds that take videos and sound: upload checks (ffmpeg),
input files served to Kling at signed, expiring URLs, and Kling's video_id on results."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from generations import capabilities, inputs, media, uploads
from generations.models import Asset, Generation, InputFile, Kind
from tests.media_files import audio_upload, picture_png, video_bytes, video_upload

LIMITS = capabilities.MOTION_UPLOAD_LIMITS
SOUND = capabilities.AudioLimits(2, 60)


# --- upload checks --------------------------------------------------------------------


def test_it_measures_a_video_with_ffmpeg():
    info = uploads.check_video(video_upload(seconds=4.5, width=480, height=360, fps=24), LIMITS)
    assert info.video_codec == "h264"
    assert (info.width, info.height, info.fps) == (480, 360, 24.0)
    assert 4.4 < info.duration < 4.6
    assert info.content_type == "video/mp4"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seconds": 2}, "2.0 s long; it needs to be between 3 s and 30 s"),
        ({"seconds": 31}, "31.0 s long"),
        ({"width": 320, "height": 240}, "320 x 240 px; each side needs to be between 340 and 3850 px"),
    ],
)
def test_it_explains_each_video_limit(kwargs, expected):
    with pytest.raises(ValidationError) as caught:
        uploads.check_video(video_upload(**kwargs), LIMITS)
    assert any(expected in message for message in caught.value.messages), caught.value.messages


def test_it_checks_the_frame_rate_when_the_kind_has_limits():
    limits = capabilities.VideoLimits(3, 10, min_fps=24, max_fps=60)
    with pytest.raises(ValidationError) as caught:
        uploads.check_video(video_upload(fps=12), limits)
    assert "12 fps; it needs 24 to 60 frames a second" in caught.value.messages[0]


def test_it_refuses_other_containers_and_non_videos():
    with pytest.raises(ValidationError, match="Only MP4 and MOV"):
        uploads.check_video(SimpleUploadedFile("clip.webm", video_bytes(fmt="webm")), LIMITS)
    with pytest.raises(ValidationError, match="not a video we can read"):
        uploads.check_video(SimpleUploadedFile("clip.mp4", b"not a video at all" * 100), LIMITS)


def test_it_refuses_a_video_too_large_before_reading_it(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("ffmpeg should not run")

    monkeypatch.setattr(uploads, "probe_upload", never)
    big = video_upload()
    big.size = LIMITS.max_bytes + 1
    with pytest.raises(ValidationError, match=r"videos can be at most 100\.0 MB"):
        uploads.check_video(big, LIMITS)


def test_it_checks_sound_files():
    info = uploads.check_audio(audio_upload(seconds=3), SOUND)
    assert (info.extension, info.content_type) == ("mp3", "audio/mpeg")
    with pytest.raises(ValidationError, match="between 2 s and 1 min"):
        uploads.check_audio(audio_upload(seconds=1), SOUND)
    with pytest.raises(ValidationError, match="not a sound file"):
        uploads.check_audio(video_upload(), SOUND)


# --- signed input URLs ----------------------------------------------------------------


@pytest.fixture
def given(alice):
    generation = Generation.objects.create(
        owner=alice, kind=Kind.MOTION_CONTROL, provider="simulator", model_name="kling-v2-6", cost=0
    )
    item = InputFile(generation=generation, field="video_url", content_type="video/mp4", size=10)
    item.file.save("dance.mp4", ContentFile(video_bytes()), save=False)
    item.save()
    return item


def test_it_serves_an_input_to_kling_at_a_signed_url_without_login(client, given, settings):
    url = inputs.signed_url(given)
    assert url.startswith(settings.SITE_URL + "/")
    response = client.get(inputs.signed_path(given))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == video_bytes()


def test_it_refuses_a_forged_signature(client, given):
    path = inputs.signed_path(given)
    token = path.split("/")[-2]
    forged = path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert client.get(forged).status_code == 404
    assert client.get(path.replace(token, "not-a-token")).status_code == 404


def test_it_refuses_an_expired_signature(client, given):
    path = inputs.signed_path(given)
    with time_machine.travel(timezone.now() + timedelta(seconds=inputs.SIGNED_INPUT_SECONDS + 5)):
        response = client.get(path)
    assert response.status_code == 403


def test_it_stops_serving_inputs_of_a_deleted_generation(client, given):
    path = inputs.signed_path(given)
    Generation.objects.filter(pk=given.generation_id).update(deleted_at=timezone.now())
    assert client.get(path).status_code == 404


def test_it_shows_an_input_to_its_owner_only(client, given, alice, bob):
    client.force_login(bob)
    assert client.get(given.get_absolute_url()).status_code == 404
    client.force_login(alice)
    assert client.get(given.get_absolute_url()).status_code == 200


# --- Kling's video id on results ------------------------------------------------------


def test_it_keeps_klings_video_id_on_a_result_video(alice, cdn):
    from tests.generations.fakes import MEDIA_BASE

    generation = Generation.objects.create(
        owner=alice, kind=Kind.TEXT2VIDEO, provider="simulator", model_name="kling-v1-6", cost=0
    )
    item = {"kind": "video", "index": 0, "url": f"{MEDIA_BASE}/clip.mp4", "duration": 5.0, "id": "vid-123"}
    asset = media.store_output(generation, item)
    assert Asset.objects.get(pk=asset.pk).video_id == "vid-123"


# --- the uploads on the generation's page -----------------------------------------------


def _upload(generation: Generation, field: str, index: int = 0) -> None:
    item = InputFile(generation=generation, field=field, index=index, content_type="image/png", size=10)
    item.file.save(f"{field}-{index}.png", ContentFile(picture_png()), save=False)
    item.save()


@pytest.mark.parametrize(
    ("kind", "model_name", "stored", "shown"),
    [
        (
            Kind.VIRTUAL_TRY_ON,
            "kolors-virtual-try-on-v1",
            [("cloth_image", 0), ("human_image", 0)],
            ["Person", "Garment"],
        ),
        (
            Kind.MULTI_IMAGE2IMAGE,
            "kling-v2",
            [("style_image", 0), ("scene_image", 0), ("subject_image_list", 1), ("subject_image_list", 0)],
            ["Subject 1", "Subject 2", "Scene", "Style"],
        ),
    ],
)
def test_it_shows_the_uploads_in_the_order_the_create_page_asked_for_them(
    client, alice, kind, model_name, stored, shown
):
    generation = Generation.objects.create(
        owner=alice, kind=kind, provider="simulator", model_name=model_name, cost=0
    )
    for field, index in stored:
        _upload(generation, field, index)
    client.force_login(alice)
    page = client.get(generation.get_absolute_url()).content.decode()
    given = page[page.index('id="given-inputs"') :]
    places = [given.index(f'<figcaption class="small muted">{caption}</figcaption>') for caption in shown]
    assert places == sorted(places)
