"""The site's generation pipeline against the Kling simulator, with 10, 100 and 1000
generations in flight, callbacks on and off.

Prints, per case: provider HTTP requests per finished generation, finish-to-visible
latency p50/p95, and the peak memory (RSS) of the process doing the work.

How it runs (and so what the figures mean):
- Everything is real but the network and the clock: the official client
  (`generations.providers.kling`) talks HTTP to the simulator app through Django's test
  client (the same transport as the `kling_simulator` test fixture), the simulator's
  callbacks POST to the site's real callback view, results download from the simulator's
  CDN. The limiter is the real one (KLING_MAX_CONCURRENCY = generations in flight, no
  per-minute cap, so the figures show the pipeline, not our courtesy limit).
- Time is simulated with time-machine and never skips work: the clock jumps over idle
  gaps, and moves forward by the real time every piece of work took. So a slow sweep pass
  delays every generation it makes visible by its full duration.
- All generations are created at once (kinds mixed: text-to-video, image-to-video,
  text-to-image), each with its own simulator timing: queued 1-3 s, running 3-9 s.
- The poll sweep runs on its real cadence (`follow.sweep_cycle`: a pass, then
  GENERATION_POLL_SECONDS of sleep). With callbacks on, the simulator's callback sender
  runs every 0.5 s (its thread's interval) and the callback's confirming lookup (the
  `check` task) runs at once, as a free worker would (django-q2 sync mode); the sweep
  keeps running as the safety net.
- Provider requests = HTTP requests the client sent to the simulator's API (creates,
  lookups, lists), counted at the transport; result downloads are not counted.
- Latency = from the simulator's finish time of the task to the moment our Generation
  row is `succeeded` (the page shows it), measured on the simulated clock at the end of
  the step that did it (an upper bound within a step). Copying results into storage is
  left to other workers and timed separately ("copy s", mean per generation).
- Each size runs in its own process (fresh SQLite file or the DATABASE_URL database), so
  the peak RSS is that size's own; it includes the in-process simulator and test client.

    .venv/bin/python benchmarks/pipeline.py [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_CALLBACKS_SECONDS = 0.5


def setup(workdir: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
    if not os.environ.get("DATABASE_URL"):
        os.environ["SQLITE_PATH"] = os.path.join(workdir, "bench.sqlite3")
    os.environ["MEDIA_ROOT"] = os.path.join(workdir, "media")
    os.environ["KLING_PROVIDER"] = "simulator"
    os.environ["SITE_URL"] = "http://testserver"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("Q_LOG_LEVEL", "ERROR")
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Counter:
    def __init__(self) -> None:
        self.api = 0


def route(counter: Counter) -> None:
    """Every `requests` call to http://testserver/ is served in process by the test client;
    the client's requests to the simulator's API are counted."""
    import requests

    from tests.fixtures.simulator import DjangoTestAdapter

    class CountingAdapter(DjangoTestAdapter):
        def send(self, request, *args, **kwargs):
            path = request.path_url
            if path.startswith("/_sim/kling/") and not path.startswith("/_sim/kling/cdn/"):
                counter.api += 1
            return super().send(request, *args, **kwargs)

    adapter = CountingAdapter()
    original = requests.Session.get_adapter

    def get_adapter(session, url):
        if url.lower().startswith("http://testserver/"):
            return adapter
        return original(session, url)

    requests.Session.get_adapter = get_adapter


def form_data(kind: str, i: int, picture: bytes) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    if kind == "text2image":
        return {"model_name": "kling-v2-1", "prompt": f"a lighthouse {i}", "n": 1, "aspect_ratio": "1:1"}
    data = {"model_name": "kling-v2-6", "prompt": f"a fox in snow {i}", "mode": "std", "duration": 5}
    if kind == "text2video":
        data["aspect_ratio"] = "16:9"
    else:
        data["image"] = SimpleUploadedFile("start.png", picture, "image/png")
    return data


def run_case(size: int, callbacks: bool) -> dict:
    import time_machine
    from django.conf import settings

    from billing import ledger
    from generations import follow, queue, services
    from generations.models import Generation, Status
    from generations.simulator import engine
    from generations.simulator.models import SimTask
    from tests.fixtures.simulator import set_faults
    from tests.simulator.pipeline import png

    counter = Counter()
    route(counter)
    copies: list[int] = []
    queue.fetch_results = copies.append  # other workers copy results; timed after
    queue.notify_finished = lambda pk: None

    from accounts.models import User

    owner = User.objects.create_user(email=f"bench-{size}-{int(callbacks)}-{time.time_ns()}@example.org")
    ledger.grant(owner, size * 100, key=f"bench:{owner.pk}")
    picture = png(640, 360)
    rng = random.Random(size * 2 + callbacks)
    kinds = ["text2video", "image2video", "text2image"]
    poll = settings.GENERATION_POLL_SECONDS
    lost = 0 if callbacks else 1

    traveller = time_machine.travel(time.time(), tick=False)
    clock = traveller.start()
    try:
        generations = []
        for i in range(size):
            kind = kinds[i % 3]
            set_faults(
                queue_seconds=rng.uniform(1, 3), run_seconds=rng.uniform(3, 9), rate_callback_lost=lost
            )
            generation = services.create_generation(owner, kind, form_data(kind, i, picture), f"b{size}-{i}")
            generations.append(generation.pk)
        creates = counter.api
        rows = Generation.objects.filter(pk__in=generations)
        assert rows.filter(status=Status.SUBMITTED).count() == size, (
            "every generation should be at the provider"
        )
        finish = {
            ext: ms / 1000
            for ext, ms in SimTask.objects.filter(
                external_task_id__in=[str(x) for x in rows.values_list("external_task_id", flat=True)]
            ).values_list("external_task_id", "finish_ms")
        }
        finish_of = {pk: finish[str(ext)] for pk, ext in rows.values_list("pk", "external_task_id")}
        visible: dict[int, float] = {}
        # The sweep cycle runs on its own schedule: its phase relative to the arrivals is random.
        next_sweep = time.time() + rng.uniform(0, poll)
        next_callbacks = time.time() + POLL_CALLBACKS_SECONDS
        passes = 0
        deadline = time.time() + 3600
        while len(visible) < size:
            now = time.time()
            due = min(next_sweep, next_callbacks) if callbacks else next_sweep
            if due > now:
                clock.shift(due - now)
            began = time.perf_counter()
            swept = False
            if callbacks and time.time() >= next_callbacks:
                while engine.deliver_due_callbacks(limit=500):
                    pass
                next_callbacks += POLL_CALLBACKS_SECONDS
            if time.time() >= next_sweep:
                follow.sweep()
                passes += 1
                swept = True
            clock.shift(time.perf_counter() - began)  # the work took real time
            if swept:
                next_sweep = time.time() + poll
            now = time.time()
            for pk in (
                rows.filter(status=Status.SUCCEEDED).exclude(pk__in=visible).values_list("pk", flat=True)
            ):
                visible[pk] = now
            if now > deadline:
                raise RuntimeError("the pipeline did not finish within an hour of simulated time")
        # Still on the simulated clock: result URLs are signed with an expiry time.
        from generations import media

        copy_seconds = []
        for pk in copies:
            began = time.perf_counter()
            media.store_results(pk)
            copy_seconds.append(time.perf_counter() - began)
    finally:
        traveller.stop()
    assert rows.filter(assets_saved_at__isnull=False).count() == size
    assert SimTask.objects.filter(external_task_id__in=[str(x) for x in rows.values_list("external_task_id", flat=True)]).count() == size  # fmt: skip
    assert ledger.find_drifts() == []
    latencies = [max(0.0, visible[pk] - finish_of[pk]) for pk in generations]
    return {
        "requests": counter.api / size,
        "after_create": (counter.api - creates) / size,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "passes": passes,
        "copy": statistics.mean(copy_seconds),
    }


def run_size(size: int) -> None:
    """One size in this process: both cases, then the peak RSS, as JSON on stdout."""
    workdir = tempfile.mkdtemp(prefix="kling-bench-")
    setup(workdir)
    import django_q.conf
    from django.conf import settings
    from django.core.management import call_command

    from generations.providers.kling import clear_token_cache
    from generations.simulator.models import SimFaults

    django_q.conf.Conf.SYNC = True
    call_command("migrate", verbosity=0)
    if os.environ.get("DATABASE_URL"):
        call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.KLING_API_BASE = "http://testserver/_sim/kling"
    settings.KLING_MEDIA_HOSTS = [*settings.KLING_MEDIA_HOSTS, "testserver"]
    settings.SIMULATOR_CALLBACK_THREAD = False
    settings.KLING_MAX_CONCURRENCY = size
    settings.KLING_MAX_QPM = 0
    settings.LIMITER_KEY_PREFIX = f"bench-limiter:{time.time_ns()}"
    clear_token_cache()
    SimFaults.objects.all().delete()
    SimFaults.objects.create(pk=1, concurrency_limit=0)
    results = {}
    for callbacks in (False, True):
        results["on" if callbacks else "off"] = run_case(size, callbacks)
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["db"] = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    results["poll"] = settings.GENERATION_POLL_SECONDS
    print("RESULT " + json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_size(args.one)
        return
    header = (
        f"{'in flight':>9} {'callbacks':>9} {'req/gen':>8} {'after create':>12} {'p50 s':>7} {'p95 s':>7}"
        f" {'passes':>6} {'copy s':>7} {'peak RSS MB':>11}"
    )
    printed = False
    for size in [int(s) for s in args.sizes.split(",")]:
        began = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=False
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.stderr.write(out.stdout + out.stderr)
            raise SystemExit(f"size {size} failed")
        r = json.loads(line[len("RESULT ") :])
        if not printed:
            print(f"database: {r['db']}; poll every {r['poll']} s; tasks queued 1-3 s, running 3-9 s")
            print(header)
            printed = True
        for mode in ("off", "on"):
            c = r[mode]
            print(
                f"{size:>9} {mode:>9} {c['requests']:>8.3f} {c['after_create']:>12.3f} {c['p50']:>7.2f}"
                f" {c['p95']:>7.2f} {c['passes']:>6} {c['copy']:>7.3f} {r['rss_mb']:>11.0f}"
            )
        sys.stdout.flush()
        sys.stderr.write(f"({size}: {time.perf_counter() - began:.0f} s)\n")


if __name__ == "__main__":
    main()
