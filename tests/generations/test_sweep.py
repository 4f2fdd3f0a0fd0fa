"""The poll sweep: batch lookups per product, single lookups only when needed, backoff by
age, deadlines, lost tasks, the request budget, and several sweeps at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, services
from generations.apps import POLL_SWEEP_SCHEDULE, create_schedules
from generations.models import Generation, Status
from tests.generations.conftest import cleaned
from tests.generations.fakes import record_finishes, server_timeout


@pytest.fixture
def many(rich_alice, commit, slots, settings):
    slots.slots = 1000
    settings.MAX_QUEUED_PER_USER = 0  # one person with many jobs at once

    def make(count: int, kind: str = "text2video") -> list[Generation]:
        made = []
        with commit():
            for i in range(count):
                made.append(services.create_generation(rich_alice, kind, cleaned(kind), f"{kind}-{i}"))
        return [Generation.objects.get(pk=g.pk) for g in made]

    return make


def test_it_covers_every_task_of_a_product_with_one_list_call(many, fake, commit, clock):
    videos = many(30)
    images = many(10, "text2image")
    for generation in videos + images:
        fake.succeed(fake.task_for(generation).task_id)
    clock.shift(timedelta(seconds=15))
    with commit():
        report = follow.sweep()
    assert report.polled == 40
    assert fake.count("list") == 2 and fake.count("get") == 0
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 40
    assert Generation.objects.filter(assets_saved_at__isnull=False).count() == 40
    # 40 creates + 2 lookups for 40 finished generations.
    assert fake.request_count == 42


def test_it_looks_up_singly_only_what_the_list_missed(many, fake, commit, clock):
    generations = many(5)
    hidden = generations[0]
    fake.hide_from_list(hidden.task_id)
    fake.start(hidden.task_id)
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    assert fake.count("list") == 1
    assert [c for c in fake.calls if c[0] == "get"] == [("get", "videos/text2video", hidden.task_id)]
    assert Generation.objects.get(pk=hidden.pk).status == Status.PROCESSING


def test_it_polls_old_tasks_less_often(many, fake, commit, clock):
    (generation,) = many(1)
    clock.shift(timedelta(minutes=10))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    # Ten minutes old: next look in a minute (a tenth of its age), not every pass.
    wait = (generation.due_at - timezone.now()).total_seconds()
    assert 50 < wait <= 61
    clock.shift(timedelta(seconds=20))
    with commit():
        report = follow.sweep()
    assert report.polled == 0 and fake.count("list") == 1


def test_it_gives_up_past_the_deadline_after_one_last_lookup(many, fake, commit, clock, settings, rich_alice):
    first, second = many(2)
    fake.start(first.task_id)
    fake.start(second.task_id)
    clock.shift(timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES, seconds=1))
    fake.succeed(second.task_id)  # finished just in time: the last lookup sees it
    with commit():
        report = follow.sweep()
    first.refresh_from_db()
    second.refresh_from_db()
    assert report.expired == 1
    assert first.status == Status.FAILED and first.error_code == "deadline"
    assert "did not finish this within 60 minutes" in first.error_message
    assert second.status == Status.SUCCEEDED
    assert list(
        LedgerEntry.objects.filter(generation=first, kind="refund").values_list("amount", flat=True)
    ) == [25]
    assert ledger.balance_of(rich_alice) == 1000 - 25


def test_a_failed_lookup_at_the_deadline_never_fails_a_job(many, fake, commit, clock, settings, rich_alice):
    (generation,) = many(1)
    fake.start(generation.task_id)
    clock.shift(timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES, seconds=1))
    fake.fail_next_list(server_timeout())
    fake.fail_next_get(server_timeout())
    with commit():
        report = follow.sweep()
    generation.refresh_from_db()
    # Kling may still finish and bill it: no answer, no refund.
    assert report.expired == 0 and generation.status == Status.SUBMITTED
    assert not LedgerEntry.objects.filter(generation=generation, kind="refund").exists()

    clock.shift(timedelta(seconds=follow.poll_base_seconds()))
    with commit():
        report = follow.sweep()
    generation.refresh_from_db()
    assert report.expired == 1 and generation.status == Status.FAILED
    assert LedgerEntry.objects.filter(generation=generation, kind="refund").count() == 1


def test_an_ambiguous_create_is_not_refunded_at_the_deadline_without_a_lookup(
    rich_alice, fake, commit, clock, settings
):
    fake.fail_next_submit(server_timeout(), created=True)
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "amb")
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.maybe_created
    clock.shift(timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES, seconds=1))
    fake.fail_next_find(server_timeout())
    with commit():
        follow.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED  # the last lookup errored: ask again later
    assert not LedgerEntry.objects.filter(generation=generation, kind="refund").exists()

    clock.shift(timedelta(minutes=5))
    with commit():
        follow.submit(generation.pk)
    generation.refresh_from_db()
    # Only now, with Kling's own answer that its task is still unfinished past the
    # deadline, is it given up: recorded first, then failed and refunded once.
    assert generation.task_id == fake.jobs_for(generation)[0].task_id
    assert len(fake.jobs_for(generation)) == 1
    assert generation.status == Status.FAILED and generation.error_code == "deadline"
    assert LedgerEntry.objects.filter(generation=generation, kind="refund").count() == 1


def test_it_fails_work_that_never_got_started_by_the_deadline(many, fake, commit, clock, slots, settings):
    slots.slots = 0
    (generation,) = many(1)
    assert generation.status == Status.QUEUED and generation.wait_reason == "slot"
    clock.shift(timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES, seconds=1))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "too busy to start" in generation.error_message
    assert fake.count("submit") == 0
    assert LedgerEntry.objects.filter(generation=generation, kind="refund").count() == 1


def test_time_waiting_in_our_queue_does_not_eat_into_klings_deadline(
    many, fake, commit, clock, slots, settings
):
    slots.slots = 1
    first, second = many(2)
    assert second.status == Status.QUEUED and second.wait_reason == "slot"
    clock.shift(timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES - 10))
    fake.succeed(first.task_id)
    with commit():
        follow.sweep()  # the first finishes, its slot sends the second 50 minutes late
    second.refresh_from_db()
    assert second.status == Status.SUBMITTED
    fake.start(second.task_id)
    clock.shift(timedelta(minutes=20))  # 70 minutes after it was made, 20 at Kling
    with commit():
        report = follow.sweep()
    second.refresh_from_db()
    assert report.expired == 0
    assert second.status == Status.PROCESSING
    assert second.deadline_at > timezone.now() + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES - 21)


def test_it_sends_again_a_generation_whose_submit_task_was_lost(rich_alice, fake, commit, clock):
    # Created and committed, but the enqueue never happened (a crash between the two).
    generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "lost")
    with commit():
        follow.sweep()
    assert fake.count("submit") == 0  # too fresh to call it lost
    clock.shift(timedelta(seconds=31))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and fake.count("submit") == 1


def test_it_waits_for_the_request_budget(many, fake, commit, clock, slots):
    (generation,) = many(1)
    fake.succeed(generation.task_id)
    slots.requests = 0
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    assert fake.count("list") == 0 and fake.count("get") == 0
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert generation.due_at <= timezone.now()  # due again on the next pass

    slots.requests = None
    with commit():
        follow.sweep()
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def test_the_sweep_schedule_is_created_once_by_name(db):
    from django_q.models import Schedule

    create_schedules(sender=None)
    create_schedules(sender=None)
    (schedule,) = Schedule.objects.filter(name=POLL_SWEEP_SCHEDULE)
    assert schedule.func == "generations.tasks.poll_sweep"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)

    Schedule.objects.filter(pk=schedule.pk).update(repeats=0)  # an operator paused it
    create_schedules(sender=None)
    assert Schedule.objects.get(name=POLL_SWEEP_SCHEDULE).repeats == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_racing_never_process_a_generation_twice(alice, fake, slots, monkeypatch, settings):
    """Two workers sweep at the same moment over 40 finished tasks: each generation is
    claimed by exactly one of them, finished once, copied once, and the failed ones are
    refunded exactly once. (Real threads and transactions; on PostgreSQL the claims use
    SKIP LOCKED, on SQLite conditional UPDATEs.)"""
    ledger.grant(alice, 5000, key="race:grant")
    slots.slots = 1000
    settings.MAX_QUEUED_PER_USER = 0
    generations = []
    for i in range(40):
        generation = services.create_generation(alice, "text2video", cleaned("text2video"), f"race-{i}")
        follow.submit(generation.pk)  # in a transaction=True test, on_commit runs at once
        generations.append(Generation.objects.get(pk=generation.pk))
    fake.calls.clear()
    for i, generation in enumerate(generations):
        if i % 2:
            fake.fail(generation.task_id)
        else:
            fake.succeed(generation.task_id)
    Generation.objects.update(due_at=timezone.now() - timedelta(seconds=1))

    # Transitions are counted at the one place they happen.
    applied = record_finishes(monkeypatch)
    barrier = threading.Barrier(2)
    reports = []
    errors = []

    def worker():
        try:
            barrier.wait()
            reports.append(follow.sweep())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(applied) == sorted(g.pk for g in generations)  # each exactly once
    assert sum(r.polled for r in reports) == 40
    assert Generation.objects.filter(status=Status.SUCCEEDED, assets_saved_at__isnull=False).count() == 20
    assert Generation.objects.filter(status=Status.FAILED).count() == 20
    refunds = LedgerEntry.objects.filter(kind="refund").values_list("generation_id", flat=True)
    assert sorted(refunds) == sorted(g.pk for g in generations[1::2])
    assert ledger.find_drifts() == []
