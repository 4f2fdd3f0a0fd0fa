"""`manage.py poll_clock`: the process that gives the poll sweep its cadence (see generations/clock.py).

Run one next to the web and worker processes (Procfile `clock`); more are harmless. It
runs the sweep passes itself and holds no lock and no transaction across a provider
request, so it can be killed at any moment (the rows a killed pass claimed are looked at
again when their lease ends). So it stops at once on SIGTERM or SIGINT, abandoning a
pass under way like a killed one: waiting for a pass held up by a slow provider or a busy
database would outlast a supervisor's grace period and end in SIGKILL anyway.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from generations import clock


class Command(BaseCommand):
    help = "Run a poll sweep pass every GENERATION_POLL_SECONDS while jobs are in flight."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wake", type=float, default=0.5, help="Seconds between checks of whether a pass is due."
        )

    def handle(self, *args, wake: float, **options) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _stop_now)
        every = clock.interval()
        self.stdout.write(
            f"poll clock: a pass every {every.total_seconds():g} s while work is in flight"
            if every
            else "poll clock: GENERATION_POLL_SECONDS=0, leaving the sweep to the every-minute schedule"
        )
        try:
            clock.keep_time(stop, wake)
        finally:
            self.stdout.write("poll clock: stopped")


def _stop_now(*_) -> None:
    # Raised in the main thread, out of the wait or the pass (keep_time catches Exception only).
    raise SystemExit(0)
