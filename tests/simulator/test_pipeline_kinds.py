"""Every kind's full life cycle through the site's pipeline against the simulator, with
callbacks and with polling only: the create page, the submit task, the simulator's
callbacks to our callback view or the poll sweep, the result copies."""

import pytest

from billing import ledger
from generations.models import Status
from generations.simulator.models import SimTask
from tests.simulator.pipeline import START_FRAME_URL, assert_ended_right, create, drive, settled

CASES = [
    pytest.param("text2image", False, id="text2image"),
    pytest.param("text2video", False, id="text2video"),
    pytest.param("image2video", False, id="image2video-upload"),
    pytest.param("image2video", True, id="image2video-url"),
]


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 1000, key="pipeline:grant")
    return kling_simulator


def _check_sent(generation, by_url: bool) -> SimTask:
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.product == generation.product
    assert task.callback_url.endswith(generation.callback_path())
    if generation.kind == "text2image":
        assert (task.product, task.n, task.slots) == ("images/generations", 4, 4)
    elif generation.kind == "image2video":
        assert task.product == "videos/image2video"
        assert bool(generation.input_image) is not by_url
        if by_url:
            assert generation.params["image"] == START_FRAME_URL
    return task


@pytest.mark.parametrize(("kind", "by_url"), CASES)
def test_it_runs_each_kind_with_callbacks(
    kind, by_url, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = create(alice_client, django_capture_on_commit_callbacks, kind, by_url=by_url)
    assert generation.status == Status.SUBMITTED
    _check_sent(generation, by_url)
    assert ledger.balance_of(alice) == 1000 - generation.cost

    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.deliver_callbacks() == 3  # submitted, processing, succeed
    # The callbacks alone did it: no sweep ran.
    assert settled(generation)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=4)
    assert ledger.balance_of(alice) == 1000 - generation.cost


@pytest.mark.parametrize(("kind", "by_url"), CASES)
def test_it_runs_each_kind_by_polling_only(
    kind, by_url, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    pipeline.set_faults(rate_callback_lost=1)
    generation = create(alice_client, django_capture_on_commit_callbacks, kind, by_url=by_url)
    _check_sent(generation, by_url)
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=4)
    assert ledger.balance_of(alice) == 1000 - generation.cost
    assert not pipeline.tasks().filter(callbacks__done=True).exists()
