"""Enqueueing webhook sends on django-q2, after the commit that stored the delivery.

`robust=True`: the delivery row is already stored, so a broker that is down must not fail
the request or the finishing job; the minute sweep (`send_due`) sends what was not enqueued.
"""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task

GROUP = "webhooks"


def send_now(delivery_id: int) -> None:
    async_task(
        "outbound_webhooks.tasks.send", delivery_id, task_name=f"send webhook #{delivery_id}", group=GROUP
    )


def send(delivery_id: int) -> None:
    transaction.on_commit(lambda: send_now(delivery_id), robust=True)
