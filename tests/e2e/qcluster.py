"""Real `manage.py qcluster` processes for the browser journeys and the scale-out test.

Each cluster comes with its own `manage.py poll_clock`, as in the production Procfile (one
clock per cluster also shows that several clocks still give one sweep pass per interval).

A cluster runs in its own process group, on the same test database as pytest-django's
live server (the SQLite test file, or the PostgreSQL test database) and on the same
broker, so tasks the live server enqueues are done by it exactly as in production.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parents[2]
READY_LINE = "running."
STOP_GRACE_SECONDS = 20


def worker_env(
    site_url: str, media_root: Path | str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a qcluster needs to share the running test session's database and broker."""
    from django.db import connection

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    test_db = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(test_db)
    elif connection.vendor == "postgresql":
        # pytest-django renamed the database (kling_ops -> test_kling_ops); point the worker there.
        parts = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_db}"))
    else:
        raise RuntimeError(f"no worker set-up for the {connection.vendor} database")
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "kling_site.settings",
            "SITE_URL": site_url.rstrip("/"),
            "MEDIA_ROOT": str(media_root),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            # The readiness check reads django-q's "Q Cluster ... running." INFO line.
            "LOG_LEVEL": "INFO",
            "Q_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class QCluster:
    """One `manage.py qcluster` process: start, wait until it runs, stop, read its log."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = dict(env)
        self.log_path = Path(log_dir) / f"qcluster-{name}.log"
        self.process: subprocess.Popen | None = None
        self.clock: subprocess.Popen | None = None
        self._terminating = False

    def start(self) -> QCluster:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = self._spawn("qcluster", log)
            self.clock = self._spawn("poll_clock", log)
        return self

    def _spawn(self, command: str, log) -> subprocess.Popen:
        # A session of its own, so teardown can kill the worker processes it forked.
        return subprocess.Popen(
            [sys.executable, "manage.py", command],
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def worker_pids(self) -> set[int]:
        """The pids of the processes that run tasks (from django-q's "ready for work at")."""
        return {int(pid) for pid in re.findall(r"ready for work at (\d+)", self.log())}

    def wait_ready(self, timeout: float = 60) -> QCluster:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.log():
                return self
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"qcluster {self.name} exited before it was ready:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"qcluster {self.name} not ready after {timeout:.0f} s:\n{self.log()}")

    def terminate(self) -> None:
        """Ask the cluster to stop: one SIGTERM to the main process only.

        Signalling the whole group makes the worker processes die under the sentinel, and
        a second SIGTERM arrives in the middle of the shutdown: either way the cluster
        hangs instead of stopping.
        """
        if self.clock is not None and self.clock.poll() is None:
            self.clock.send_signal(signal.SIGTERM)
        if self.process is not None and self.process.poll() is None and not self._terminating:
            self._terminating = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int | None:
        """Terminate, wait up to `grace` seconds, then kill whatever is left of its group."""
        process = self.process
        if process is None:
            return None
        self.terminate()
        for each in (process, self.clock):
            if each is not None and each.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    each.wait(grace)
        for each in (process, self.clock):
            if each is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(each.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                each.wait(5)
        return process.returncode

    @property
    def stopped_cleanly(self) -> bool:
        return self.process is not None and self.process.returncode == 0 and self.clock_stopped_cleanly

    @property
    def clock_stopped_cleanly(self) -> bool:
        # A SIGTERM that lands while Django is still starting ends the clock before its
        # handler is installed; it holds no lock or transaction, so that is clean too.
        return self.clock is None or self.clock.returncode in (0, -signal.SIGTERM)


def start_clusters(
    count: int, env: Mapping[str, str], log_dir: Path, prefix: str = "worker"
) -> list[QCluster]:
    """Start `count` clusters side by side and wait until every one of them runs."""
    clusters = [QCluster(f"{prefix}-{i + 1}", env, log_dir).start() for i in range(count)]
    try:
        for cluster in clusters:
            cluster.wait_ready()
    except BaseException:
        stop_clusters(clusters)
        raise
    return clusters


def stop_clusters(clusters: list[QCluster]) -> None:
    # Terminate all first, so they stop in parallel rather than one grace period each.
    for cluster in clusters:
        cluster.terminate()
    for cluster in clusters:
        cluster.stop()
