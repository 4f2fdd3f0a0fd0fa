"""Charges per second through billing.ledger.charge.

One thread, then 4 threads contending for one account (and, for comparison, 4 threads
on 4 accounts). On SQLite (a temporary file, the demo configuration: WAL, IMMEDIATE
transactions) and, when DATABASE_URL is set, on PostgreSQL (a throwaway database next to
the one it names, dropped afterwards). Each engine runs in its own process because
Django reads its settings once.

    .venv/bin/python benchmarks/ledger.py
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/ledger.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINGLE = int(os.environ.get("BENCH_CHARGES", "2000"))
THREADS = 4


def main() -> int:
    runs = [("SQLite", {"DATABASE_URL": "", "BENCH_ENGINE": "sqlite"})]
    if os.environ.get("DATABASE_URL"):
        runs.append(("PostgreSQL", {"BENCH_ENGINE": "postgresql"}))
    for label, env in runs:
        print(f"== {label}", flush=True)
        result = subprocess.run([sys.executable, __file__], env={**os.environ, **env, "BENCH_CHILD": "1"})
        if result.returncode:
            return result.returncode
    return 0


def _timed(threads: int, work) -> float:
    barrier = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        from django.db import connection

        try:
            barrier.wait()
            work(index)
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started


def child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
    tmp = tempfile.TemporaryDirectory()
    if os.environ["BENCH_ENGINE"] == "sqlite":
        os.environ["SQLITE_PATH"] = str(Path(tmp.name) / "bench.sqlite3")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Demo mode turns DEBUG on, and its cursor records every query: measure what
    # production runs.
    settings.DEBUG = False
    from django.db import connection

    from accounts.models import User
    from billing import ledger

    old_name = None
    if connection.vendor == "postgresql":
        old_name = connection.settings_dict["NAME"]
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_ledger_{os.getpid()}"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    else:
        call_command("migrate", verbosity=0)
    try:
        users = [User.objects.create_user(email=f"bench{i}@example.org") for i in range(THREADS)]
        for user in users:
            ledger.grant(user, 10**9, key=f"bench:grant:{user.pk}")
        print(f"   database: {connection.vendor} {connection.settings_dict['NAME']}")

        def charges(user, prefix: str, count: int):
            def work(_index: int) -> None:
                for i in range(count):
                    ledger.charge(user, 1, key=f"{prefix}:{_index}:{i}")

            return work

        seconds = _timed(1, charges(users[0], "single", SINGLE))
        print(
            f"   1 thread:                      {SINGLE / seconds:8.0f} charges/s  ({SINGLE} in {seconds:.2f} s)"
        )

        per_thread = SINGLE // THREADS
        seconds = _timed(THREADS, charges(users[1], "contended", per_thread))
        total = per_thread * THREADS
        print(
            f"   {THREADS} threads, one account:        {total / seconds:8.0f} charges/s  ({total} in {seconds:.2f} s)"
        )

        def spread(index: int) -> None:
            charges(users[index], "spread", per_thread)(index)

        seconds = _timed(THREADS, spread)
        print(
            f"   {THREADS} threads, separate accounts:  {total / seconds:8.0f} charges/s  ({total} in {seconds:.2f} s)"
        )

        drifts = ledger.find_drifts()
        expected = [SINGLE + per_thread, total + per_thread] + [per_thread] * (THREADS - 2)
        spent = [10**9 - ledger.balance_of(user) for user in users]
        assert spent == expected, (spent, expected)
        assert drifts == [], drifts
        print("   ledger exact after the run: no drift")
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        tmp.cleanup()


if __name__ == "__main__":
    if os.environ.get("BENCH_CHILD"):
        child()
    else:
        sys.exit(main())
