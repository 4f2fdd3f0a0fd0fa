"""Stripe webhook events: verify, store once, answer fast, process in a task.

The endpoint only verifies the signature and stores the event (one row per Stripe event
id); a django-q2 task processes it after the commit. Stripe waits a few seconds for an
answer and retries anything that is not 2xx for days, so the endpoint answers 200 for
duplicates and for types we do not handle, 400 for a bad signature, and 503 only when
it could not store the event (then Stripe's retry is exactly what we want).

Processing treats the event as a hint: each handler takes the object's id and asks
Stripe for its current state (see `billing.payments`). Delivery is at least once and in
any order; the row is claimed by a conditional UPDATE so two workers never process the
same event at the same time.

Operators: in the Stripe Dashboard, add an endpoint at `<SITE_URL>/billing/stripe/webhook/`
for the event types in `HANDLERS` below, and put its signing secret in
`STRIPE_WEBHOOK_SECRET`. Events of other types are acknowledged and recorded as ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import payments, queue, stripe_api
from billing.models import StripeEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A worker that claimed an event this long ago has died; another may claim it again.
# django-q stops any task after Q_CLUSTER["timeout"] seconds, so a claim older than that
# (plus a margin for the clock and the commit) has nobody behind it: waiting longer only
# delays the credits, refunds and disputes of a worker killed mid-task.
STALE_AFTER = timedelta(seconds=settings.Q_CLUSTER["timeout"] + 30)
# An event still "received" this long after arrival lost its task (broker down).
LOST_AFTER = timedelta(minutes=2)


# Each handler gets the event's data.object and uses only its id.
HANDLERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "checkout.session.completed": lambda obj: payments.fulfill_checkout(obj["id"], source="webhook"),
    "checkout.session.async_payment_succeeded": lambda obj: payments.fulfill_checkout(
        obj["id"], source="webhook"
    ),
    "checkout.session.async_payment_failed": lambda obj: payments.fail_checkout(obj["id"], source="webhook"),
    "checkout.session.expired": lambda obj: payments.expire_checkout(obj["id"], source="webhook"),
    "charge.refunded": lambda obj: payments.sync_clawbacks(obj["id"], source="webhook"),
    # A Stripe refund that fails (or is cancelled) after its clawback gives the credits back.
    "refund.failed": lambda obj: payments.sync_clawbacks(obj["charge"], source="webhook"),
    "refund.updated": lambda obj: payments.sync_clawbacks(obj["charge"], source="webhook"),
    "charge.refund.updated": lambda obj: payments.sync_clawbacks(obj["charge"], source="webhook"),
    "charge.dispute.created": lambda obj: payments.sync_dispute(obj["id"], source="webhook"),
    "charge.dispute.closed": lambda obj: payments.sync_dispute(obj["id"], source="webhook"),
}


def receive(body: bytes, sig_header: str | None) -> str:
    """Verify and store one delivery. Returns "stored", "duplicate" or "ignored".

    Raises `stripe_api.InvalidWebhook` (nothing stored) or a `DatabaseError` when the
    event could not be stored.
    """
    event = stripe_api.construct_event(body, sig_header)
    handled = event["type"] in HANDLERS
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                event_id=event["id"],
                type=event["type"],
                payload=event,
                status=StripeEvent.Status.RECEIVED if handled else StripeEvent.Status.IGNORED,
                error="" if handled else "Not an event type this site acts on.",
                processed_at=None if handled else timezone.now(),
            )
            if handled:
                queue.process_stripe_event(row.pk)
    except IntegrityError:
        existing = StripeEvent.objects.filter(event_id=event["id"]).first()
        if existing is None:
            raise
        if _looks_stuck(existing):
            queue.process_stripe_event(existing.pk)
        return "duplicate"
    return "stored" if handled else "ignored"


def _looks_stuck(event: StripeEvent) -> bool:
    now = timezone.now()
    if event.status == StripeEvent.Status.RECEIVED:
        return event.received_at < now - LOST_AFTER
    if event.status == StripeEvent.Status.FAILED:
        return event.attempts < MAX_ATTEMPTS
    return (
        event.status == StripeEvent.Status.PROCESSING
        and bool(event.started_at)
        and event.started_at < now - STALE_AFTER
    )


def _claimable(now) -> Q:
    return Q(status__in=[StripeEvent.Status.RECEIVED, StripeEvent.Status.FAILED]) | Q(
        status=StripeEvent.Status.PROCESSING, started_at__lt=now - STALE_AFTER
    )


def process_event(event_pk: int) -> str:
    """Process one stored event (the body of the `process_stripe_event` task)."""
    now = timezone.now()
    claimed = (
        StripeEvent.objects.filter(_claimable(now), pk=event_pk).update(
            status=StripeEvent.Status.PROCESSING, started_at=now, attempts=F("attempts") + 1
        )
        == 1
    )
    if not claimed:
        return "not claimed"  # done, or another worker has it
    event = StripeEvent.objects.get(pk=event_pk)
    handler = HANDLERS.get(event.type)
    if handler is None:
        return _finish(event, StripeEvent.Status.IGNORED, "Not an event type this site acts on.")
    try:
        obj = event.payload["data"]["object"]
        handler(obj)
    except payments.NotOurs as exc:
        return _finish(event, StripeEvent.Status.IGNORED, str(exc))
    except (payments.PaymentError, stripe_api.StripeApiError) as exc:
        logger.warning("Stripe event %s (%s) failed: %s", event.event_id, event.type, exc)
        return _finish(event, StripeEvent.Status.FAILED, str(exc))
    except Exception as exc:
        logger.exception("Stripe event %s (%s) crashed", event.event_id, event.type)
        return _finish(event, StripeEvent.Status.FAILED, f"{exc.__class__.__name__}: {exc}")
    return _finish(event, StripeEvent.Status.SUCCEEDED, "")


def _finish(event: StripeEvent, status: str, error: str) -> str:
    # Only the worker holding the claim writes the outcome.
    StripeEvent.objects.filter(pk=event.pk, status=StripeEvent.Status.PROCESSING).update(
        status=status, error=error[:2000], processed_at=timezone.now()
    )
    return status


def reprocess(event_pk: int) -> bool:
    """Staff asked to run an event again (after fixing what made it fail). Idempotent."""
    with transaction.atomic():
        reset = (
            StripeEvent.objects.filter(pk=event_pk)
            .exclude(status=StripeEvent.Status.PROCESSING)
            .update(status=StripeEvent.Status.RECEIVED, error="", processed_at=None)
        )
        if reset:
            queue.process_stripe_event(event_pk)
    return bool(reset)


def requeue_stuck_events() -> int:
    """Enqueue events whose task was lost, whose worker died, or that failed and may succeed now."""
    now = timezone.now()
    stuck = StripeEvent.objects.filter(
        Q(status=StripeEvent.Status.RECEIVED, received_at__lt=now - LOST_AFTER)
        | Q(status=StripeEvent.Status.PROCESSING, started_at__lt=now - STALE_AFTER)
        | Q(status=StripeEvent.Status.FAILED, attempts__lt=MAX_ATTEMPTS)
    ).values_list("pk", flat=True)
    count = 0
    for pk in stuck[:500]:
        queue.process_stripe_event(pk)
        count += 1
    return count
