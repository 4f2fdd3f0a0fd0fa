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

import atexit
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
from _env import ROOT, setup, soak_helpers

IN_PROCESS_ONLY = "--in-process" in sys.argv[1:]
_TMP = setup(
    "api",
    env={
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "SECURE_HSTS_SECONDS": "0",
        "KLING_PROVIDER": "simulator",
        "API_RATE_PER_MINUTE": "0",
    },
    own_services=True,
)
soak = soak_helpers()

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


QUOTE = {"kind": "text2video", "model_name": "kling-v2-6", "prompt": "A red fox in fresh snow", "duration": 5}


def serve() -> tuple[soak.Proc, str]:
    """gunicorn with 2 workers on the same database, cache and files as part 1."""
    port = soak.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.update(GUNICORN_WORKERS="2", GUNICORN_BIND=f"127.0.0.1:{port}", PYTHONPATH=str(ROOT))
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = soak.Proc("gunicorn", [gunicorn, "kling_site.wsgi", "-c", "gunicorn.conf.py"], env, _TMP).start()
    atexit.register(proc.stop)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer /healthz:\n{proc.log()[-3000:]}")


def load(
    method: str, url: str, headers: dict, body: dict | None, threads: int, seconds: float
) -> list[float]:
    """Times (ms) of every request that `threads` clients made back to back for `seconds`."""
    times: list[float] = []
    failures: list[int] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = session.request(method, url, headers=headers, json=body, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                (times if response.status_code == 200 else failures).append(
                    elapsed if response.status_code == 200 else response.status_code
                )

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise SystemExit(f"{method} {url}: {len(failures)} answers were not 200 (e.g. {failures[0]})")
    times.append(seconds)  # the last item carries the duration for the rate (see rate_line)
    return times


def rate_line(label: str, times: list[float], healthz_rate: float | None) -> tuple[str, float]:
    seconds, times = times[-1], sorted(times[:-1])
    rate = len(times) / seconds
    p95 = times[max(int(len(times) * 0.95) - 1, 0)]
    ratio = f"  {rate / healthz_rate:5.2f} x /healthz" if healthz_rate else ""
    text = f"{label:<36} {rate:7.1f} req/s  p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms{ratio}"
    return text, rate


def real_processes(key: str) -> None:
    threads = int(os.environ.get("BENCH_THREADS", "8"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    proc, base = serve()
    auth = {"Authorization": f"Bearer {key}"}
    print(f"\ngunicorn, 2 workers, {threads} client threads x {seconds:g} s each")
    print("(/healthz is not trivial: it asks the database and the broker)")
    text, healthz = rate_line(
        "GET /healthz", load("GET", f"{base}/healthz", {}, None, threads, seconds), None
    )
    print(text)
    url = f"{base}{reverse('api:generations')}?page_size=50"
    print(
        rate_line("GET /api/v1/generations (50)", load("GET", url, auth, None, threads, seconds), healthz)[0]
    )
    url = f"{base}{reverse('api:quote')}"
    print(rate_line("POST /api/v1/quote", load("POST", url, auth, QUOTE, threads, seconds), healthz)[0])
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
    print(line("GET /healthz", timing(APIClient(), reverse("healthz"))))
    print(line("GET /api/v1/generations (20)", timing(client, url)))
    print(line("GET /api/v1/generations (50)", timing(client, url, page_size=50)))
    if not IN_PROCESS_ONLY:
        real_processes(key)


if __name__ == "__main__":
    main()
