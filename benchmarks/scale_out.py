"""Scale-out: confirmed finishes per second with 1, 2 and 4 qcluster processes on one
PostgreSQL and one Redis.

For each cluster count: the clusters start (2 workers each, `Q_WORKERS`), submit N
generations (text to image and text to video in turn, made as the form makes them) to the
simulator, which runs in its own gunicorn behind pipeline_live's counting proxy, and then
every task finishes at the same moment. The burst of unsigned callbacks is then played as
the callback view leaves it (`generations/callbacks.py`): every row due for a look and one
batched confirmation per product (`follow.confirm_hints`, the first hint of a debounce
window). What is timed is the clusters' part: list calls covering up to 500 tasks, each
row's compare-and-set transition to `succeeded`, and the enqueue of its result copy on the
results queue (`RESULTS_QUEUE`), which no cluster serves here: copies only wait there, so
the figures show that status changes never wait for them. Finishes per second count from
the first to the last row reaching `succeeded`.

The web process is left out on purpose: an unsigned callback costs it one read, one UPDATE
and one cache add (see benchmarks/webhook.py); here its work is done in one statement so
the clusters, not the callback sender, are what is measured. Nothing else runs: no poll
clock, and the schedules are moved a day ahead, so every finish is confirmed by the
callbacks' batched confirmation.

    flock /tmp/bench.lock .venv/bin/python benchmarks/scale_out.py               # 1, 2, 4 clusters, 2,000
    flock /tmp/bench.lock .venv/bin/python benchmarks/scale_out.py --clusters 2,4 --size 4000

Needs PostgreSQL and Redis installed (it starts its own, as the soak does). About two
minutes per cluster count on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pipeline_live as live

soak = live.soak
READY_LINE = "running."
SUBMIT_SECONDS = 600
CONFIRM_SECONDS = 300
HOLD_SECONDS = 3600  # tasks run this long at the simulator unless the run finishes them


def start_clusters(site: live.Site, count: int, tag: str) -> list[soak.Proc]:
    procs = [
        # INFO for django-q's "running." line, in the clusters' logs only.
        soak.Proc(
            f"qcluster-{tag}-{i + 1}",
            [soak.PY, "manage.py", "qcluster"],
            {**site.env, "Q_LOG_LEVEL": "INFO"},
            site.logs,
        ).start()
        for i in range(count)
    ]
    until = time.monotonic() + 90
    for proc in procs:
        while READY_LINE not in proc.log():
            if time.monotonic() > until or proc.process.poll() is not None:
                stop_clusters(procs)
                raise SystemExit(f"{proc.name} did not start; log in {proc.log_path}")
            time.sleep(0.2)
    return procs


def stop_clusters(procs: list[soak.Proc]) -> None:
    # One SIGTERM each, all at once (a second one in the middle of the shutdown hangs a
    # cluster), then whatever is left after the grace period is killed.
    for proc in procs:
        if proc.process.poll() is None:
            proc.process.send_signal(signal.SIGTERM)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.process.wait(20)
        proc.signal_group(signal.SIGKILL)


def wait_until(done, seconds: float, what: str) -> None:
    from django.db import close_old_connections

    until = time.time() + seconds
    while not done():
        if time.time() > until:
            raise SystemExit(f"{what} not done within {seconds} s")
        time.sleep(0.2)
        close_old_connections()


def run_case(site: live.Site, clusters: int, size: int) -> dict:
    from django.conf import settings
    from django.db.models import F, Max, Min
    from django.utils import timezone
    from django_q.brokers import get_broker

    from generations import follow, queue
    from generations.models import IN_FLIGHT_STATUSES, Generation, Status
    from generations.simulator.models import SimTask, now_ms
    from tests.fixtures.simulator import set_faults

    tag = f"scale-{clusters}"
    # No callbacks from the simulator: the burst is played below, all at once.
    set_faults(queue_seconds=0, run_seconds=HOLD_SECONDS, concurrency_limit=0, rate_callback_lost=1.0)
    copies = get_broker(settings.RESULTS_QUEUE)
    procs = start_clusters(site, clusters, tag)
    try:
        ids = live.create_at_once(size, tag)
        rows = Generation.objects.filter(pk__in=ids)
        wait_until(lambda: not rows.filter(status=Status.QUEUED).exists(), SUBMIT_SECONDS, f"{tag}: submits")
        external = [str(e) for e in rows.values_list("external_task_id", flat=True)]
        SimTask.objects.filter(external_task_id__in=external).update(
            processing_ms=F("created_ms"), finish_ms=now_ms()
        )
        copies_before = copies.queue_size()
        requests_before = site.proxy.api_requests()
        load_before = os.getloadavg()[0]
        burst = time.time()
        # What each unsigned "succeed" callback does (follow.hint) and the first one of a
        # debounce window enqueues (callbacks._confirm_soon), for the whole burst at once.
        rows.filter(status__in=IN_FLIGHT_STATUSES).update(due_at=timezone.now())
        for product in rows.order_by().values_list("product", flat=True).distinct():
            queue.confirm_hints(product, time.time() + follow.CONFIRM_DEBOUNCE_SECONDS)
        wait_until(
            lambda: not rows.filter(status__in=IN_FLIGHT_STATUSES).exists(),
            CONFIRM_SECONDS,
            f"{tag}: confirmations",
        )
        load_after = os.getloadavg()[0]
    finally:
        stop_clusters(procs)
    span = rows.aggregate(first=Min("finished_at"), last=Max("finished_at"))
    seconds = max((span["last"] - span["first"]).total_seconds(), 1e-3)
    return {
        "clusters": clusters,
        "workers": clusters * int(site.env.get("Q_WORKERS", "2")),
        "size": size,
        "succeeded": rows.filter(status=Status.SUCCEEDED).count(),
        "failed": rows.filter(status=Status.FAILED).count(),
        "seconds": seconds,
        "per_second": (size - 1) / seconds,
        "from_burst": span["last"].timestamp() - burst,
        "requests": site.proxy.api_requests() - requests_before,
        "copies_waiting": copies.queue_size() - copies_before,
        "load": (load_before, load_after),
    }


def run(counts: list[int], size: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    env = live.base_env(root)
    env.update(RESULTS_QUEUE="results", Q_WORKERS="2", GENERATION_POLL_SECONDS="600")
    services = live.start_database("postgres", root, env)
    try:
        from django.utils import timezone
        from django_q.models import Schedule

        Schedule.objects.update(next_run=timezone.now() + timedelta(days=1))
        site = live.Site(root, env, "unsigned")
        site.start_simulator()
        try:
            for count in counts:
                print("RESULT " + json.dumps(run_case(site, count, size)), flush=True)
        finally:
            site.stop()
    finally:
        live.stop_database(services, root)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", default="1,2,4", help="cluster counts, one case each")
    parser.add_argument("--size", type=int, default=2000, help="generations finishing at once")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = [int(c) for c in args.clusters.split(",")]
    if args.one_run:
        run(counts, args.size)
        return
    if not live.available("postgres"):
        raise SystemExit("PostgreSQL and Redis are needed: not installed")
    print(f"{args.size} generations finishing at once; 2 workers per qcluster; PostgreSQL + Redis")
    print(
        f"{'qclusters':>9} {'workers':>7} {'finishes/s':>10} {'first to last s':>15} {'burst to last s':>15}"
        f" {'provider requests':>17} {'copies waiting':>14} {'load avg':>11}"
    )
    argv = [sys.executable, __file__, "--one-run", "--clusters", args.clusters, "--size", str(args.size)]
    for r in live.results_of(argv, "scale-out"):
        wrong = r["size"] - r["succeeded"]
        print(
            f"{r['clusters']:>9} {r['workers']:>7} {r['per_second']:>10.0f} {r['seconds']:>15.2f}"
            f" {r['from_burst']:>15.2f} {r['requests']:>17} {r['copies_waiting']:>14}"
            f" {r['load'][0]:>5.1f}-{r['load'][1]:<5.1f}" + (f"  ({wrong} not succeeded)" if wrong else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
