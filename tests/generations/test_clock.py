"""The poll sweep's cadence: short passes enqueued by the clock process, never a worker
asleep between passes; several clocks give one pass per interval; the every-minute
schedule sweeps only when no clock does."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from generations import clock, follow, services, tasks
from generations.models import Generation, Status, SweepClock
from tests.generations.conftest import cleaned


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """Passes the clock enqueued (counted instead of sent to the broker)."""
    enqueued: list[int] = []
    monkeypatch.setattr("generations.queue.sweep_pass", lambda: enqueued.append(1))
    return enqueued


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


def test_the_clock_enqueues_one_pass_per_interval_while_work_is_in_flight(in_flight, passes, settings):
    settings.GENERATION_POLL_SECONDS = 12
    start = timezone.now()
    assert clock.tick(start) is True
    # A second clock (or the same one a second later) finds the pass already enqueued.
    assert clock.tick(start) is False
    assert clock.tick(start + timedelta(seconds=5)) is False
    assert passes == [1]

    # The pass ran; the next one is due 12 s after the first was enqueued.
    SweepClock.objects.update(started_at=start + timedelta(seconds=1))
    assert clock.tick(start + timedelta(seconds=11)) is False
    assert clock.tick(start + timedelta(seconds=12)) is True
    assert passes == [1, 1]


def test_a_pass_still_waiting_for_a_worker_is_not_enqueued_again_until_it_is_lost(
    in_flight, passes, settings
):
    settings.GENERATION_POLL_SECONDS = 12
    start = timezone.now()
    assert clock.tick(start)
    # Workers are busy: the pass has not started; ticks do not pile more passes up.
    for seconds in (12, 24, 60, 119):
        assert not clock.tick(start + timedelta(seconds=seconds))
    assert passes == [1]
    # Two minutes without starting: taken as lost (a broker restart), enqueued again.
    assert clock.tick(start + clock.LOST_PASS_AFTER + timedelta(seconds=1))
    assert passes == [1, 1]


def test_a_pass_the_broker_refused_is_enqueued_again_on_the_next_tick(in_flight, settings, monkeypatch):
    settings.GENERATION_POLL_SECONDS = 12
    sent: list[int] = []

    def broker_down() -> None:
        raise ConnectionRefusedError("redis is restarting")

    monkeypatch.setattr("generations.queue.sweep_pass", broker_down)
    start = timezone.now()
    with pytest.raises(ConnectionRefusedError):
        clock.tick(start)
    monkeypatch.setattr("generations.queue.sweep_pass", lambda: sent.append(1))
    # The broker is back a second later: no two-minute wait for a pass that never left.
    assert clock.tick(start + timedelta(seconds=1))
    assert sent == [1]


def test_two_clocks_that_read_the_same_row_enqueue_one_pass(in_flight, passes, settings, monkeypatch):
    settings.GENERATION_POLL_SECONDS = 12
    stale = SweepClock.objects.get_or_create(pk=1)[0]
    now = timezone.now()
    assert clock.tick(now)
    # The other clock read the row before the first one wrote it.
    monkeypatch.setattr(clock, "_row", lambda: stale)
    assert not clock.tick(now)
    assert passes == [1]


def test_an_idle_site_enqueues_nothing(db, passes, settings):
    settings.GENERATION_POLL_SECONDS = 12
    assert not clock.tick()
    assert passes == []


def test_poll_seconds_zero_turns_the_clock_off(in_flight, passes, settings):
    settings.GENERATION_POLL_SECONDS = 0
    assert clock.interval() is None
    assert not clock.tick()
    assert passes == []


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
