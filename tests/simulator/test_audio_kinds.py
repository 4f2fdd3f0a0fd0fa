"""Text to audio and video to audio through the whole pipeline against the simulator, and
the simulator's rules for them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations import follow, uploads
from generations.models import Asset, Generation, Status
from generations.simulator.models import SimTask
from tests.media_files import video_upload
from tests.simulator.pipeline import drive, settled

T2A = "/_sim/kling/v1/audio/text-to-audio"
V2A = "/_sim/kling/v1/audio/video-to-audio"


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 500, key="pipeline:grant")
    return kling_simulator


def _create(client, commit, slug, data) -> Generation:
    with commit(execute=True):
        response = client.post(f"/generate/{slug}/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def _settle(pipeline, commit, generation, by_callbacks):
    if by_callbacks:
        pipeline.finish()
        with commit(execute=True):
            pipeline.deliver_callbacks()
        assert settled(generation)
    else:
        drive(pipeline, commit, generation, callbacks=False)


def _length(asset: Asset) -> float:
    info = uploads.probe_path(asset.file.path)
    assert info is not None
    return info.duration


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_makes_a_sound_from_text_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    data = {
        "model_name": "kling-audio",
        "prompt": "Rain on a tin roof",
        "duration": "4.5",
        "client_token": f"t2a-{by_callbacks}",
    }
    generation = _create(alice_client, commit, "text-to-audio", data)
    assert generation.cost == 3  # 0.25 units a call, rounded up
    assert generation.params == {"prompt": "Rain on a tin roof", "duration": 4.5}
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.package, task.duration) == ("audio/text-to-audio", "audio", "4.5")
    _settle(pipeline, commit, generation, by_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    asset = generation.assets.get()
    assert (asset.kind, asset.content_type) == ("audio", "audio/mpeg")
    assert abs(_length(asset) - 4.5) < 0.15
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert f'<audio controls preload="metadata" src="{asset.get_absolute_url()}"' in page
    assert asset.download_name.endswith(".mp3")
    gallery = alice_client.get("/generations/").content.decode()
    assert "<audio controls" in gallery
    assert ledger.balance_of(alice) == 500 - 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration": "2.5"}, "greater than or equal to 3"),
        ({"duration": "10.5"}, "less than or equal to 10"),
        ({"duration": "4.55"}, "multiple of step size 0.1"),
        ({"prompt": "x" * 201}, "up to 200 characters"),
        ({"prompt": ""}, "This field is required"),
    ],
)
def test_it_refuses_bad_text_to_audio_input_before_charging(pipeline, alice, alice_client, changes, message):
    data = {"model_name": "kling-audio", "prompt": "Rain", "duration": "5", "client_token": "bad", **changes}
    response = alice_client.post("/generate/text-to-audio/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 500


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_adds_sound_to_an_uploaded_video_end_to_end(
    by_callbacks, pipeline, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    data = {
        "model_name": "kling-audio",
        "video_url": video_upload(seconds=6),
        "sound_effect_prompt": "Footsteps on gravel",
        "bgm_prompt": "A calm piano",
        "asmr_mode": "on",
        "client_token": f"v2a-{by_callbacks}",
    }
    generation = _create(alice_client, commit, "video-to-audio", data)
    assert generation.params == {
        "sound_effect_prompt": "Footsteps on gravel",
        "bgm_prompt": "A calm piano",
        "asmr_mode": True,
    }
    assert follow.build_request(generation).params["video_url"].startswith("http://testserver/inputs/")
    _settle(pipeline, commit, generation, by_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    kinds = sorted(generation.assets.values_list("kind", flat=True))
    assert kinds == ["audio", "video"]
    for asset in generation.assets.all():
        assert abs(_length(asset) - 6) < 0.15
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "<audio controls" in page and "<video controls" in page


def test_it_adds_sound_to_ones_own_finished_video(pipeline, alice_client, django_capture_on_commit_callbacks):
    commit = django_capture_on_commit_callbacks
    source = _create(
        alice_client,
        commit,
        "text-to-video",
        {
            "model_name": "kling-v2-6",
            "prompt": "A fox",
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "client_token": "src",
        },
    )
    _settle(pipeline, commit, source, True)
    video = source.assets.get()
    # The simulator's plain clips last 2 s whatever was asked; Kling's last what was asked.
    Asset.objects.filter(pk=video.pk).update(duration=5.0)
    detail = alice_client.get(source.get_absolute_url()).content.decode()
    assert f"/generate/video-to-audio/?video_id={video.video_id}" in detail
    assert (
        'id="sound-source"'
        in alice_client.get(f"/generate/video-to-audio/?video_id={video.video_id}").content.decode()
    )
    generation = _create(
        alice_client,
        commit,
        "video-to-audio",
        {"model_name": "kling-audio", "video_id": video.video_id, "client_token": "own"},
    )
    assert generation.params["video_id"] == video.video_id
    _settle(pipeline, commit, generation, True)
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    answer = pipeline.client().get("audio/video-to-audio", task.task_id).raw
    assert answer["task_info"]["parent_video"]["id"] == video.video_id
    assert set(answer["task_result"]) == {"audios", "videos"}


def test_it_refuses_a_video_too_long_to_dub_before_charging(pipeline, alice, alice_client):
    data = {"model_name": "kling-audio", "video_url": video_upload(seconds=21), "client_token": "long"}
    response = alice_client.post("/generate/video-to-audio/", data)
    assert "between 3 s and 20 s" in response.content.decode()
    response = alice_client.post(
        "/generate/video-to-audio/", {"model_name": "kling-audio", "client_token": "none"}
    )
    assert "Upload a video of 3 to 20 seconds" in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 500


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (T2A, {"prompt": ""}, "prompt is required"),
        (T2A, {"prompt": "x" * 201}, "at most 200 characters"),
        (T2A, {"prompt": "p", "duration": 2}, "duration must be a number from 3 to 10"),
        (T2A, {"prompt": "p", "duration": "5"}, "duration must be a number"),
        (T2A, {"prompt": "p", "duration": 4.55}, "one decimal place"),
        (V2A, {}, "exactly one of video_id and video_url"),
        (V2A, {"video_id": "10", "video_url": "https://x/v.mp4"}, "exactly one of"),
        (V2A, {"video_id": "12340"}, "not found"),
        (V2A, {"video_url": "https://x/v.mp4", "bgm_prompt": "x" * 201}, "bgm_prompt must be at most 200"),
        (V2A, {"video_url": "https://x/v.mp4", "asmr_mode": "yes"}, "asmr_mode must be true or false"),
    ],
)
def test_the_simulator_answers_bad_audio_fields_with_1201(post, path, body, message):
    status, answer = post(path, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_answers_text_to_audio_with_mp3_and_wav(post, sim):
    status, answer = post(T2A, {"prompt": "Birdsong", "duration": 3.5})
    assert status == 200
    sim.finish()
    task_id = answer["data"]["task_id"]
    from generations.simulator.engine import task_object
    from generations.simulator.models import SimFaults

    data = task_object(SimTask.objects.get(task_id=task_id), SimFaults.current())
    (audio,) = data["task_result"]["audios"]
    assert (audio["duration_mp3"], audio["duration_wav"]) == ("3.5", "3.5")
    assert data["final_unit_deduction"] == "0.25"
    wav = sim.download(audio["url_wav"])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    assert SimpleUploadedFile("a.wav", wav.content).size > 1000
