"""Start from a result: "Use as motion reference" on a finished video opens motion control
with that video, priced from its stored length, sent to Kling as a copied input."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations.models import Generation, Status
from tests.simulator.pipeline import assert_ended_right, drive, png, settled
from tests.simulator.test_new_video_kinds import _created, _post, multi_form


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _finished_video(client, commit, pipeline) -> Generation:
    # Multi-image to video: the simulator draws its clips at the length asked (5 s).
    generation = _created(_post(client, commit, "multi-image-to-video", multi_form(1, duration="5")))
    pipeline.finish()
    with commit(execute=True):
        pipeline.deliver_callbacks()
    assert settled(generation) and generation.status == Status.SUCCEEDED
    return generation


def test_it_uses_a_finished_video_as_motion_reference(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    source = _finished_video(alice_client, commit, pipeline)
    video = source.assets.get()
    page = alice_client.get(source.get_absolute_url()).content.decode()
    assert 'id="motion-reference"' in page and f"video_id={video.video_id}" in page
    create = alice_client.get(f"/generate/motion-control/?video_id={video.video_id}").content.decode()
    assert 'id="motion-source"' in create and f"#{source.pk}" in create
    balance = ledger.balance_of(alice)
    data = {
        "model_name": "kling-v2-6",
        "mode": "std",
        "character_orientation": "video",
        "keep_original_sound": "no",
        "video_id": video.video_id,
        "image_url": SimpleUploadedFile("hero.png", png(), content_type="image/png"),
        "client_token": "motion-from-result",
    }
    generation = _created(_post(alice_client, commit, "motion-control", data))
    assert generation.cost == 5 * 5  # kling-v2-6 std: 5 credits a second, 5 s
    assert ledger.balance_of(alice) == balance - 25
    given = generation.inputs.get(field="video_url")
    assert given.duration == video.duration and given.file.name != video.file.name
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_it_refuses_someone_elses_video_as_motion_reference(
    pipeline, alice, alice_client, bob, client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    video = _finished_video(alice_client, commit, pipeline).assets.get()
    ledger.grant(bob, 100, key="bob:grant")
    client.force_login(bob)
    data = {
        "model_name": "kling-v2-6",
        "mode": "std",
        "character_orientation": "video",
        "keep_original_sound": "no",
        "video_id": video.video_id,
        "image_url": SimpleUploadedFile("hero.png", png(), content_type="image/png"),
        "client_token": "bob-motion",
    }
    response = _post(client, commit, "motion-control", data)
    assert response.status_code == 200
    assert "Choose one of your own finished videos" in response.content.decode()
    assert not Generation.objects.filter(owner=bob).exists() and ledger.balance_of(bob) == 100
