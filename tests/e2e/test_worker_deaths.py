"""A worker process killed from outside (kill -9, the OOM killer) must not stop its cluster.

An idle django-q worker waits for the next task inside the task queue's read lock. Killed
there, it never releases the lock, and the worker spawned in its place, like every other
worker, waits for that lock forever: the cluster looks alive and runs nothing. The chaos
soak found it (docs/soak.md). Killing every worker of an idle cluster kills the holder
for sure; the cluster must then still run the next task.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django_q.tasks import async_task, fetch

pytestmark = pytest.mark.e2e


def _wait_for_workers(cluster, count: int, timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {pid for pid in cluster.worker_pids() if _alive(pid)}
        if len(pids) >= count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} workers ready:\n{cluster.log()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_cluster_whose_idle_workers_are_killed_still_runs_tasks(qclusters):
    [cluster] = qclusters(1, prefix="deaths", env={"Q_WORKERS": "2"})
    first = fetch(async_task("tests.e2e.probes.worker_pid"), wait=30_000)
    assert first is not None and first.success, cluster.log()
    time.sleep(1)  # both workers back to waiting for the next task

    killed = _wait_for_workers(cluster, 2)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    task = fetch(async_task("tests.e2e.probes.worker_pid"), wait=40_000)
    assert task is not None, f"no task ran after the workers were killed:\n{cluster.log()}"
    assert task.success and task.result not in killed
    assert cluster.process.poll() is None, "the cluster process itself must go on"
