"""REST API costs: database queries per request of GET /api/v1/generations at page sizes
10 and 50 (the count must not grow with the page), and its time per request next to
/healthz, through the in-process test client.

Runs on a temporary SQLite file, or on DATABASE_URL when set.
    .venv/bin/python benchmarks/api.py            # BENCH_N=200 requests each by default
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
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
    API_RATE_PER_MINUTE="0",
)
_TMP = Path(tempfile.mkdtemp(prefix="bench-api-"))
os.environ["MEDIA_ROOT"] = str(_TMP / "media")
if not os.environ.get("DATABASE_URL"):
    os.environ["SQLITE_PATH"] = str(_TMP / "bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts import api_keys  # noqa: E402
from accounts.models import User  # noqa: E402
from generations.models import Asset, Generation, Status  # noqa: E402

N = int(os.environ.get("BENCH_N", "200"))


def seed() -> str:
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(email="bench@example.org")
    if not Generation.objects.filter(owner=user).exists():
        png = ContentFile(b"\x89PNG\r\n\x1a\n" + b"0" * 64, name="x.png")
        for i in range(120):
            generation = Generation.objects.create(
                owner=user,
                kind="text2image",
                provider="simulator",
                model_name="kling-v3",
                prompt=f"Benchmark picture {i}",
                params={"n": 2},
                cost=2,
                status=Status.SUCCEEDED if i % 3 else Status.PROCESSING,
                finished_at=timezone.now() if i % 3 else None,
                assets_saved_at=timezone.now() if i % 3 else None,
            )
            for index in range(2 if i % 3 else 0):
                asset = Asset(
                    generation=generation, kind=Asset.Kind.IMAGE, index=index, content_type="image/png"
                )
                asset.file.save(f"bench-{i}-{index}.png", png, save=False)
                asset.save()
    return api_keys.create_key(user, "benchmark")[1]


def queries(client: APIClient, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(captured)


def timing(client: APIClient, url: str, **params) -> list[float]:
    times = []
    for _ in range(N):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 503), response.status_code
    return times


def line(label: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95) - 1]
    return f"{label:<34} p50 {statistics.median(times):6.2f} ms  p95 {p95:6.2f} ms  ({len(times) / (sum(times) / 1000):6.0f} req/s)"


def main() -> None:
    key = seed()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = reverse("api:generations")
    print(f"database: {connection.vendor}; {N} requests each")
    client.get(url)  # the key's first use records last_used_at: not part of a steady request
    counts = {size: queries(client, url, page_size=size) for size in (10, 50)}
    for size, count in counts.items():
        print(f"GET /api/v1/generations page_size={size:<3} {count} queries")
    print("constant in page size:", "yes" if len(set(counts.values())) == 1 else "NO")
    print(line("GET /healthz", timing(APIClient(), reverse("healthz"))))
    print(line("GET /api/v1/generations (20)", timing(client, url)))
    print(line("GET /api/v1/generations (50)", timing(client, url, page_size=50)))


if __name__ == "__main__":
    main()
