"""Economics dashboard costs: queries and time of GET /admin/economics/ (30 days) with
10,000 generations (BENCH_GENERATIONS to change), through the in-process test client.

Runs on a temporary SQLite file, or on DATABASE_URL when set.
    .venv/bin/python benchmarks/economics.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
os.environ.update(
    DJANGO_DEBUG="0",
    SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    ALLOWED_HOSTS="testserver",
    SECURE_SSL_REDIRECT="0",
    ALLOW_SIMULATOR_IN_PRODUCTION="1",
    LOG_LEVEL="WARNING",
)
_TMP = Path(tempfile.mkdtemp(prefix="bench-economics-"))
os.environ["MEDIA_ROOT"] = str(_TMP / "media")
if not os.environ.get("DATABASE_URL"):
    os.environ["SQLITE_PATH"] = str(_TMP / "bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Admin pages name their static files; nothing ran collectstatic, so no manifest.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from economics.models import ResourcePack  # noqa: E402
from generations.models import Generation, Status  # noqa: E402

N = int(os.environ.get("BENCH_GENERATIONS", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
MODELS = [
    ("kling-v2-6", "std", 5),
    ("kling-v2-6", "pro", 10),
    ("kling-v2-1", "pro", 5),
    ("kling-v3", "std", 5),
]


def seed() -> User:
    call_command("migrate", verbosity=0)
    staff, _ = User.objects.get_or_create(
        email="staff@example.org", defaults={"is_staff": True, "is_superuser": True}
    )
    now = timezone.now()
    if not ResourcePack.objects.exists():
        ResourcePack.objects.create(
            name="Video-10000",
            units=Decimal(10000),
            price_paid=Decimal(1400),
            purchased_at=now - timedelta(days=60),
            expires_at=now + timedelta(days=30),
        )
    owners = [User.objects.get_or_create(email=f"user{i}@example.org")[0] for i in range(50)]
    rng = random.Random(7)
    if Generation.objects.count() < N:
        rows = []
        for _ in range(N):
            model, mode, duration = rng.choice(MODELS)
            failed = rng.random() < 0.05
            when = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
            rows.append(
                Generation(
                    owner=rng.choice(owners),
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
    return staff


def main() -> None:
    staff = seed()
    client = Client()
    client.force_login(staff)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert client.get("/admin/economics/?period=30d").status_code == 200
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        client.get("/admin/economics/?period=30d")
        times.append((time.perf_counter() - start) * 1000)
    print(f"economics dashboard, {Generation.objects.count()} generations on {connection.vendor}")
    print(f"  queries per page: {len(queries)}")
    print(f"  ms per page: median {statistics.median(times):.1f}, max {max(times):.1f} ({RUNS} runs)")


if __name__ == "__main__":
    main()
