"""REST API costs, in two parts.

1. In-process (Django's test client): database queries per request of
   GET /api/v1/generations at page sizes 10 and 50 (the count must not grow with the page)
   and time per request next to /healthz.
2. Real processes: gunicorn with 2 workers on production settings, 8 client threads for
   10 s against each of GET /api/v1/generations?page_size=50, POST /api/v1/quote and
   GET /healthz; requests per second, p50/p95, and each as a ratio to /healthz.

It starts its own PostgreSQL and Redis (with the soak's helpers, scripts/soak.py) when
they are installed and DATABASE_URL is not set; otherwise it uses DATABASE_URL or a
temporary SQLite file (and the local-memory cache). 200 generations for one person.
    .venv/bin/python benchmarks/api.py                 # both parts
    .venv/bin/python benchmarks/api.py --in-process    # part 1 only
BENCH_N (200) requests each in part 1; BENCH_SECONDS (10) and BENCH_THREADS (8) in part 2.
"""

from __future__ import annotations

import os
import sys

from _env import setup
from _load import SERVED, line, load, rate_line, serve, timing

IN_PROCESS_ONLY = "--in-process" in sys.argv[1:]
_TMP = setup(
    "api",
    env={**SERVED, "API_RATE_PER_MINUTE": "0"},
    own_services=True,
)

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
        for i in range(200):
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


def get(client: APIClient, url: str, **params):
    response = client.get(url, params)
    assert response.status_code in (200, 503), response.status_code
    return response


QUOTE = {"kind": "text2video", "model_name": "kling-v2-6", "prompt": "A red fox in fresh snow", "duration": 5}


def real_processes(key: str) -> None:
    threads = int(os.environ.get("BENCH_THREADS", "8"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    proc, base = serve(_TMP)
    auth = {"Authorization": f"Bearer {key}"}
    print(f"\ngunicorn, 2 workers, {threads} client threads x {seconds:g} s each")
    print("(/healthz is not trivial: it asks the database and the broker)")
    run = load(lambda s: s.get(f"{base}/healthz", timeout=30), threads, seconds)
    text, healthz = rate_line("GET /healthz", run, None)
    print(text)
    url = f"{base}{reverse('api:generations')}?page_size=50"
    run = load(lambda s: s.get(url, headers=auth, timeout=30), threads, seconds)
    print(rate_line("GET /api/v1/generations (50)", run, healthz)[0])
    url = f"{base}{reverse('api:quote')}"
    run = load(lambda s: s.post(url, headers=auth, json=QUOTE, timeout=30), threads, seconds)
    print(rate_line("POST /api/v1/quote", run, healthz)[0])
    proc.stop()


def main() -> None:
    key = seed()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = reverse("api:generations")
    cache = "redis" if os.environ.get("REDIS_URL") else "local memory"
    print(f"database: {connection.vendor}, cache: {cache}; in-process, {N} requests each")
    client.get(url)  # the key's first use records last_used_at: not part of a steady request
    counts = {size: queries(client, url, page_size=size) for size in (10, 50)}
    for size, count in counts.items():
        print(f"GET /api/v1/generations page_size={size:<3} {count} queries")
    print("constant in page size:", "yes" if len(set(counts.values())) == 1 else "NO")
    anonymous = APIClient()
    print(line("GET /healthz", timing(lambda: get(anonymous, reverse("healthz")), N)))
    print(line("GET /api/v1/generations (20)", timing(lambda: get(client, url), N)))
    print(line("GET /api/v1/generations (50)", timing(lambda: get(client, url, page_size=50), N)))
    if not IN_PROCESS_ONLY:
        real_processes(key)


if __name__ == "__main__":
    main()
