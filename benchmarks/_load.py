"""Load against real processes, shared by the benchmarks that measure the site under gunicorn.

    from _load import serve, load, rate_line
    proc, base = serve(TMP)                          # gunicorn, 2 workers, production settings
    run = load(lambda session: session.get(f"{base}/healthz"), threads=8, seconds=10)
    print(rate_line("GET /healthz", run, None)[0])

Also the in-process side: `timing()` of a test client's requests and `line()` to print them.
"""

from __future__ import annotations

import atexit
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from _env import ROOT, soak_helpers

# Over the production settings, for a site served on 127.0.0.1 over plain HTTP (no HSTS)
# that submits to the simulator (nothing leaves the machine).
SERVED = {"ALLOWED_HOSTS": "testserver,127.0.0.1", "SECURE_HSTS_SECONDS": "0", "KLING_PROVIDER": "simulator"}


def percentile(times: list[float], q: float) -> float:
    """The q-th quantile of `times` (sorted or not), the nearest rank below."""
    ordered = sorted(times)
    return ordered[max(int(len(ordered) * q) - 1, 0)]


def timing(request: Callable[[], object], n: int) -> list[float]:
    """Times (ms) of `n` calls of `request` one after the other, in this process."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        request()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(label: str, times: list[float]) -> str:
    return (
        f"{label:<34} p50 {statistics.median(times):6.2f} ms  p95 {percentile(times, 0.95):6.2f} ms"
        f"  ({len(times) / (sum(times) / 1000):6.0f} req/s)"
    )


def serve(log_dir: Path, workers: int = 2, **env: str):
    """gunicorn (`gunicorn.conf.py`, this process's environment: the same database, cache and
    files) on a free port, once it answers /healthz; returns the process and its base URL."""
    soak = soak_helpers()
    port = soak.free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    environ.update(GUNICORN_WORKERS=str(workers), GUNICORN_BIND=f"127.0.0.1:{port}", PYTHONPATH=str(ROOT))
    environ.update(env)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, "kling_site.wsgi", "-c", "gunicorn.conf.py"]
    proc = soak.Proc("gunicorn", argv, environ, log_dir).start()
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


@dataclass
class Run:
    """What `load` measured: the time (ms) of every good answer, over `seconds`."""

    seconds: float
    times: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.times) / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        return percentile(self.times, 0.95)


def load(
    send: Callable[[requests.Session], requests.Response],
    threads: int,
    seconds: float,
    *,
    sessions: list[requests.Session] | None = None,
    ok: Callable[[requests.Response], bool] = lambda response: response.status_code == 200,
) -> Run:
    """`threads` clients, each with its own Session (`sessions[i]` when given: signed in, say),
    calling `send` back to back for `seconds`. Stops the benchmark if any answer is not `ok`."""
    run = Run(seconds)
    failures: list[requests.Response] = []
    deadline = time.perf_counter() + seconds

    def client(session: requests.Session) -> None:
        with session:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = send(session)
                elapsed = (time.perf_counter() - started) * 1000
                if ok(response):
                    run.times.append(elapsed)
                else:
                    failures.append(response)

    clients = sessions or [requests.Session() for _ in range(threads)]
    workers = [threading.Thread(target=client, args=(clients[i],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        first = failures[0]
        raise SystemExit(
            f"{first.request.method} {first.url}: {len(failures)} answers were not as expected"
            f" (e.g. {first.status_code}: {first.text[:300]!r})"
        )
    return run


def rate_line(label: str, run: Run, reference: float | None, name: str = "/healthz") -> tuple[str, float]:
    """A printed line for `run`, with its rate as a ratio of `reference` (requests per second
    of the view called `name`) when given; and the rate."""
    ratio = f"  {run.rate / reference:5.2f} x {name}" if reference else ""
    text = f"{label:<36} {run.rate:7.1f} req/s  p50 {run.p50:7.1f} ms  p95 {run.p95:7.1f} ms{ratio}"
    return text, run.rate
