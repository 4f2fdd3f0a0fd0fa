"""How the generation pipeline uses the provider, with 10, 100 and 1000 generations in flight.

Prints, with callbacks on and off: provider requests per finished generation,
finish-to-visible latency p50/p95 (from the moment the provider finishes a task to the
moment its page says so), the time to copy one result into storage (done by other
workers right after), and the peak memory of the process doing the work.

The provider is the in-memory Kling fake of the test suite, with the simulator's default
timings (SIMULATOR_QUEUE_SECONDS + SIMULATOR_RUN_SECONDS, jittered); time is simulated
with time-machine, so the sweep runs every GENERATION_POLL_SECONDS of simulated time
while the pipeline's own work (claims, transitions, ledger, copies, thumbnails) runs for
real. Latency = simulated time until the row is succeeded + the real time of the sweep
pass or callback that made it so (an upper bound for each generation in a pass).

    .venv/bin/python benchmarks/pipeline.py [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = tempfile.mkdtemp(prefix="kling-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kling_site.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["SQLITE_PATH"] = os.path.join(WORKDIR, "bench.sqlite3")
os.environ["MEDIA_ROOT"] = os.path.join(WORKDIR, "media")
os.environ.setdefault("LOG_LEVEL", "ERROR")
os.environ.setdefault("Q_LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

import django_q.conf  # noqa: E402
import imageio_ffmpeg  # noqa: E402
import responses  # noqa: E402
import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from PIL import Image  # noqa: E402

from billing import ledger  # noqa: E402
from generations import follow, limiter, media, providers, queue, services  # noqa: E402
from generations.models import Generation, Status  # noqa: E402
from tests.generations.fakes import MEDIA_BASE, FakeProvider, MemoryLimiter  # noqa: E402

KINDS = ["text2video", "image2video", "text2image"]


def small_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (30, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def small_mp4() -> bytes:
    path = os.path.join(WORKDIR, "clip.mp4")
    writer = imageio_ffmpeg.write_frames(path, (320, 180), fps=10, macro_block_size=4)
    writer.send(None)
    for i in range(10):
        writer.send(Image.new("RGB", (320, 180), (20 * i, 60, 200)).tobytes())
    writer.close()
    return Path(path).read_bytes()


def request_data(kind: str, picture: bytes) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    if kind == "text2image":
        return {"model_name": "kling-v2-1", "prompt": "a lighthouse", "n": 1, "aspect_ratio": "1:1"}
    data = {"model_name": "kling-v2-6", "prompt": "a fox in snow", "mode": "std", "duration": 5}
    if kind == "text2video":
        data["aspect_ratio"] = "16:9"
    else:
        data["image"] = SimpleUploadedFile("start.png", picture, "image/png")
    return data


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(size: int, callbacks: bool, picture: bytes) -> dict:
    fake = FakeProvider()
    slots = MemoryLimiter(slots=size)
    providers.get_provider = lambda: fake
    limiter.try_acquire_slot = slots.try_acquire_slot
    limiter.release_slot = slots.release_slot
    limiter.try_take_request = slots.try_take_request
    # Copies run on other workers in production; here they are timed on their own, after.
    copies: list[int] = []
    queue.fetch_results = copies.append

    from accounts.models import User

    owner = User.objects.create_user(email=f"bench-{size}-{int(callbacks)}-{time.time_ns()}@example.org")
    ledger.grant(owner, size * 100, key=f"bench:{owner.pk}")
    client = Client()
    rng = random.Random(size)
    typical = settings.SIMULATOR_QUEUE_SECONDS + settings.SIMULATOR_RUN_SECONDS
    poll = settings.GENERATION_POLL_SECONDS

    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        generations = []
        for i in range(size):
            kind = KINDS[i % 3]
            # Autocommit: the submit task runs on commit, inline (django-q2 sync mode).
            generation = services.create_generation(owner, kind, request_data(kind, picture), f"b{i}")
            generations.append(Generation.objects.get(pk=generation.pk))
        creates = fake.request_count
        finish_at = {g.pk: rng.uniform(0.5, 1.5) * typical for g in generations}
        by_pk = {g.pk: g for g in generations}
        pending = dict(finish_at)
        visible_at: dict[int, float] = {}
        real_work: dict[int, float] = {}
        now = 0.0
        next_sweep = poll
        while len(visible_at) < size:
            due = sorted((t, pk) for pk, t in pending.items() if t <= now + 1)
            traveller.move_to(start + timedelta(seconds=now))
            for _, pk in due:
                generation = by_pk[pk]
                fake.succeed(generation.task_id, units="1.5")
                del pending[pk]
                if callbacks:
                    began = time.perf_counter()
                    client.post(
                        generation.callback_path(),
                        {"task_id": generation.task_id, "task_status": "succeed"},
                        content_type="application/json",
                    )
                    real_work[pk] = time.perf_counter() - began
            if now >= next_sweep:
                began = time.perf_counter()
                follow.sweep()
                spent = time.perf_counter() - began
                next_sweep += poll
                for pk in Generation.objects.filter(pk__in=by_pk, status=Status.SUCCEEDED).values_list(
                    "pk", flat=True
                ):
                    real_work.setdefault(pk, spent)
            for pk in Generation.objects.filter(
                pk__in=[pk for pk in by_pk if pk not in visible_at], status=Status.SUCCEEDED
            ).values_list("pk", flat=True):
                visible_at[pk] = now
            now += 1.0
            if now > 3600:
                raise RuntimeError("the pipeline did not finish within an hour of simulated time")
    copy_seconds = []
    for pk in copies:
        began = time.perf_counter()
        media.store_results(pk)
        copy_seconds.append(time.perf_counter() - began)
    assert Generation.objects.filter(pk__in=by_pk, assets_saved_at__isnull=False).count() == size
    latencies = [max(0.0, visible_at[pk] - finish_at[pk]) + real_work.get(pk, 0.0) for pk in visible_at]
    return {
        "requests_per_generation": fake.request_count / size,
        "polling_requests_per_generation": (fake.request_count - creates) / size,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "lists": fake.count("list"),
        "gets": fake.count("get"),
        "second_jobs": sum(1 for g in generations if len(fake.jobs_for(g)) > 1),
        "copy": statistics.mean(copy_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    django_q.conf.Conf.SYNC = True
    call_command("migrate", verbosity=0)
    picture = small_png()
    mp4 = small_mp4()

    def serve(request):
        if request.url.endswith(".mp4"):
            return 200, {"Content-Type": "video/mp4"}, mp4
        return 200, {"Content-Type": "image/png"}, picture

    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; poll every {settings.GENERATION_POLL_SECONDS} s;"
          f" tasks take {settings.SIMULATOR_QUEUE_SECONDS + settings.SIMULATOR_RUN_SECONDS:g} s +/- 50%")  # fmt: skip
    print(
        f"{'in flight':>9} {'callbacks':>9} {'req/gen':>8} {'poll req/gen':>12} {'p50 s':>7} {'p95 s':>7} {'lists':>6} {'gets':>5} {'2nd jobs':>8} {'copy s':>7}"
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(re.escape(MEDIA_BASE) + r"/.*"), callback=serve)
        for size in sizes:
            for callbacks in (False, True):
                r = run(size, callbacks, picture)
                print(
                    f"{size:>9} {'on' if callbacks else 'off':>9} {r['requests_per_generation']:>8.3f} "
                    f"{r['polling_requests_per_generation']:>12.3f} {r['p50']:>7.2f} {r['p95']:>7.2f} "
                    f"{r['lists']:>6} {r['gets']:>5} {r['second_jobs']:>8} {r['copy']:>7.3f}"
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the working process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
