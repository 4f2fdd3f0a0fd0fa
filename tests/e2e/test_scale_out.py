"""Scale-out proof: two qcluster processes on PostgreSQL and Redis share the work and never
do it twice. Runs with DATABASE_URL (PostgreSQL) and REDIS_URL set; skipped otherwise."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from django.urls import Resolver404, resolve
from django_q.tasks import async_task, fetch

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(not os.getenv("REDIS_URL"), reason="needs REDIS_URL pointing at Redis"),
]

GENERATIONS = 200
FINISH_WITHIN_SECONDS = 600


def _simulator_is_mounted() -> bool:
    try:
        resolve("/_sim/kling/")
    except Resolver404:
        return False
    return True


def test_it_shares_one_queue_between_two_clusters(qclusters, site_url):
    first, second = qclusters(2, prefix="scale")

    task_ids = [async_task("tests.e2e.probes.worker_pid", 0.1) for _ in range(40)]
    pids = []
    for task_id in task_ids:
        task = fetch(task_id, wait=60_000)
        assert task is not None, f"task {task_id} never ran"
        assert task.success, task.result
        pids.append(task.result)

    ran_on = Counter(
        "first" if pid in first.worker_pids() else "second" if pid in second.worker_pids() else "unknown"
        for pid in pids
    )
    assert ran_on["unknown"] == 0, ran_on
    assert ran_on["first"] > 0 and ran_on["second"] > 0, f"one cluster did all the work: {ran_on}"


@pytest.mark.skipif(not _simulator_is_mounted(), reason="lands with the Kling simulator (/_sim/kling/)")
def test_it_ends_200_generations_on_two_clusters_exactly_once(qclusters, site_url, simulator, prices, people):
    from billing import ledger
    from billing.models import LedgerEntry
    from generations import services
    from generations.models import TERMINAL_STATUSES, Generation, Kind, Status
    from generations.simulator.models import SimTask

    # Faults on: lost, repeated and reordered callbacks, errors that may or may not have
    # created the task, answers slower than the client waits, tasks that fail.
    for knob, value in {
        "queue_seconds": 0.5,
        "run_seconds": 1,
        "concurrency_limit": 20,
        "rate_1303": 0.05,
        "rate_5000": 0.05,
        "rate_5002_after_create": 0.05,
        "rate_malformed_json": 0.03,
        "rate_read_timeout": 0.03,
        "read_timeout_seconds": 3,
        "rate_failed_task": 0.1,
        "rate_callback_lost": 0.2,
        "rate_callback_duplicate": 0.2,
        "rate_callback_reordered": 0.1,
    }.items():
        setattr(simulator, knob, value)
    simulator.save()
    clusters = qclusters(
        2,
        prefix="scale",
        env={
            "KLING_MAX_CONCURRENCY": "20",
            "KLING_MAX_QPM": "100000",
            "KLING_READ_TIMEOUT": "2",
            "GENERATION_POLL_SECONDS": "2",
        },
    )

    owners = [people.make_person(f"person{i}@example.org", welcome=False) for i in range(10)]
    for owner in owners:
        ledger.grant(owner, 100_000, key=f"scale:{owner.pk}", memo="Scale-out test")
    video = {
        "model_name": "kling-v2-6",
        "negative_prompt": "",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
        "sound": False,
    }
    image = {
        "model_name": "kling-v2-1",
        "negative_prompt": "",
        "n": 1,
        "aspect_ratio": "1:1",
        "resolution": "1k",
    }
    ids = []
    for i in range(GENERATIONS):
        kind, data = (Kind.TEXT2VIDEO, video) if i % 4 == 0 else (Kind.TEXT2IMAGE, image)
        owner = owners[i % len(owners)]
        ids.append(services.create_generation(owner, kind, {**data, "prompt": f"Scale-out scene {i}"}).pk)

    # Every generation ends, and every success has its files in our storage.
    generations = Generation.objects.filter(pk__in=ids)
    deadline = time.monotonic() + FINISH_WITHIN_SECONDS
    while (
        generations.exclude(status__in=TERMINAL_STATUSES).exists()
        or generations.filter(status=Status.SUCCEEDED, assets_saved_at=None).exists()
    ):
        if time.monotonic() > deadline or not all(c.process.poll() is None for c in clusters):
            states = Counter(generations.values_list("status", flat=True))
            pytest.fail(f"not finished after {FINISH_WITHIN_SECONDS} s: {dict(states)}")
        time.sleep(1)

    # Each was created at the provider at most once (once for every success).
    created = Counter(SimTask.objects.values_list("external_task_id", flat=True))
    for generation in generations:
        times = created[str(generation.external_task_id)]
        assert times <= 1, f"generation {generation.pk} was created {times} times at the provider"
        if generation.status == Status.SUCCEEDED:
            assert times == 1

    # The ledger is exact: one charge each, one refund for each failure, none for a success.
    assert ledger.find_drifts() == []
    entries = Counter(LedgerEntry.objects.filter(generation_id__in=ids).values_list("generation_id", "kind"))
    for generation in generations:
        assert entries[(generation.pk, LedgerEntry.Kind.CHARGE)] == 1
        refunds = entries[(generation.pk, LedgerEntry.Kind.REFUND)]
        assert refunds == (1 if generation.status == Status.FAILED else 0), generation.pk
    for owner in owners:
        spent = sum(g.cost for g in generations.filter(owner=owner, status=Status.SUCCEEDED))
        assert ledger.balance_of(owner) == 100_000 - spent

    states = Counter(generations.values_list("status", flat=True))
    print(f"\n{GENERATIONS} generations on two clusters: {dict(states)}")
    assert states[Status.SUCCEEDED] > GENERATIONS / 2
