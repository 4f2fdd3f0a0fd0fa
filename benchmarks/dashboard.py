"""Economics dashboard costs: queries and time of GET /admin/economics/ (last 30 days) with
10,000 and then 100,000 generations over the month, each with its ledger entries (a charge,
and a refund for the 5 % that failed), through the in-process test client.

Each size is measured twice: from the raw rows only (no daily rollups; BENCH_RAW_RUNS
pages), then after `rebuild_rollups` has summed the past days (BENCH_RUNS pages), with the
time of that rebuild and of the scheduled task's run when nothing is left to sum.

The database: TEST_DATABASE_URL or DATABASE_URL when given, else a PostgreSQL of its own
when installed, else a temporary SQLite file. Prints the number of queries per page, the
slowest queries with their time, and the page's median and worst time.
    .venv/bin/python benchmarks/dashboard.py
    BENCH_SIZES=10000 BENCH_RUNS=5 .venv/bin/python benchmarks/dashboard.py
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from _env import setup

if os.environ.get("TEST_DATABASE_URL") and not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
setup("dashboard", own_services=True, plain_static=True)

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import ledger  # noqa: E402
from billing.models import CreditAccount, LedgerEntry, Purchase  # noqa: E402
from economics import rollup  # noqa: E402
from economics.models import GenerationDay, LedgerDay, ResourcePack, RollupDay  # noqa: E402
from generations.models import Generation, Status  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "10000,100000").split(",")]
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
RAW_RUNS = int(os.environ.get("BENCH_RAW_RUNS", "3"))
OWNERS = 50
MODELS = [
    ("kling-v2-6", "std", 5),
    ("kling-v2-6", "pro", 10),
    ("kling-v2-1", "pro", 5),
    ("kling-v3", "std", 5),
]
URL = "/admin/economics/?period=30d"


def seed_people() -> tuple[User, list[CreditAccount]]:
    call_command("migrate", verbosity=0)
    staff, _ = User.objects.get_or_create(
        email="staff@example.org", defaults={"is_staff": True, "is_superuser": True}
    )
    now = timezone.now()
    if not ResourcePack.objects.exists():
        ResourcePack.objects.create(
            name="Video-100000",
            units=Decimal(100000),
            price_paid=Decimal(14000),
            purchased_at=now - timedelta(days=60),
            expires_at=now + timedelta(days=30),
        )
    accounts = []
    for i in range(OWNERS):
        owner, created = User.objects.get_or_create(email=f"user{i}@example.org")
        if created or not Purchase.objects.filter(user=owner).exists():
            bought = Purchase.objects.create(
                user=owner,
                pack_name="Bulk",
                credits=1_000_000,
                amount_minor=10_000_000,
                currency="usd",
                status=Purchase.Status.PAID,
                paid_at=now - timedelta(days=31),
                stripe_session_id=f"cs_bench_{i}",
            )
            ledger.credit_purchase(
                owner, bought.credits, key=f"checkout:{bought.stripe_session_id}", purchase=bought
            )
        accounts.append(CreditAccount.objects.get(user=owner))
    return staff, accounts


def grow_to(n: int, accounts: list[CreditAccount]) -> None:
    """Add generations (and their charges and refunds) until there are `n`."""
    have = Generation.objects.count()
    rng = random.Random(have)
    now = timezone.now()
    for start in range(have, n, 5000):
        rows, entries, spent = [], [], {a.pk: 0 for a in accounts}
        balances = dict(CreditAccount.objects.filter(pk__in=spent).values_list("pk", "balance"))
        for _ in range(min(5000, n - start)):
            model, mode, duration = rng.choice(MODELS)
            failed = rng.random() < 0.05
            when = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
            account = rng.choice(accounts)
            rows.append(
                Generation(
                    owner_id=account.user_id,
                    kind="text2video",
                    provider="simulator",
                    model_name=model,
                    mode=mode,
                    duration=duration,
                    cost=10,
                    created_at=when,
                    finished_at=when,
                    status=Status.FAILED if failed else Status.SUCCEEDED,
                    error_code="risk_control" if failed else "",
                    units_charged=None if failed else Decimal("2.5"),
                )
            )
        Generation.objects.bulk_create(rows, batch_size=1000)
        # The ledger as the site writes it, but in bulk: a charge per generation, a refund
        # per failure, each with the balance it leaves (the benchmark's only shortcut).
        for gen in rows:
            account = next(a for a in accounts if a.user_id == gen.owner_id)
            moves = [(LedgerEntry.Kind.CHARGE, -gen.cost)]
            if gen.status == Status.FAILED:
                moves.append((LedgerEntry.Kind.REFUND, gen.cost))
            for kind, amount in moves:
                balances[account.pk] += amount
                spent[account.pk] += amount
                entries.append(
                    LedgerEntry(
                        account_id=account.pk,
                        amount=amount,
                        balance_after=balances[account.pk],
                        kind=kind,
                        idempotency_key=f"gen:{gen.pk}:{kind}",
                        generation_id=gen.pk,
                        created_at=gen.created_at,
                    )
                )
        LedgerEntry.objects.bulk_create(entries, batch_size=1000)
        for pk, amount in spent.items():
            CreditAccount.objects.filter(pk=pk).update(balance=F("balance") + amount)


def measure(client: Client, label: str, runs: int) -> None:
    timed: list[tuple[float, str]] = []

    def record(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append(((time.perf_counter() - started) * 1000, sql))

    client.get(URL)  # warm: templates, the pack context
    with connection.execute_wrapper(record):
        assert client.get(URL).status_code == 200
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(URL)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"{label}: {Generation.objects.count()} generations, {LedgerEntry.objects.count()} ledger "
        f"entries on {connection.vendor}: {len(timed)} queries, {sum(t for t, _ in timed):.1f} ms in SQL"
    )
    for ms, sql in sorted(timed, reverse=True)[:5]:
        print(f"  {ms:7.1f} ms  {' '.join(sql.split())[:110]}")
    print(f"  page: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms ({runs} runs)")


def main() -> None:
    staff, accounts = seed_people()
    client = Client()
    client.force_login(staff)
    for n in SIZES:
        started = time.perf_counter()
        grow_to(n, accounts)
        print(f"(seeded to {n} in {time.perf_counter() - started:.0f} s)")
        RollupDay.objects.all().delete()
        measure(client, "raw rows", RAW_RUNS)
        started = time.perf_counter()
        days = rollup.refresh(full=True)
        rebuilt = time.perf_counter() - started
        started = time.perf_counter()
        rollup.refresh()
        print(
            f"rebuild_rollups: {days} days, {GenerationDay.objects.count()} generation rows, "
            f"{LedgerDay.objects.count()} ledger rows in {rebuilt:.1f} s; "
            f"the scheduled run with nothing to sum: {(time.perf_counter() - started) * 1000:.0f} ms"
        )
        measure(client, "rollups", RUNS)


if __name__ == "__main__":
    main()
