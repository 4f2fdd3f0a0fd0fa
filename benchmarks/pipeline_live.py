"""The generation pipeline in its deployment shape: gunicorn, qcluster, the poll clock and
the Kling simulator, each a real process, with N generations created at once by 10 people.

Prints, per case: provider requests per generation (creates, lookups and lists the site
sent, counted by a proxy in front of the simulator; result downloads not counted; the
last column splits them into creates, list calls and single lookups),
finish-to-visible p50/p95/max (from the moment the simulator's task finished to the
moment our row became `succeeded`, which is what the page shows on its next status poll),
the time from the first create until every row is finished, and how late the simulator's
callback sender was (p95 of sent minus due: a part of the latency that is the stand-in's,
not the site's).

Cases: callbacks signed (KLING_WEBHOOK_SECRET set: the signed body is the confirmation),
callbacks unsigned (hints confirmed in batches by the list endpoint) and polling only
(every callback lost), at 200 and 1,000 in flight; every task finishes 4 s after its
create (1 s queued, 3 s running). No per-minute cap and no concurrency cap, so the figures
show the pipeline, not our courtesy limits (the 5,000-at-60-a-minute case is the
fake-clock test tests/generations/test_adaptive_cadence.py: creating 5,000 at 60 a minute
takes 83 minutes).

Processes (the soak's helpers, scripts/soak.py): the site under gunicorn (2 workers, 4
threads, production settings), one qcluster with 2 workers for status work, one for
result copies (Q_CLUSTER_NAME=results), `poll_clock`, and the simulator under its own
gunicorn (its callback sender runs there). Generations are created with the same service
call the form uses (`services.create_generation`), from this process.

    .venv/bin/python benchmarks/pipeline_live.py                       # SQLite, then PostgreSQL + Redis
    .venv/bin/python benchmarks/pipeline_live.py --db sqlite --sizes 20 --modes polling

PostgreSQL and Redis are started for the run (as the soak does) when installed. Heavy:
about 10 minutes on two cores; run it on demand, never in the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("soak", ROOT / "scripts" / "soak.py")
soak = sys.modules["soak"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(soak)

MODES = ("signed", "unsigned", "polling")
PEOPLE = 10
QUEUE_SECONDS, RUN_SECONDS = 1.0, 3.0
DRAIN_SECONDS = 600


class CountingProxy(soak.SimProxy):
    """The soak's proxy in front of the simulator, here only counting API requests."""

    def forward(self, h, method: str) -> None:
        if "/cdn/" not in h.path:
            self._count("api")
            self._count("create" if method == "POST" else "list" if "pageNum=" in h.path else "get")
        super().forward(h, method)

    def api_requests(self) -> int:
        with self.lock:
            return self.counts["api"]

    def by_kind(self) -> dict[str, int]:
        with self.lock:
            return {kind: self.counts[kind] for kind in ("create", "list", "get")}


class Site:
    """The site's processes for one mode, on a database shared with this process."""

    def __init__(self, root: Path, base_env: dict[str, str], mode: str) -> None:
        self.root, self.mode = root, mode
        self.site_port, self.sim_port, self.proxy_port = (soak.free_port() for _ in range(3))
        self.site_url = f"http://127.0.0.1:{self.site_port}"
        self.env = {
            **base_env,
            "SITE_URL": self.site_url,
            "KLING_API_BASE": f"http://127.0.0.1:{self.proxy_port}/_sim/kling",
            "KLING_MEDIA_HOSTS": f"127.0.0.1:{self.proxy_port}",
            "KLING_WEBHOOK_SECRET": "bench-kling-webhook-secret" if mode == "signed" else "",
            "RESULTS_QUEUE": "results",
        }
        self.procs: list[soak.Proc] = []
        self.logs = root / f"logs-{mode}"
        self.logs.mkdir(exist_ok=True)

    GUNICORN = str(Path(soak.PY).with_name("gunicorn"))
    SERVED = {"GUNICORN_THREADS": "4", "GUNICORN_MAX_REQUESTS": "0"}

    def start(self) -> None:
        self.start_simulator()
        self._run("web", [self.GUNICORN, "kling_site.wsgi", "-c", "gunicorn.conf.py"],
                  GUNICORN_BIND=f"127.0.0.1:{self.site_port}", GUNICORN_WORKERS="2", **self.SERVED)  # fmt: skip
        self._run("worker", [soak.PY, "manage.py", "qcluster"])
        self._run("results", [soak.PY, "manage.py", "qcluster"], Q_CLUSTER_NAME="results")
        self._run("clock", [soak.PY, "manage.py", "poll_clock"])
        self._wait_for(f"{self.site_url}/healthz")

    def start_simulator(self) -> None:
        """The simulator under its own gunicorn, behind the counting proxy."""
        self.proxy = CountingProxy(f"http://127.0.0.1:{self.sim_port}", random.Random(0), 0.0, 0.0)
        self.proxy.start(self.proxy_port)
        self._run("simulator", [self.GUNICORN, "kling_site.wsgi", "-c", "gunicorn.conf.py"],
                  GUNICORN_BIND=f"127.0.0.1:{self.sim_port}", GUNICORN_WORKERS="1", **self.SERVED)  # fmt: skip
        self._wait_for(f"http://127.0.0.1:{self.sim_port}/_sim/kling/")

    def _wait_for(self, url: str) -> None:
        if not wait_for(url, 90):
            raise SystemExit(f"{url} did not answer; logs in {self.logs}")

    def _run(self, name: str, argv: list[str], **extra: str) -> None:
        self.procs.append(soak.Proc(name, argv, {**self.env, **extra}, self.logs).start())

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.proxy.server.shutdown()


def wait_for(url: str, timeout: float) -> bool:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def create_at_once(size: int, tag: str) -> list[int]:
    """`size` generations (text to image and text to video in turn) by PEOPLE people, made
    with the service call the form uses; returns their ids."""
    from accounts.models import User
    from billing import ledger
    from generations import services

    people = []
    for i in range(PEOPLE):
        person = User.objects.create_user(email=f"bench-{tag}-{i}@example.org")
        ledger.grant(person, size * 100, key=f"bench:{tag}:{i}")
        people.append(person)
    kinds = [
        ("text2image", {"model_name": "kling-v2-1", "prompt": "a lighthouse", "n": 1, "aspect_ratio": "1:1"}),
        ("text2video", {"model_name": "kling-v2-6", "prompt": "a fox in snow", "mode": "std",
                        "duration": 5, "aspect_ratio": "16:9"}),
    ]  # fmt: skip
    ids = []
    for i in range(size):
        kind, data = kinds[i % len(kinds)]
        generation = services.create_generation(
            people[i % PEOPLE],
            kind,
            {**data, "prompt": f"{data['prompt']} {i}"},
            f"{tag}-{i}",
            queue_cap=False,
        )
        ids.append(generation.pk)
    return ids


def run_case(site: Site, size: int, tag: str) -> dict:
    from django.db import close_old_connections

    from generations.models import Generation, Status
    from generations.simulator.models import SimCallback, SimTask
    from tests.fixtures.simulator import set_faults

    set_faults(
        queue_seconds=QUEUE_SECONDS,
        run_seconds=RUN_SECONDS,
        concurrency_limit=0,
        rate_callback_lost=1.0 if site.mode == "polling" else 0.0,
    )
    before = site.proxy.api_requests()
    kinds_before = site.proxy.by_kind()
    began = time.time()
    ids = create_at_once(size, tag)
    created = time.time() - began
    rows = Generation.objects.filter(pk__in=ids)
    until = time.time() + DRAIN_SECONDS
    while rows.exclude(status__in=[Status.SUCCEEDED, Status.FAILED]).exists():
        if time.time() > until:
            raise SystemExit(f"{tag}: not all finished within {DRAIN_SECONDS} s; logs in {site.logs}")
        time.sleep(0.5)
        close_old_connections()
    all_finished = time.time() - began
    requests_sent = site.proxy.api_requests() - before
    kinds = {kind: n - kinds_before[kind] for kind, n in site.proxy.by_kind().items()}
    failed = rows.filter(status=Status.FAILED).count()
    finish_ms = dict(
        SimTask.objects.filter(external_task_id__in=[str(e) for e in rows.values_list("external_task_id", flat=True)])
        .values_list("external_task_id", "finish_ms")
    )  # fmt: skip
    latencies = [
        max(0.0, finished.timestamp() - finish_ms[str(ext)] / 1000)
        for ext, finished in rows.filter(status=Status.SUCCEEDED).values_list(
            "external_task_id", "finished_at"
        )
    ]
    sent = SimCallback.objects.filter(task__external_task_id__in=list(finish_ms), delivered_ms__isnull=False)
    late = [(sent - due) / 1000 for due, sent in sent.values_list("due_ms", "delivered_ms")]
    while rows.filter(status=Status.SUCCEEDED, assets_saved_at__isnull=True).exists():
        if time.time() > until:
            break
        time.sleep(0.5)
    return {
        "mode": site.mode,
        "size": size,
        "requests": requests_sent / size,
        "kinds": kinds,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "created": created,
        "finished": all_finished,
        "copied": time.time() - began,
        "failed": failed,
        "callbacks_late_p95": percentile(late, 0.95) if late else None,
    }


def base_env(root: Path) -> dict[str, str]:
    """Production settings on the simulator, without this shell's own site settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KLING_", "GUNICORN_", "Q_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="kling_site.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY="benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        KLING_PROVIDER="simulator",
        ALLOW_SIMULATOR_IN_PRODUCTION="1",
        KLING_MAX_CONCURRENCY="0",
        KLING_MAX_QPM="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        MEDIA_ROOT=str(root / "media"),
        STATIC_ROOT=str(root / "static"),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def start_database(db: str, root: Path, env: dict[str, str]) -> list:
    """PostgreSQL and Redis of the run's own (or a SQLite file), named in `env`, which
    this process then uses too (Django set up and migrated); returns what to stop."""
    services = []
    if db == "postgres":
        pg = soak.Postgres(root, soak.free_port())
        pg.init()
        redis = soak.Redis(soak.free_port())
        redis.start()
        services = [pg, redis]
        env.update(DATABASE_URL=pg.url, REDIS_URL=redis.url)
    else:
        env["SQLITE_PATH"] = str(root / "bench.sqlite3")
    os.environ.update(env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return services


def stop_database(services: list, root: Path) -> None:
    for service in reversed(services):
        service.stop()
    shutil.rmtree(root, ignore_errors=True)


def run_db(db: str, sizes: list[int], modes: list[str]) -> None:
    """Every case on one database kind, in this process; one JSON line per case."""
    root = Path(tempfile.mkdtemp(prefix=f"bench-live-{db}-"))
    env = base_env(root)
    services = start_database(db, root, env)
    try:
        for mode in modes:
            site = Site(root, env, mode)
            site.start()
            try:
                for size in sizes:
                    result = run_case(site, size, f"{mode}-{size}")
                    result["db"] = db
                    print("RESULT " + json.dumps(result), flush=True)
            finally:
                site.stop()
    finally:
        stop_database(services, root)


def results_of(argv: list[str], what: str) -> Iterator[dict]:
    """Run a benchmark part in a process of its own (so Django is set up on the run's own
    database) and yield the cases it prints as `RESULT {json}` lines."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("RESULT "):
            yield json.loads(line[len("RESULT ") :])
    if process.wait():
        raise SystemExit(f"{what}: the run failed")


def available(db: str) -> bool:
    if db == "sqlite":
        return True
    has_pg = bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb"))
    return has_pg and bool(shutil.which("redis-server"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--one-db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in args.modes.split(",") if m in MODES]
    if args.one_db:
        run_db(args.one_db, sizes, modes)
        return
    print(f"each task finishes {QUEUE_SECONDS + RUN_SECONDS:g} s after its create; {PEOPLE} people")
    print(
        f"{'database':<9} {'callbacks':<9} {'in flight':>9} {'req/gen':>8} {'p50 s':>6} {'p95 s':>6} {'max s':>6}"
        f" {'created s':>9} {'finished s':>10} {'copied s':>8} {'sender late p95':>15} {'creates/lists/gets':>18}"
    )
    for db in args.db.split(","):
        if not available(db):
            print(f"{db}: not installed, skipped")
            continue
        for r in results_of(
            [sys.executable, __file__, "--one-db", db, "--sizes", args.sizes, "--modes", ",".join(modes)], db
        ):
            late = f"{r['callbacks_late_p95']:.2f}" if r["callbacks_late_p95"] is not None else "-"
            kinds = "/".join(str(r["kinds"][k]) for k in ("create", "list", "get"))
            print(
                f"{db:<9} {r['mode']:<9} {r['size']:>9} {r['requests']:>8.3f} {r['p50']:>6.2f} {r['p95']:>6.2f}"
                f" {r['max']:>6.2f} {r['created']:>9.1f} {r['finished']:>10.1f} {r['copied']:>8.1f} {late:>15} {kinds:>18}"
                + (f"  ({r['failed']} failed)" if r["failed"] else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
