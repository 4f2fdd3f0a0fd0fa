"""Each simulator fault through the site's pipeline: the generation ends right, with no
second provider job, one charge, one refund on failure, results stored on success and the
limiter slot released. Nothing is faked but time."""

import pytest

from billing import ledger
from generations import follow
from generations.models import Generation, LimiterSlot, Status, WaitReason
from generations.simulator.models import SimCallback, SimTask
from tests.simulator.pipeline import assert_ended_right, create, drive, settled, sim_tasks


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 1000, key="pipeline:grant")
    return kling_simulator


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


KINDS = ["text2image", "text2video", "image2video"]


@pytest.mark.parametrize("kind", KINDS)
def test_it_waits_on_1303_and_submits_later_once(kind, pipeline, alice_client, commit):
    pipeline.set_faults(rate_1303=1)
    generation = create(alice_client, commit, kind)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.wait_reason == WaitReason.RETRY
    assert not sim_tasks(generation).exists() and not generation.maybe_created
    # Nothing is at Kling, so our slot serves someone else meanwhile.
    assert not LimiterSlot.objects.filter(generation_id=generation.pk).exists()

    pipeline.set_faults(rate_1303=0)
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=4)


def test_it_queues_work_over_the_simulators_real_concurrency_limit(pipeline, alice_client, commit, settings):
    # Kling's own limit is lower than ours: the second job is refused with 1303, waits in
    # our queue, and goes out once the first has finished.
    settings.KLING_MAX_CONCURRENCY = 5
    pipeline.set_faults(concurrency_limit=1)
    first = create(alice_client, commit, "text2video", "A fox in the snow")
    second = create(alice_client, commit, "text2video", "A hare in the snow")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.SUBMITTED
    assert second.status == Status.QUEUED and not sim_tasks(second).exists()
    drive(pipeline, commit, first, callbacks=True)
    drive(pipeline, commit, second, callbacks=True)
    assert_ended_right(first, outcome=Status.SUCCEEDED)
    assert_ended_right(second, outcome=Status.SUCCEEDED)
    assert SimTask.objects.count() == 2


def test_it_waits_for_our_own_slot_before_sending(pipeline, alice_client, commit, settings):
    settings.KLING_MAX_CONCURRENCY = 1
    first = create(alice_client, commit, "text2video", "A fox in the snow")
    second = create(alice_client, commit, "text2video", "A hare in the snow")
    second.refresh_from_db()
    assert second.status == Status.QUEUED and second.wait_reason == WaitReason.SLOT
    assert SimTask.objects.count() == 1  # never sent, so never refused with 1303
    drive(pipeline, commit, first, callbacks=True, sweep=False)
    # The first one's slot, freed at its end, let the second go at once.
    second.refresh_from_db()
    assert second.status != Status.QUEUED
    drive(pipeline, commit, second, callbacks=True)
    assert_ended_right(first, outcome=Status.SUCCEEDED)
    assert_ended_right(second, outcome=Status.SUCCEEDED)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", ["5002", "read_timeout", "malformed_json"])
def test_it_recovers_a_task_created_behind_an_unclear_answer(kind, fault, pipeline, alice_client, commit):
    if fault == "5002":
        pipeline.set_faults(rate_5002_after_create=1)
    elif fault == "read_timeout":
        pipeline.simulate_read_timeouts(1)
    else:
        pipeline.set_faults(rate_malformed_json=1)
    generation = create(alice_client, commit, kind)
    generation.refresh_from_db()
    # The simulator did create the task; we could not tell, so we keep our slot and look.
    assert generation.status == Status.QUEUED and generation.maybe_created
    assert sim_tasks(generation).count() == 1
    assert LimiterSlot.objects.filter(generation_id=generation.pk).exists()

    pipeline.set_faults(rate_5002_after_create=0, rate_malformed_json=0)
    pipeline.simulate_read_timeouts(0)
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=4)


def test_it_keeps_polling_through_malformed_answers(pipeline, alice_client, commit):
    pipeline.set_faults(rate_callback_lost=1)
    generation = create(alice_client, commit, "text2video")
    pipeline.set_faults(rate_malformed_json=1)
    pipeline.finish()
    for _ in range(3):
        pipeline.advance(follow.poll_base_seconds())
        with commit(execute=True):
            follow.sweep()
    assert not settled(generation)
    assert generation.status == Status.SUBMITTED
    pipeline.set_faults(rate_malformed_json=0)
    drive(pipeline, commit, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_refunds_a_failed_task_once(kind, callbacks, pipeline, alice, alice_client, commit):
    if not callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = create(alice_client, commit, kind, "A storm at sea [sim:fail]")
    assert sim_tasks(generation).count() == 1
    drive(pipeline, commit, generation, callbacks=callbacks, sweep=not callbacks)
    assert_ended_right(generation, outcome=Status.FAILED)
    assert generation.error_code == "generation_failed"
    assert "content rules" in generation.error_message
    assert ledger.balance_of(alice) == 1000
    # Later callbacks and sweeps change nothing.
    drive_more(pipeline, commit)
    assert_ended_right(generation, outcome=Status.FAILED)
    assert ledger.balance_of(alice) == 1000


def drive_more(pipeline, commit, steps: int = 3) -> None:
    for _ in range(steps):
        pipeline.advance(60)
        with commit(execute=True):
            pipeline.deliver_callbacks()
            follow.sweep()


@pytest.mark.parametrize("kind", KINDS)
def test_it_refunds_a_refused_request_without_a_provider_job(kind, pipeline, alice, alice_client, commit):
    generation = create(alice_client, commit, kind, "Something Kling refuses [sim:refuse]")
    generation.refresh_from_db()
    assert_ended_right(generation, outcome=Status.FAILED, provider_jobs=0)
    assert generation.error_code and generation.error_message
    assert ledger.balance_of(alice) == 1000
    drive_more(pipeline, commit)
    assert_ended_right(generation, outcome=Status.FAILED, provider_jobs=0)


@pytest.mark.parametrize("knob", ["rate_callback_duplicate", "rate_callback_reordered"])
@pytest.mark.parametrize("prompt", ["A fox in the snow", "A storm at sea [sim:fail]"], ids=["ok", "fail"])
def test_it_ends_right_with_duplicated_or_reordered_callbacks(knob, prompt, pipeline, alice_client, commit):
    pipeline.set_faults(**{knob: 1})
    generation = create(alice_client, commit, "text2video", prompt)
    pipeline.finish()
    pipeline.advance(2)  # the late (duplicate, or reordered "processing") deliveries are due too
    with commit(execute=True):
        delivered = pipeline.deliver_callbacks()
    assert delivered == (6 if knob == "rate_callback_duplicate" else 3)
    assert not SimCallback.objects.filter(done=False).exists()
    outcome = Status.FAILED if "[sim:fail]" in prompt else Status.SUCCEEDED
    assert settled(generation)
    assert_ended_right(generation, outcome=outcome)


def test_it_ends_right_when_only_some_callbacks_arrive(pipeline, alice_client, commit):
    # The "succeed" callback is lost: the sweep notices the end on its own.
    generation = create(alice_client, commit, "text2video")
    SimCallback.objects.filter(status="succeed").delete()
    pipeline.finish()
    with commit(execute=True):
        assert pipeline.deliver_callbacks() == 2
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_it_fails_and_refunds_a_task_that_never_finishes_at_the_deadline(
    pipeline, alice, alice_client, commit, settings
):
    settings.GENERATION_DEADLINE_MINUTES = 30
    pipeline.set_timings(1, 10 * 3600)
    pipeline.set_faults(rate_callback_lost=1)
    generation = create(alice_client, commit, "text2video")
    pipeline.advance(29 * 60)
    with commit(execute=True):
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING

    pipeline.advance(2 * 60)
    lookups = []
    real_get = type(pipeline.client()).get

    def counting_get(client, product, task_id):
        lookups.append(task_id)
        return real_get(client, product, task_id)

    import generations.providers.kling as kling

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kling.KlingClient, "get", counting_get)
        with commit(execute=True):
            report = follow.sweep()
    assert report.expired == 1
    # One last look at the provider (the list call covers it), then failed and refunded.
    assert report.list_calls == 1 and lookups == []
    assert_ended_right(generation, outcome=Status.FAILED)
    assert generation.error_code == "deadline"
    assert "30 minutes" in generation.error_message
    assert ledger.balance_of(alice) == 1000
    drive_more(pipeline, commit)
    assert_ended_right(generation, outcome=Status.FAILED)


def test_it_gives_up_on_queued_work_at_the_deadline(pipeline, alice, alice_client, commit, settings):
    settings.GENERATION_DEADLINE_MINUTES = 30
    pipeline.set_faults(rate_1303=1)
    generation = create(alice_client, commit, "text2video")
    for _ in range(5):
        pipeline.advance(7 * 60)
        with commit(execute=True):
            follow.sweep()
    assert_ended_right(generation, outcome=Status.FAILED, provider_jobs=0)
    assert generation.error_code == "deadline"
    assert ledger.balance_of(alice) == 1000


def test_queued_work_past_the_deadline_is_found_if_it_was_created(pipeline, alice_client, commit, settings):
    settings.GENERATION_DEADLINE_MINUTES = 30
    pipeline.set_faults(rate_5002_after_create=1, rate_callback_lost=1)
    generation = create(alice_client, commit, "text2video")
    Generation.objects.filter(pk=generation.pk).update(due_at=None)
    pipeline.advance(31 * 60)  # the task at Kling has long finished
    pipeline.set_faults(rate_5002_after_create=0)
    with commit(execute=True):
        follow.sweep()
    # The last look found the finished task: it is ours, paid for, and kept.
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
