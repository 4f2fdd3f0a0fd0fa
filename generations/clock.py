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

The cadence adapts to the request budget (`cadence()`): a pass reads one list page per
500 tasks, and the sweep keeps to SWEEP_BUDGET_SHARE of KLING_MAX_QPM, leaving the rest
for creates and callback confirmations. When that, not GENERATION_POLL_SECONDS, sets the
pace, the clock logs the effective cadence and the generations admin says so. Each pass
also looks at what falls due before the next one, so a longer cadence never adds to a
generation's wait beyond its own poll interval (two minutes at most).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
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
# The part of KLING_MAX_QPM the sweep plans to spend; creates and confirmations get the rest.
SWEEP_BUDGET_SHARE = 0.5


def interval() -> timedelta | None:
    seconds = settings.GENERATION_POLL_SECONDS
    return timedelta(seconds=seconds) if seconds > 0 else None


@dataclass(frozen=True)
class Cadence:
    seconds: float  # between two passes
    setting: float  # GENERATION_POLL_SECONDS
    pages: int  # list pages one pass reads to see everything in flight

    @property
    def budget_bound(self) -> bool:
        """Whether the request budget, not the setting, sets the pace."""
        return self.seconds > self.setting


def cadence() -> Cadence:
    """Seconds between passes: GENERATION_POLL_SECONDS, or longer when the list pages a
    pass needs would spend more than SWEEP_BUDGET_SHARE of KLING_MAX_QPM."""
    setting = float(follow.poll_base_seconds())
    pages = follow.list_pages_needed()
    seconds = setting
    if settings.KLING_MAX_QPM > 0 and pages:
        seconds = max(setting, 60 * pages / (settings.KLING_MAX_QPM * SWEEP_BUDGET_SHARE))
    return Cadence(seconds=seconds, setting=setting, pages=pages)


_announced: list[float] = []  # the budget-bound cadence this process last logged


def _announce(pace: Cadence) -> None:
    last = _announced[-1] if _announced else None
    shown = round(pace.seconds) if pace.budget_bound else None
    if shown == last:
        return
    _announced[:] = [shown]
    if pace.budget_bound:
        logger.warning(
            "poll sweep: a pass every %s s, not %s s: %s list page(s) a pass within KLING_MAX_QPM=%s",
            shown,
            round(pace.setting),
            pace.pages,
            settings.KLING_MAX_QPM,
        )
    else:
        logger.info("poll sweep: back to a pass every %s s", round(pace.setting))


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
    pace = cadence()
    _announce(pace)
    every = max(every, timedelta(seconds=pace.seconds))
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
    """One pass, as enqueued by a clock: it also covers what falls due before the next."""
    SweepClock.objects.filter(pk=_row().pk).update(started_at=timezone.now())
    return follow.sweep(ahead=timedelta(seconds=cadence().seconds))


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
