"""Enqueueing billing work on django-q2, always after the commit that stored what the task
reads, so a worker never looks for a row that is not committed yet.

`robust=True` throughout: the row is already stored, so a broker that is down must not
fail the request; the requeue of stuck events and the reconciler pick up what was not
enqueued.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task


def _enqueue_on_commit(func: str, *args: Any, **options: Any) -> None:
    def enqueue() -> None:
        async_task(f"billing.tasks.{func}", *args, **options)

    transaction.on_commit(enqueue, robust=True)


def process_stripe_event(event_pk: int) -> None:
    _enqueue_on_commit("process_stripe_event", event_pk, task_name=f"stripe-event-{event_pk}")


def deliver_demo_event(session_id: str, event_type: str) -> None:
    _enqueue_on_commit("deliver_demo_event", session_id, event_type)


def settle_demo_payment(session_id: str, *, after: timedelta) -> None:
    """A one-off schedule, `after` the commit, that settles a delayed demo payment."""

    def schedule() -> None:
        Schedule.objects.update_or_create(
            name=f"demo-settle-{session_id}"[:100],
            defaults={
                "func": "billing.tasks.settle_demo_payment",
                "args": repr(session_id),
                "schedule_type": Schedule.ONCE,
                "repeats": -1,
                "next_run": timezone.now() + after,
            },
        )

    transaction.on_commit(schedule, robust=True)
