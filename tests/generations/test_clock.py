"""The poll sweep's cadence: the clock process runs each pass itself (no wait in the task
queue, never a worker asleep between passes), one interval after the last one began less
what that one took, so finished work is seen within one interval; several clocks give one
pass per interval; the every-minute schedule sweeps only when no clock does."""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from generations import clock, follow, services, tasks
from generations.models import Generation, Status, SweepClock
from tests.generations.conftest import cleaned, in_flight_at_provider


@pytest.fixture
def passes(monkeypatch) -> list[dict]:
    """Passes the clock ran (counted instead of swept), with the `ahead` each was given."""
    ran: list[dict] = []
    monkeypatch.setattr(follow, "sweep", lambda *a, **k: ran.append(k) or follow.SweepReport())
    return ran


@pytest.fixture
def in_flight(rich_alice, commit, slots):
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "a fox")
    return Generation.objects.get(pk=generation.pk)


def test_a_sweep_task_is_one_pass_and_never_sleeps(in_flight, fake, monkeypatch):
    def no_sleep(seconds):
        raise AssertionError("a sweep task must not sleep in its worker")

    monkeypatch.setattr(time, "sleep", no_sleep)
    swept = []
    real_sweep = follow.sweep
    monkeypatch.setattr(follow, "sweep", lambda *a, **k: swept.append(1) or real_sweep(*a, **k))
    tasks.sweep_pass()
    assert swept == [1]
    assert SweepClock.objects.get().started_at is not None


def test_the_clock_runs_one_pass_per_interval_itself_while_work_is_in_flight(
    in_flight, passes, settings, monkeypatch
):
    settings.GENERATION_POLL_SECONDS = 12
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: pytest.fail("a pass went to the queue"))
    start = timezone.now()
    assert clock.tick(start) is True
    assert passes == [{"ahead": timedelta(seconds=12)}]
    # A second clock (or the same one a second later) finds the pass already done.
    assert clock.tick(start) is False
    assert clock.tick(start + timedelta(seconds=5)) is False
    assert len(passes) == 1
    assert SweepClock.objects.get().started_at == start
    assert clock.tick(start + timedelta(seconds=12)) is True
    assert len(passes) == 2


def test_a_failed_pass_is_logged_and_the_next_one_comes_an_interval_later(in_flight, settings, monkeypatch):
    settings.GENERATION_POLL_SECONDS = 12

    def database_gone(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(follow, "sweep", database_gone)
    start = timezone.now()
    with pytest.raises(DatabaseError):
        clock.tick(start)
    ran = []
    monkeypatch.setattr(follow, "sweep", lambda **k: ran.append(1) or follow.SweepReport())
    assert not clock.tick(start + timedelta(seconds=1))
    assert clock.tick(start + timedelta(seconds=12))
    assert ran == [1]


def test_two_clocks_that_read_the_same_row_run_one_pass(in_flight, passes, settings, monkeypatch):
    settings.GENERATION_POLL_SECONDS = 12
    stale = SweepClock.objects.get_or_create(pk=1)[0]
    now = timezone.now()
    assert clock.tick(now)
    # The other clock read the row before the first one wrote it.
    monkeypatch.setattr(clock, "_row", lambda: stale)
    assert not clock.tick(now)
    assert len(passes) == 1


def test_an_idle_site_runs_no_pass(db, passes, settings):
    settings.GENERATION_POLL_SECONDS = 12
    assert not clock.tick()
    assert passes == []


def test_poll_seconds_zero_turns_the_clock_off(in_flight, passes, settings):
    settings.GENERATION_POLL_SECONDS = 0
    assert clock.interval() is None
    assert not clock.tick()
    assert passes == []


PASS_SECONDS = 1.5  # what a pass takes from its list read to its last update
WAKE_SECONDS = 0.5  # poll_clock's default


def test_on_a_fake_clock_finished_work_is_seen_within_one_interval(alice, fake, settings, monkeypatch):
    """200 in flight, polling only, each finishing at a random moment over 90 s; the clock
    ticks every half second, as poll_clock does, and each pass takes 1.5 s after its list
    read. Passes start one interval after the last began less what it took, so list reads
    are 10.5 s apart and the worst finish-to-visible is one interval, the p95 under it."""
    settings.GENERATION_POLL_SECONDS = 12
    settings.KLING_MAX_QPM = 0
    monkeypatch.setattr("generations.queue.fetch_results", lambda pk: None)
    monkeypatch.setattr("generations.queue.notify_finished", lambda pk: None)
    start = timezone.now()
    ids = in_flight_at_provider(
        fake,
        alice,
        200,
        submitted_from=start - timedelta(seconds=10),
        spacing=timedelta(milliseconds=50),
        deadline_at=start + timedelta(hours=1),
    )
    rng = random.Random(13)
    finishes = {task_id: start.timestamp() + rng.uniform(1, 90) for task_id in ids}
    reads: list[float] = []
    visible: dict[str, float] = {}
    real_list, real_apply = fake.list_tasks, follow.apply_task

    def list_tasks(*args, **kwargs):
        now = timezone.now().timestamp()
        reads.append(now)
        for task_id, at in finishes.items():
            if at <= now and not fake.tasks[task_id].media:
                fake.succeed(task_id)
        page = real_list(*args, **kwargs)
        traveller.shift(timedelta(seconds=PASS_SECONDS))
        return page

    def apply_task(generation, task):
        if task.is_terminal:
            visible.setdefault(task.task_id, timezone.now().timestamp())
        return real_apply(generation, task)

    real_succeed_many = services.succeed_many

    def succeed_many(results, from_statuses):
        # Finishes the list showed, written together: visible like apply_task's.
        for generation, _ in results:
            visible.setdefault(generation.task_id, timezone.now().timestamp())
        return real_succeed_many(results, from_statuses)

    monkeypatch.setattr(fake, "list_tasks", list_tasks)
    monkeypatch.setattr(follow, "apply_task", apply_task)
    monkeypatch.setattr(services, "succeed_many", succeed_many)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(int(120 / WAKE_SECONDS)):
            clock.tick()
            traveller.shift(timedelta(seconds=WAKE_SECONDS))

    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 200
    gaps = [b - a for a, b in itertools.pairwise(reads)]
    assert all(12 - PASS_SECONDS - WAKE_SECONDS <= gap <= 12 - PASS_SECONDS + WAKE_SECONDS for gap in gaps), (
        gaps
    )
    latencies = sorted(visible[t] - finishes[t] for t in ids)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"list reads {min(gaps):.1f}-{max(gaps):.1f} s apart; finish to visible p95 {p95:.1f} s")
    assert latencies[-1] <= 12 + WAKE_SECONDS
    assert p95 <= 12
    # One list call a pass, no single lookups: about 0.05 requests per generation here.
    assert {call[0] for call in fake.calls} == {"list"}
    assert len(reads) <= 12


def test_the_minute_schedule_sweeps_only_when_no_clock_has(in_flight, fake, settings):
    settings.GENERATION_POLL_SECONDS = 12
    # No clock process: the schedule's pass is the sweep.
    assert clock.fallback_pass() is not None
    # A clock started a pass within the last minute: the schedule leaves it alone.
    assert tasks.poll_sweep().startswith("skipped")
    later = timezone.now() + timedelta(minutes=2)
    assert clock.fallback_pass(later) is not None


def test_the_clock_loop_survives_database_and_broker_errors(db, monkeypatch):
    stop = threading.Event()
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseError("server closed the connection unexpectedly")
        if len(calls) == 2:
            raise ConnectionError("broker down")
        stop.set()

    monkeypatch.setattr(clock, "tick", tick)
    clock.keep_time(stop, wake=0.01)
    assert len(calls) == 3


def test_a_finished_job_stops_the_clock(in_flight, passes, settings):
    settings.GENERATION_POLL_SECONDS = 12
    Generation.objects.filter(pk=in_flight.pk).update(status=Status.FAILED)
    assert not follow.has_work()
    assert not clock.tick()
