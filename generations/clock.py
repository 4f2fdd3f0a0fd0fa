"""The poll sweep's cadence: one short pass every GENERATION_POLL_SECONDS, never a sleeping worker.

django-q2 schedules have a one-minute granularity (its scheduler wakes about every 30 s),
so a 12-second cadence cannot come from a schedule, and sleeping between passes inside a
task would keep a worker asleep while Stripe events and submits wait behind it. Instead
the small `poll_clock` process calls `tick()` every second or two; each due tick enqueues
one pass as an ordinary task. The shared `SweepClock` row makes any number of clocks give
one pass per interval, and a pass still waiting for a worker is not enqueued again, so a
busy cluster does not pile passes up.

The every-minute schedule stays as the fallback (`fallback_pass`): it sweeps only when no
clock has started a pass lately, so a site without a clock process still follows its
jobs, once a minute.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from generations import follow, queue
from generations.models import SweepClock

logger = logging.getLogger(__name__)

# An enqueued pass that has not started after this long is taken as lost (a broker
# restart, say) and the next tick enqueues another.
LOST_PASS_AFTER = timedelta(minutes=2)


def interval() -> timedelta | None:
    seconds = settings.GENERATION_POLL_SECONDS
    return timedelta(seconds=seconds) if seconds > 0 else None


def _row() -> SweepClock:
    return SweepClock.objects.get_or_create(pk=1)[0]


def tick(now: datetime | None = None) -> bool:
    """Enqueue a sweep pass if one is due and there is work to follow. True if it did.

    Reads before it writes, so an idle clock costs one small SELECT per call; the
    conditional UPDATE is what lets only one of several clocks enqueue each pass.
    """
    every = interval()
    if every is None:
        return False
    now = now or timezone.now()
    clock = _row()
    if clock.next_pass_at and clock.next_pass_at > now:
        return False
    pass_waiting = (
        clock.enqueued_at is not None
        and (clock.started_at is None or clock.started_at < clock.enqueued_at)
        and clock.enqueued_at > now - LOST_PASS_AFTER
    )
    if pass_waiting or not follow.has_work():
        return False
    won = SweepClock.objects.filter(
        pk=clock.pk, next_pass_at=clock.next_pass_at, enqueued_at=clock.enqueued_at
    ).update(next_pass_at=now + every, enqueued_at=now)
    if won:
        try:
            queue.sweep_pass()
        except Exception:
            # Nothing reached the broker: hand the turn back so the next tick tries again,
            # rather than waiting LOST_PASS_AFTER for a pass that was never enqueued.
            SweepClock.objects.filter(pk=clock.pk, enqueued_at=now).update(
                next_pass_at=clock.next_pass_at, enqueued_at=clock.enqueued_at
            )
            raise
    return bool(won)


def run_pass() -> follow.SweepReport:
    """One pass, as enqueued by a clock."""
    SweepClock.objects.filter(pk=_row().pk).update(started_at=timezone.now())
    return follow.sweep()


def fallback_pass(now: datetime | None = None) -> follow.SweepReport | None:
    """The every-minute schedule's pass, skipped while a clock keeps the cadence."""
    now = now or timezone.now()
    every = interval()
    if every is not None:
        quiet_for = max(timedelta(minutes=1), 2 * every)
        if SweepClock.objects.filter(started_at__gt=now - quiet_for).exists():
            return None
    return run_pass()


def keep_time(stop: threading.Event, wake: float = 1.0) -> None:
    """The clock process's loop: `tick()` every `wake` seconds until `stop` is set.

    Survives a database or broker outage: the failed tick is logged and the next one tries
    again (the every-minute schedule covers a clock that is down for longer).
    """
    while not stop.wait(wake):
        close_old_connections()
        try:
            tick()
        except DatabaseError:
            logger.warning("poll clock: database error", exc_info=True)
            connection.close()
        except Exception:
            logger.exception("poll clock: could not enqueue a pass")
