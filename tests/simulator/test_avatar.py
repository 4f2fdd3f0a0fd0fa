"""Avatar through the whole pipeline against the simulator: a portrait and a sound file,
billed per second of the sound, the video as long as the sound."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations import follow, uploads
from generations.models import Generation, Status
from generations.simulator.models import SimTask
from tests.media_files import audio_bytes, audio_upload
from tests.simulator.pipeline import drive, png, settled

AVATAR = "/_sim/kling/v1/videos/avatar/image2video"


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 500, key="pipeline:grant")
    return kling_simulator


def avatar_form(seconds: float = 4.2, **changes) -> dict:
    data = {
        "model_name": "kling-avatar",
        "prompt": "Smiling",
        "mode": "pro",
        "image": SimpleUploadedFile("face.png", png(), content_type="image/png"),
        "sound_file": audio_upload(seconds=seconds),
        "client_token": f"avatar-{seconds}-{sorted(changes.items())}",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_makes_an_avatar_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    with commit(execute=True):
        response = alice_client.post("/generate/avatar/", avatar_form(4.2))
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get(owner=alice)
    # 4.2 s of sound: 5 whole seconds at pro's 0.8 units (8 credits) a second.
    assert (generation.duration, generation.cost) == (5, 40)
    assert generation.params == {"prompt": "Smiling", "mode": "pro"}
    request = follow.build_request(generation)
    assert request.params["sound_file"].startswith("http://testserver/inputs/")
    assert base64.b64decode(request.params["image"]) == png()
    assert "model_name" not in request.params
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.mode, task.duration) == ("videos/avatar/image2video", "pro", "4.2")
    if by_callbacks:
        pipeline.finish()
        with commit(execute=True):
            pipeline.deliver_callbacks()
        assert settled(generation)
    else:
        drive(pipeline, commit, generation, callbacks=False)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    video = generation.assets.get()
    assert abs(uploads.probe_path(video.file.path).duration - 4.2) < 0.15
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "<audio controls" in page  # the sound they gave, on the page
    assert ledger.balance_of(alice) == 500 - 40


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seconds": 1}, "between 2 s and 5 min"),
        ({"sound_file": ""}, "Upload the sound file to speak"),
        ({"image": ""}, "Upload a picture of the face that speaks"),
        ({"sound_file": SimpleUploadedFile("x.mp3", b"not sound" * 50)}, "not a sound file we can read"),
    ],
)
def test_it_refuses_bad_avatar_input_before_charging(pipeline, alice, alice_client, changes, message):
    changes = dict(changes)
    seconds = changes.pop("seconds", 4)
    response = alice_client.post("/generate/avatar/", avatar_form(seconds, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 500


def test_it_shows_the_avatar_price_per_second_then_the_total(pipeline, alice_client):
    assert "a second of video" in alice_client.get("/generate/avatar/").content.decode()
    options = alice_client.get(
        "/generate/avatar/options/", {"model_name": "kling-avatar", "mode": "std", "sound_seconds": "10.5"}
    ).content.decode()
    assert 'id="price-credits">44<' in options  # 11 s x 4 credits


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "image is required"),
        ({"image": "https://cdn.example.org/f.png"}, "exactly one of audio_id and sound_file"),
        ({"image": "https://cdn.example.org/f.png", "audio_id": "a", "sound_file": "b"}, "exactly one of"),
        ({"image": "https://cdn.example.org/f.png", "audio_id": "a"}, "audio_id a not found"),
        (
            {"image": "https://cdn.example.org/f.png", "sound_file": "data:audio/mp3;base64,AAAA"},
            "data: prefix",
        ),
        ({"image": "https://cdn.example.org/f.png", "sound_file": "bm90IHNvdW5k"}, "audio format is invalid"),
        ({"image": "https://cdn.example.org/f.png", "sound_file": "x", "mode": "4k"}, "mode must be one of"),
    ],
)
def test_the_simulator_answers_bad_avatar_fields_with_1201(post, body, message):
    status, answer = post(AVATAR, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_measures_a_base64_sound_file(post, sim):
    sound = base64.b64encode(audio_bytes(seconds=1)).decode()
    status, answer = post(AVATAR, {"image": "https://cdn.example.org/f.png", "sound_file": sound})
    assert (status, answer["code"]) == (400, 1201)
    assert "2 to 300 seconds" in answer["message"]
    sound = base64.b64encode(audio_bytes(seconds=3)).decode()
    status, answer = post(
        AVATAR, {"image": "https://cdn.example.org/f.png", "sound_file": sound, "mode": "std"}
    )
    assert status == 200
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert task.duration == "3" and str(task.units) == "1.200"
