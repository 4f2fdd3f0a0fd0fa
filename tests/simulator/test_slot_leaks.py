"""Limiter slots never leak: each way a slot used to stay taken after its generation ended
is planted here with KLING_MAX_CONCURRENCY=1, and the queue must keep moving. Real
limiter, real simulator, real ledger; the PostgreSQL pass runs them again."""

import pytest

from billing import ledger
from generations import follow, limiter, queue, services
from generations.models import IN_FLIGHT_STATUSES, Generation, LimiterSlot, Status, WaitReason
from tests.simulator.pipeline import assert_ended_right, create, drive, sim_tasks


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice, settings):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    settings.KLING_MAX_CONCURRENCY = 1
    ledger.grant(alice, 1000, key="slot-leaks:grant")
    return kling_simulator


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def _waiting_for_a_slot(generation: Generation) -> bool:
    generation.refresh_from_db()
    return generation.status == Status.QUEUED and generation.wait_reason == WaitReason.SLOT


def test_a_broker_error_while_a_job_finishes_does_not_keep_its_slot(
    pipeline, alice_client, commit, monkeypatch
):
    first = create(alice_client, commit, "text2video", "A fox in the snow")
    second = create(alice_client, commit, "text2video", "A hare in the snow")
    assert _waiting_for_a_slot(second)

    def broker_down(generation_id):
        raise ConnectionError("broker unavailable")

    # Enqueueing the copy of the results fails as the first job succeeds.
    monkeypatch.setattr(queue, "fetch_results", broker_down)
    first.refresh_from_db()
    with commit(execute=True):
        assert services.transition(
            first.pk, IN_FLIGHT_STATUSES, Status.SUCCEEDED, result_media=[{"kind": "video", "url": "x"}]
        )
    assert not LimiterSlot.objects.filter(generation_id=first.pk).exists()
    second.refresh_from_db()
    assert second.status == Status.SUBMITTED  # the freed slot let it go at once


def test_a_job_stopped_while_its_submit_takes_a_slot_gives_the_slot_back(
    pipeline, alice_client, commit, monkeypatch, staff
):
    real_acquire = limiter.try_acquire_slot
    stopped_ids = []

    def staff_stops_it_meanwhile(generation_id, count=1):
        # Staff fail the job between the submit's claim and its slot.
        if not stopped_ids:
            stopped_ids.append(generation_id)
            services.fail_by_staff(generation_id, "Stopped for a test", staff)
        return real_acquire(generation_id, count)

    monkeypatch.setattr(limiter, "try_acquire_slot", staff_stops_it_meanwhile)
    stopped = create(alice_client, commit, "text2video", "A fox in the snow")
    assert stopped_ids == [stopped.pk]
    stopped.refresh_from_db()
    assert stopped.status == Status.FAILED
    assert not LimiterSlot.objects.exists()
    assert not sim_tasks(stopped).exists()  # and nothing was sent for a refunded job

    monkeypatch.setattr(limiter, "try_acquire_slot", real_acquire)
    after = create(alice_client, commit, "text2video", "A hare in the snow")
    after.refresh_from_db()
    assert after.status == Status.SUBMITTED
    drive(pipeline, commit, after, callbacks=True)
    assert_ended_right(after, outcome=Status.SUCCEEDED)


def test_the_sweep_reaps_a_slot_whose_generation_ended_without_freeing_it(pipeline, alice_client, commit):
    first = create(alice_client, commit, "text2video", "A fox in the snow")
    drive(pipeline, commit, first, callbacks=True)
    # A slot left behind by a finished job (as a worker killed at the wrong moment leaves it).
    LimiterSlot.objects.create(slot=0, generation_id=first.pk)
    second = create(alice_client, commit, "text2video", "A hare in the snow")
    assert _waiting_for_a_slot(second)

    pipeline.advance(follow.poll_base_seconds())
    with commit(execute=True):
        report = follow.sweep()
    assert report.slots_reaped == 1
    second.refresh_from_db()
    assert second.status != Status.QUEUED
    drive(pipeline, commit, second, callbacks=True)
    assert_ended_right(second, outcome=Status.SUCCEEDED)


def test_five_planted_leaks_do_not_stop_the_site(pipeline, alice_client, commit, settings):
    settings.KLING_MAX_CONCURRENCY = 5
    done = create(alice_client, commit, "text2video", "A fox in the snow")
    drive(pipeline, commit, done, callbacks=True)
    gone = [done.pk, *range(10**9, 10**9 + 4)]  # finished, and four generations since deleted
    LimiterSlot.objects.bulk_create(LimiterSlot(slot=n, generation_id=pk) for n, pk in enumerate(gone))
    waiting = create(alice_client, commit, "text2video", "A hare in the snow")
    assert _waiting_for_a_slot(waiting)
    drive(pipeline, commit, waiting, callbacks=True)
    assert_ended_right(waiting, outcome=Status.SUCCEEDED)
    assert not LimiterSlot.objects.exists()
