"""`manage.py poll_clock`: the process that gives the poll sweep its cadence (see generations/clock.py).

Run one next to the web and worker processes (Procfile `clock`); more are harmless. It
runs the sweep passes itself and holds no lock and no transaction across a provider
request, so it can be killed at any moment (the rows a killed pass claimed are looked at
again when their lease ends); it stops on SIGTERM or SIGINT after the pass under way.
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
            signal.signal(signum, lambda *_: stop.set())
        every = clock.interval()
        self.stdout.write(
            f"poll clock: a pass every {every.total_seconds():g} s while work is in flight"
            if every
            else "poll clock: GENERATION_POLL_SECONDS=0, leaving the sweep to the every-minute schedule"
        )
        clock.keep_time(stop, wake)
        self.stdout.write("poll clock: stopped")
