"""Enqueueing generation work on django-q2. Callers pass ids and call these from
`transaction.on_commit`, so a worker never looks for a row that is not committed yet."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

GROUP = "generations"
# Past the task time limit: the killed worker's last database writes and clock skew
# between workers.
LEASE_MARGIN_SECONDS = 30
_brokers: dict[str, Broker] = {}


def task_lease() -> timedelta:
    """How long a task's claim on its row lasts: longer than django-q2 lets a task run
    (Q_CLUSTER's timeout, then it kills the worker), so a second attempt at the same row
    can only start once the first has finished or been killed."""
    return timedelta(seconds=settings.Q_CLUSTER["timeout"] + LEASE_MARGIN_SECONDS)


def broker(cluster: str | None = None) -> Broker:
    """This process's broker for `cluster` (None: the main queue), made once.

    Without one, async_task makes a broker per task, and the Redis broker a client per
    broker, so every create form opened a new connection to Redis (a handshake in the
    request, a socket left to the garbage collector). redis-py's client is shared safely by
    threads, reconnects when a connection drops, and starts afresh after a fork. /healthz
    asks this one too, so it checks the connection the site enqueues on.
    """
    key = cluster or ""
    if key not in _brokers:
        _brokers[key] = get_broker(cluster)
    return _brokers[key]


def _enqueue(func: str, generation_id: int, what: str) -> None:
    async_task(
        f"generations.tasks.{func}",
        generation_id,
        task_name=f"{what} #{generation_id}",
        group=GROUP,
        broker=broker(),
    )


def submit(generation_id: int) -> None:
    _enqueue("submit_generation", generation_id, "submit generation")


def refresh(generation_id: int) -> None:
    _enqueue("check_generation", generation_id, "check generation")


def fetch_results(generation_id: int) -> None:
    # On the results queue when there is one (settings.RESULTS_QUEUE): a slow download
    # then waits for a results worker, never in front of a status change.
    async_task(
        "generations.tasks.fetch_results",
        generation_id,
        task_name=f"copy results of generation #{generation_id}",
        group=GROUP,
        cluster=settings.RESULTS_QUEUE or None,
        broker=broker(settings.RESULTS_QUEUE or None),
    )


def confirm_hints(product: str, not_before: float) -> None:
    async_task(
        "generations.tasks.confirm_hints",
        product,
        not_before,
        task_name=f"confirm callbacks for {product}",
        group=GROUP,
        broker=broker(),
    )


def notify_finished(generation_id: int) -> None:
    _enqueue("notify_finished", generation_id, "email about generation")
