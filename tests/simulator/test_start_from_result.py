"""Start from a result: "Use as motion reference" on a finished video opens motion control
with that video, priced from its stored length, sent to Kling as a copied input."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations.models import Asset, FaceSession, Generation, Status
from generations.simulator.models import SimTask
from tests.simulator.pipeline import assert_ended_right, drive, png, settled
from tests.simulator.test_lip_sync import _lip_sync_form
from tests.simulator.test_new_video_kinds import _created, _post, multi_form
from tests.simulator.test_new_video_kinds import _finished_video as extendable_video


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _finished_video(client, commit, pipeline) -> Generation:
    # Multi-image to video: the simulator draws its clips at the length asked (5 s).
    return _settle(
        pipeline, commit, _created(_post(client, commit, "multi-image-to-video", multi_form(1, duration="5")))
    )


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


def _action(page: str, element_id: str) -> str:
    """The link of one of a detail page's "start from a result" buttons."""
    match = re.search(rf'href="([^"]+)" id="{element_id}"', page)
    assert match, f"no #{element_id} on the page"
    return html.unescape(match.group(1))


def _settle(pipeline, commit, generation: Generation) -> Generation:
    pipeline.finish()
    with commit(execute=True):
        pipeline.deliver_callbacks()
    assert settled(generation) and generation.status == Status.SUCCEEDED
    return generation


def test_it_chains_an_extend_a_lip_sync_and_added_sound_onto_one_video(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    """One finished video extended, the extension lip-synced, the
    lip-synced video given sound, each opened from the previous result's own page, each
    child's page naming what it was made from, every result playable and downloadable."""
    commit = django_capture_on_commit_callbacks
    source = extendable_video(alice_client, commit, pipeline)

    # 1. Extend, from the source's page.
    link = _action(alice_client.get(source.get_absolute_url()).content.decode(), "extend")
    video = source.assets.get()
    assert link == f"/generate/extend-video/?video_id={video.video_id}"
    assert 'id="extend-source"' in alice_client.get(link).content.decode()
    data = {"video_id": video.video_id, "prompt": "The fox looks back", "client_token": "chain-extend"}
    extension = _settle(pipeline, commit, _created(_post(alice_client, commit, "extend-video", data)))
    assert extension.parent == source

    # 2. Lip-sync the extension, from its page: faces found in it, one chosen.
    page = alice_client.get(extension.get_absolute_url()).content.decode()
    assert f'href="{source.get_absolute_url()}"' in page  # "Continues text to video #..."
    extended = extension.assets.get()
    link = _action(page, "lip-sync")
    assert link == f"/generate/lip-sync/?video_id={extended.video_id}"
    assert f'value="{extended.video_id}" selected' in alice_client.get(link).content.decode()
    response = alice_client.post("/generate/lip-sync/faces/", {"video_id": extended.video_id})
    assert response.status_code == 302, response.content.decode()[:2000]
    session = FaceSession.objects.get(session_id=response["Location"].split("session_id=")[1])
    assert session.video_id == extended.video_id
    data = _lip_sync_form(session, client_token="chain-lip-sync")
    lip_sync = _settle(pipeline, commit, _created(_post(alice_client, commit, "lip-sync", data)))
    task = SimTask.objects.get(external_task_id=str(lip_sync.external_task_id))
    answer = pipeline.client().get("videos/advanced-lip-sync", task.task_id).raw
    assert answer["task_info"]["parent_video"]["id"] == extended.video_id

    # 3. Add sound to the lip-synced video, from its page.
    page = alice_client.get(lip_sync.get_absolute_url()).content.decode()
    assert f'href="{extension.get_absolute_url()}"' in page  # made from the extension
    synced = lip_sync.assets.get(kind=Asset.Kind.VIDEO)
    link = _action(page, "add-sound")
    assert link == f"/generate/video-to-audio/?video_id={synced.video_id}"
    assert 'id="sound-source"' in alice_client.get(link).content.decode()
    data = {"model_name": "kling-audio", "video_id": synced.video_id, "client_token": "chain-sound"}
    sound = _settle(pipeline, commit, _created(_post(alice_client, commit, "video-to-audio", data)))
    task = SimTask.objects.get(external_task_id=str(sound.external_task_id))
    answer = pipeline.client().get("audio/video-to-audio", task.task_id).raw
    assert answer["task_info"]["parent_video"]["id"] == synced.video_id
    page = alice_client.get(sound.get_absolute_url()).content.decode()
    assert f'href="{lip_sync.get_absolute_url()}"' in page  # made from the lip-sync
    assert "<audio controls" in page and "<video" in page

    # Every result plays and downloads: each file is served to its owner.
    for generation in (source, extension, lip_sync, sound):
        for asset in generation.assets.all():
            response = alice_client.get(asset.get_absolute_url())
            assert response.status_code == 200 and response["Content-Type"] == asset.content_type
    total = sum(g.cost for g in (source, extension, lip_sync, sound))
    assert ledger.balance_of(alice) == 2000 - total
