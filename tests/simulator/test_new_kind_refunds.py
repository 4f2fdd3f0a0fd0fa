"""A failure refunds exactly once, for every kind added after the first three (theirs are in
test_pipeline_faults.py): Kling fails the task (the simulator's failed-task knob), the
callbacks and a poll both report it, and the person has every credit back, once."""

import pytest

from billing import ledger
from billing.models import LedgerEntry
from generations import follow
from generations.models import Generation, Status
from tests.media_files import video_upload
from tests.simulator import test_image_kinds as image_kinds
from tests.simulator.pipeline import assert_ended_right, created, post_page, settled
from tests.simulator.test_avatar import avatar_form
from tests.simulator.test_lip_sync import _lip_sync_form
from tests.simulator.test_new_video_kinds import _finished_video as extendable_video
from tests.simulator.test_new_video_kinds import motion_form
from tests.simulator.test_new_video_kinds import multi_form as multi_video_form
from tests.simulator.test_omni_video import omni_form, storyboard_form
from tests.simulator.test_video_effects import cheers_form, single_form

GRANT = 2000

# Each kind's create page and a good form for it (built when the test runs: uploads are read once).
FORMS = [
    pytest.param("motion-control", lambda: motion_form(5), id="motion_control"),
    pytest.param("multi-image-to-video", lambda: multi_video_form(2), id="multi_image2video"),
    pytest.param("omni-video", lambda: omni_form(2), id="omni_video"),
    pytest.param("omni-video", lambda: storyboard_form(), id="omni_video-storyboard"),
    pytest.param(
        "text-to-audio",
        lambda: {"model_name": "kling-audio", "prompt": "Rain on a roof", "duration": "4"},
        id="text2audio",
    ),
    pytest.param(
        "video-to-audio",
        lambda: {"model_name": "kling-audio", "video_url": video_upload(seconds=6), "bgm_prompt": "Piano"},
        id="video2audio",
    ),
    pytest.param("avatar", lambda: avatar_form(4), id="avatar"),
    pytest.param("video-effects", lambda: single_form(), id="video_effects"),
    pytest.param("video-effects", lambda: cheers_form(), id="video_effects-two-person"),
    pytest.param("multi-image-to-image", lambda: image_kinds.multi_form(2), id="multi_image2image"),
    pytest.param("omni-image", lambda: image_kinds.omni_image_form(2), id="omni_image"),
    pytest.param("virtual-try-on", lambda: image_kinds.try_on_form(), id="virtual_try_on"),
    pytest.param("expand-image", lambda: image_kinds.expand_form(), id="expand_image"),
]


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, GRANT, key="pipeline:grant")
    return kling_simulator


def _fail_and_check(pipeline, commit, generation: Generation, alice, balance: int) -> None:
    assert generation.status == Status.SUBMITTED and ledger.balance_of(alice) == balance - generation.cost
    pipeline.finish()
    with commit(execute=True):
        pipeline.deliver_callbacks()
    assert settled(generation)
    # A poll after the callbacks, and callbacks sent again, find it already refunded.
    with commit(execute=True):
        follow.refresh(generation.pk)
        pipeline.deliver_callbacks()
        follow.sweep()
    assert_ended_right(generation, outcome=Status.FAILED)
    assert LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert ledger.balance_of(alice) == balance


@pytest.mark.parametrize(("slug", "make_form"), FORMS)
def test_a_failed_task_of_each_new_kind_is_refunded_exactly_once(
    slug, make_form, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    pipeline.set_faults(rate_failed_task=1)
    generation = created(
        post_page(alice_client, commit, slug, {"client_token": f"fail-{slug}", **make_form()})
    )
    _fail_and_check(pipeline, commit, generation, alice, GRANT)


def test_a_failed_extension_is_refunded_exactly_once(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    video = extendable_video(alice_client, commit, pipeline).assets.get()
    balance = ledger.balance_of(alice)
    pipeline.set_faults(rate_failed_task=1)
    data = {"video_id": video.video_id, "prompt": "It turns back", "client_token": "fail-extend"}
    generation = created(post_page(alice_client, commit, "extend-video", data))
    _fail_and_check(pipeline, commit, generation, alice, balance)


def test_a_failed_lip_sync_is_refunded_exactly_once(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    from generations.models import FaceSession

    commit = django_capture_on_commit_callbacks
    response = alice_client.post(
        "/generate/lip-sync/faces/", {"video_url": video_upload(seconds=6, width=640, height=512)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    session = FaceSession.objects.get(session_id=response["Location"].split("session_id=")[1])
    pipeline.set_faults(rate_failed_task=1)
    data = _lip_sync_form(session, client_token="fail-lip-sync")
    generation = created(post_page(alice_client, commit, "lip-sync", data))
    _fail_and_check(pipeline, commit, generation, alice, GRANT)
