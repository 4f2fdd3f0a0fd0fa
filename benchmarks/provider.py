"""Provider benchmark: the simulator's creates and lists per second, and the official
client's own overhead per call.

    .venv/bin/python benchmarks/provider.py            # temporary SQLite file
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python benchmarks/provider.py

Figures:
1. The simulator behind Django's full stack, in process (no socket): creates/s, single
   GETs/s, list calls/s at pageSize 30 and 500 (with 1,000 tasks stored).
2. The official KlingClient over real HTTP to the simulator in a threaded WSGI server
   on loopback (JWT auth, JSON, pooled keep-alive session).
3. The client's own overhead per call (body building, auth header, JSON parsing, typed
   results) with the network replaced by a canned answer, and the cost of taking one
   request from the limiter's per-minute budget.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.TemporaryDirectory(prefix="kling-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
os.environ.setdefault("SQLITE_PATH", str(Path(_tmp.name) / "bench.sqlite3"))
os.environ.setdefault("MEDIA_ROOT", str(Path(_tmp.name) / "media"))
# Production mode, so DEBUG's query log does not skew the figures.
os.environ.update(
    DJANGO_DEBUG="0",
    SECRET_KEY="benchmark-secret-key-benchmark-secret-key-0123456789",
    ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    SECURE_SSL_REDIRECT="0",
    KLING_PROVIDER="simulator",
    # Production mode refuses the simulator unless told this is not a real site.
    ALLOW_SIMULATOR_IN_PRODUCTION="1",
    LOG_LEVEL="WARNING",
)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test import Client  # noqa: E402
from requests.adapters import BaseAdapter  # noqa: E402

from generations import limiter  # noqa: E402
from generations.providers.base import GenerationRequest  # noqa: E402
from generations.providers.kling import KlingClient, jwt_token  # noqa: E402
from generations.simulator.models import SimFaults, SimTask  # noqa: E402

T2V = "videos/text2video"
AK, SK = "bench-access-key", "bench-secret-key-long-enough-for-hs256"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.0f}/s  ({seconds / count * 1000:6.2f} ms each)"


def body(n: int) -> dict:
    return {"model_name": "kling-v2-6", "prompt": f"benchmark prompt {n}", "mode": "std", "duration": "5"}


def setup() -> None:
    call_command("migrate", verbosity=0)
    settings.KLING_ACCESS_KEY, settings.KLING_SECRET_KEY, settings.KLING_API_KEY = AK, SK, ""
    settings.SIMULATOR_CALLBACK_THREAD = False
    settings.KLING_MAX_QPM = 0
    faults = SimFaults.current()
    faults.concurrency_limit = 0
    faults.save()


def in_process() -> None:
    print("1. Simulator through Django's full stack, in process")
    SimTask.objects.all().delete()
    client = Client()
    auth = {"Authorization": f"Bearer {jwt_token(AK, SK)}"}
    count = 500
    started = time.perf_counter()
    for n in range(count):
        response = client.post(
            "/_sim/kling/v1/videos/text2video", body(n), content_type="application/json", headers=auth
        )
        assert response.status_code == 200, response.content
    print(f"   create                      {rate(count, time.perf_counter() - started)}")
    SimTask.objects.filter(pk__in=SimTask.objects.values("pk")[:0]).delete()
    for n in range(count, 1000):
        client.post(
            "/_sim/kling/v1/videos/text2video", body(n), content_type="application/json", headers=auth
        )
    task_id = SimTask.objects.first().task_id
    started = time.perf_counter()
    for _ in range(count):
        client.get(f"/_sim/kling/v1/videos/text2video/{task_id}", headers=auth)
    print(f"   get one task                {rate(count, time.perf_counter() - started)}")
    for size, calls in ((30, 300), (500, 40)):
        started = time.perf_counter()
        for _ in range(calls):
            response = client.get(f"/_sim/kling/v1/videos/text2video?pageNum=1&pageSize={size}", headers=auth)
            assert len(response.json()["data"]) == size
        elapsed = time.perf_counter() - started
        print(
            f"   list pageSize={size:<3}            {rate(calls, elapsed)}  = {calls * size / elapsed:,.0f} tasks/s"
        )


class QuietHandler(WSGIRequestHandler):
    # Headers and body go out in separate writes: without this, Nagle plus delayed ACKs
    # add ~40 ms to every keep-alive request (gunicorn sets TCP_NODELAY too).
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass


def over_http() -> None:
    print("2. Official client over HTTP (threaded WSGI server on loopback)")
    SimTask.objects.all().delete()
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/_sim/kling"
    settings.KLING_API_BASE = base
    client = KlingClient.from_settings()
    count = 300
    started = time.perf_counter()
    tasks = [
        client.submit(GenerationRequest(T2V, body(n), external_task_id=f"http-{n}")) for n in range(count)
    ]
    print(f"   submit                      {rate(count, time.perf_counter() - started)}")
    started = time.perf_counter()
    for task in tasks:
        client.get(T2V, task.task_id)
    print(f"   get                         {rate(count, time.perf_counter() - started)}")
    started = time.perf_counter()
    for n in range(100):
        client.find_by_external_id(T2V, f"http-{n}")
    print(f"   find by external id         {rate(100, time.perf_counter() - started)}")
    for n in range(count, 600):
        client.submit(GenerationRequest(T2V, body(n), external_task_id=f"http-{n}"))
    calls = 30
    started = time.perf_counter()
    for _ in range(calls):
        assert len(client.list_tasks(T2V, page=1, page_size=500).tasks) == 500
    elapsed = time.perf_counter() - started
    print(f"   list pageSize=500           {rate(calls, elapsed)}  = {calls * 500 / elapsed:,.0f} tasks/s")
    server.shutdown()
    server.server_close()


class CannedAdapter(BaseAdapter):
    """Answers every request with one prepared body: measures the client, not a network."""

    def __init__(self, payload: dict) -> None:
        super().__init__()
        self.content = json.dumps(payload).encode()

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = self.content
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_overhead() -> None:
    print("3. Client overhead per call (canned answers, no network)")
    task = {
        "task_id": "867283741759111202",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "job-42"},
        "final_unit_deduction": "2.5",
        "created_at": 1774805076166,
        "updated_at": 1774805190012,
        "task_result": {"videos": [{"id": "v", "url": "https://cdn.klingai.com/v.mp4", "duration": "5.1"}]},
    }
    cases = [
        ("submit", {"code": 0, "message": "SUCCEED", "request_id": "r", "data": task}, 5000),
        ("get", {"code": 0, "message": "SUCCEED", "request_id": "r", "data": task}, 5000),
        (
            "list of 500 tasks",
            {"code": 0, "message": "SUCCEED", "request_id": "r", "data": [task] * 500},
            200,
        ),
    ]
    for (label, payload, count), trust_env in [(case, env) for case in cases for env in (True, False)]:
        session = requests.Session()
        session.trust_env = trust_env
        session.mount("https://", CannedAdapter(payload))
        client = KlingClient("https://bench.invalid", access_key=AK, secret_key=SK, session=session)
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for n in range(count):
                if label == "submit":
                    client.submit(GenerationRequest(T2V, body(n), external_task_id=f"x-{n}"))
                elif label == "get":
                    client.get(T2V, "867283741759111202")
                else:
                    client.list_tasks(T2V, page=1, page_size=500)
            samples.append((time.perf_counter() - started) / count * 1e6)
        note = (
            "with requests' proxy/netrc lookups" if trust_env else "trust_env=False: our code + requests core"
        )
        print(f"   {label:<27} {statistics.median(samples):8.1f} µs per call ({note})")

    started = time.perf_counter()
    for _ in range(2000):
        jwt_token(AK, SK, refresh=True)
    print(
        f"   signing a fresh JWT         {(time.perf_counter() - started) / 2000 * 1e6:8.1f} µs (once per ~29 min)"
    )

    settings.KLING_MAX_QPM = 10**9
    for backend in ("database", "redis"):
        if backend == "redis" and not settings.REDIS_URL:
            continue
        saved = settings.REDIS_URL
        if backend == "database":
            settings.REDIS_URL = ""
        count = 1000
        started = time.perf_counter()
        for _ in range(count):
            limiter.try_take_request()
        settings.REDIS_URL = saved
        print(
            f"   limiter try_take_request ({backend:<8}) {(time.perf_counter() - started) / count * 1e6:6.1f} µs"
        )
    settings.KLING_MAX_QPM = 0
    settings.KLING_MAX_CONCURRENCY = 5
    started = time.perf_counter()
    for n in range(200):
        limiter.try_acquire_slot(n % 5)
        limiter.release_slot(n % 5)
    print(f"   limiter acquire + release   {(time.perf_counter() - started) / 200 * 1e6:8.1f} µs")


def main() -> None:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"Provider benchmark on {engine}{' + Redis' if settings.REDIS_URL else ''}, Python {sys.version.split()[0]}"
    )
    setup()
    in_process()
    over_http()
    client_overhead()


if __name__ == "__main__":
    main()
