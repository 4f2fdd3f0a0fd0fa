"""The poll sweep's cadence: one short pass every GENERATION_POLL_SECONDS, run by the clock.

django-q2 schedules have a one-minute granularity (its scheduler wakes about every 30 s),
so a 12-second cadence cannot come from a schedule. Nor can it come from a task the clock
enqueues: a pass queued behind a burst of submits and emails waits for a worker, and
polling-only finishes then took 12 s plus that wait to show (p95 21 s at 200 in flight on
a busy machine). So the small `poll_clock` process runs the passes itself: it calls
`tick()` twice a second, and a due tick runs one pass there and then, in that process,
never in a worker (so no worker sleeps between passes either, and Stripe events and
submits never wait behind the sweep).

The shared `SweepClock` row makes any number of clocks give one pass per interval: a
conditional UPDATE decides which clock runs it. A pass is safe to run beside another one
(each claims its rows first, see `follow.claim_due`), so a second clock starting the next
pass while a slow one is still running only splits the work; a clock killed mid-pass
leaves its claimed rows to the next pass once their lease (`follow.POLL_LEASE`) ends.

A real cadence: the next pass is due one interval after this one started, less what this
pass took, so a job that finishes just after a pass read the list is visible about one
interval later, not one interval plus a pass (nor plus a wait in the task queue). With
finishes spread evenly, that puts the p95 from finish to visible at 95% of the interval
plus the clock's half-second wake-up: 11.9 s at the default 12 s. On a fake clock:
tests/generations/test_clock.py.

Unsigned callbacks are confirmed here too (`confirm_hints`): a hint makes its row due now,
and the clock confirms the hinted rows of a product with one list call once `confirm_at`
says so: the first hint waits half a second per hint the product's last call confirmed,
2 s at most, so a burst shares a call every 2 s and a lone hint waits half a second
(25 waiting make a call worth making at once); a pass due within 2 s is brought forward
to confirm them instead. In a worker, that
confirmation waited behind every submit queued before it (a burst of 200 creates put the
p95 from finish to visible at 4.6 s); while a clock keeps time, callbacks leave it to the
clock (`keeping_time`), and enqueue it only when none does.

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
from django.db.models import Count, Min
from django.utils import timezone

from generations import follow
from generations.models import IN_FLIGHT_STATUSES, Generation, SweepClock

logger = logging.getLogger(__name__)

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


def tick(now: datetime | None = None, early: timedelta = timedelta(0)) -> bool:
    """Run a sweep pass, here and now, if one is due (or due within `early`) and there is
    work to follow. True if it did.

    Reads before it writes, so an idle clock costs one small SELECT per call; the
    conditional UPDATE is what lets only one of several clocks run each pass.
    """
    every = interval()
    if every is None:
        return False
    now = now or timezone.now()
    clock = _row()
    if clock.next_pass_at and clock.next_pass_at > now + early:
        return False
    if not follow.has_work():
        return False
    pace = cadence()
    _announce(pace)
    every = max(every, timedelta(seconds=pace.seconds))
    won = SweepClock.objects.filter(
        pk=clock.pk, next_pass_at=clock.next_pass_at, enqueued_at=clock.enqueued_at
    ).update(next_pass_at=now + every, enqueued_at=now, started_at=now)
    if not won:
        return False
    began = timezone.now()
    try:
        follow.sweep(ahead=every)
    finally:
        # Due one interval after this pass began, less what it took: what finished just
        # after this pass read the list is then read by the next one an interval less this
        # pass's time later, and shown about as long after that, so within one interval.
        # At most half an interval less: passes held up by a busy database still start at
        # least that far apart.
        took = min(timezone.now() - began, every / 2)
        SweepClock.objects.filter(pk=clock.pk, enqueued_at=now).update(next_pass_at=now + every - took)
    return True


def run_pass() -> follow.SweepReport:
    """One pass outside the clock (the every-minute schedule, or a pass enqueued before
    the clock ran them itself): it also covers what falls due before the next."""
    SweepClock.objects.filter(pk=_row().pk).update(started_at=timezone.now())
    return follow.sweep(ahead=timedelta(seconds=cadence().seconds))


def keeping_time(now: datetime | None = None) -> bool:
    """Whether a clock process has started a pass lately (it passes every interval while
    work is in flight), so it also confirms unsigned callbacks."""
    every = interval()
    if every is None:
        return False
    quiet_for = max(timedelta(minutes=1), 2 * every)
    return SweepClock.objects.filter(started_at__gt=(now or timezone.now()) - quiet_for).exists()


def fallback_pass(now: datetime | None = None) -> follow.SweepReport | None:
    """The every-minute schedule's pass, skipped while a clock keeps the cadence."""
    if keeping_time(now):
        return None
    return run_pass()


# How long the first waiting hint of a product waits for others to share its list call.
# Each call costs one request, so waiting pays while hints keep coming and is only delay
# for a hint that comes alone: the wait is CONFIRM_MIN_WAIT per hint the product's last
# call confirmed, up to CONFIRM_MAX_WAIT (so a steady stream shares a call every 2 s and a
# lone hint waits half a second). CONFIRM_MAX_WAIT bounds every hint's wait, which keeps
# the p95 from finish to visible within 3 s.
CONFIRM_MIN_WAIT = 0.5
CONFIRM_MAX_WAIT = 2.0
# This many waiting hints make a call worth making at once (0.04 requests each).
CONFIRM_BATCH = 25


@dataclass(frozen=True)
class LastConfirmation:
    at: float  # epoch seconds
    rows: int  # how many hinted rows its list call looked at


def confirm_at(first_hint: float, waiting: int, last: LastConfirmation | None) -> float:
    """When (epoch seconds) to confirm a product's waiting hints with one list call, given
    when the first of them came, how many wait, and the product's last confirmation."""
    if waiting >= CONFIRM_BATCH:
        return first_hint
    if last is None or first_hint - last.at > CONFIRM_MAX_WAIT:
        return first_hint + CONFIRM_MIN_WAIT  # the stream had stopped: this one came alone
    return first_hint + min(CONFIRM_MAX_WAIT, CONFIRM_MIN_WAIT * max(1, last.rows))


_confirmed: dict[str, LastConfirmation] = {}  # product: this clock's last confirmation


@dataclass(frozen=True)
class Confirmed:
    polled: int  # rows looked at
    next_in: float | None  # seconds until the next product's hints are due, if any wait


def confirm_hints(now: datetime | None = None) -> Confirmed:
    """Confirm what unsigned callbacks hinted at (rows due now: a pass covers what falls
    due before the next one, so between passes that is the hinted ones), one list call per
    product once `confirm_at` says so, or by bringing forward a pass due within
    CONFIRM_MAX_WAIT (which lists every product anyway)."""
    now = now or timezone.now()
    waiting = (
        Generation.objects.filter(status__in=IN_FLIGHT_STATUSES, due_at__lte=now)
        .order_by()
        .values("product")
        .annotate(first=Min("due_at"), count=Count("pk"))
    )
    polled, next_in, pass_tried = 0, None, False
    waiting = list(waiting)
    for row in waiting:
        product = row["product"]
        wait = confirm_at(row["first"].timestamp(), row["count"], _confirmed.get(product)) - now.timestamp()
        if wait > 0:
            next_in = wait if next_in is None else min(next_in, wait)
            continue
        if not pass_tried and tick(now, early=timedelta(seconds=CONFIRM_MAX_WAIT)):
            # The pass was due within a window anyway and looked at every waiting hint
            # (they are due): its list calls stand in for these confirmations.
            for each in waiting:
                _confirmed[each["product"]] = LastConfirmation(at=now.timestamp(), rows=each["count"])
            return Confirmed(polled=sum(each["count"] for each in waiting), next_in=None)
        pass_tried = True  # no pass was due: the other products need not ask again
        report = follow.confirm_hints(product, not_before=0)
        _confirmed[product] = LastConfirmation(at=now.timestamp(), rows=report.polled)
        polled += report.polled
    return Confirmed(polled=polled, next_in=next_in)


def keep_time(stop: threading.Event, wake: float = 0.5) -> None:
    """The clock process's loop: `tick()` every `wake` seconds (sooner when hints are due
    for confirmation) until `stop` is set.

    Survives a database or broker outage: the failed tick (or pass) is logged and the next
    one tries again (the every-minute schedule covers a clock that is down for longer).
    """
    pause = wake
    while not stop.wait(pause):
        close_old_connections()
        pause = wake
        try:
            tick()
            due_in = confirm_hints().next_in
            if due_in is not None:
                # Wake when the next product's hints are due, not up to `wake` after.
                pause = min(wake, max(0.02, due_in))
        except DatabaseError:
            logger.warning("poll clock: database error", exc_info=True)
            connection.close()
        except Exception:
            logger.exception("poll clock: a pass failed")
