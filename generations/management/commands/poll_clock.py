"""`manage.py poll_clock`: the process that gives the poll sweep its cadence (see generations/clock.py).

Run one next to the web and worker processes (Procfile `clock`); more are harmless. It
holds no lock and no transaction, so it can be killed at any moment; it stops on SIGTERM
or SIGINT within one wake-up.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from generations import clock


class Command(BaseCommand):
    help = "Enqueue a poll sweep pass every GENERATION_POLL_SECONDS while jobs are in flight."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wake", type=float, default=1.0, help="Seconds between checks of whether a pass is due."
        )

    def handle(self, *args, wake: float, **options) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        every = clock.interval()
        self.stdout.write(
            f"poll clock: a pass every {every.total_seconds():g} s while work is in flight"
            if every
            else "poll clock: GENERATION_POLL_SECONDS=0, leaving the sweep to the every-minute schedule"
        )
        clock.keep_time(stop, wake)
        self.stdout.write("poll clock: stopped")
