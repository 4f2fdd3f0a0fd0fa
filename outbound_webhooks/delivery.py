"""Sending events, signed per the Standard Webhooks spec, until they are taken or 24 h pass.

An event is small on purpose: the generation's state and the API URL to read it in full.
The full record holds signed file links that expire within the hour, and a retry may
come a day later; the receiver asks for the links when it wants the files.

Each delivery is claimed for a lease before its POST, so a task run twice (the broker
redelivers) or the sweep and the first send at once still make one request per attempt.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import requests
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from generations.models import TERMINAL_STATUSES, Generation, Status
from kling_site import safe_http
from kling_site.links import absolute_url

from . import queue
from .models import Attempt, Delivery, Endpoint
from .subscriptions import allows_private_hosts, endpoint_for, new_event_id

logger = logging.getLogger(__name__)

# When each attempt is due, counted from the first: quick retries for a blip, then
# hours apart, the last a day after the first. Then the delivery gives up.
RETRY_AFTER = tuple(
    timedelta(seconds=s) for s in (0, 60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 24 * 3600)
)
TIMEOUT = (5, 10)  # seconds to connect, and between bytes of the answer
EXCERPT_BYTES = 500
# Longer than one POST can take (connect + read timeouts, with margin): a claim older
# than this belongs to a worker that died.
LEASE = timedelta(seconds=60)
USER_AGENT = "kling-site-webhooks/1"
# Copying a success's files comes before its event; past this, the finish task was lost.
FINISH_TASK_GRACE = timedelta(minutes=15)


def event_type(generation: Generation) -> str:
    return "generation.succeeded" if generation.status == Status.SUCCEEDED else "generation.failed"


def generation_payload(generation: Generation) -> dict:
    failed = generation.status == Status.FAILED
    return {
        "id": generation.pk,
        "kind": generation.kind,
        "status": generation.status,
        "model_name": generation.model_name,
        "mode": generation.mode,
        "duration": generation.duration,
        "prompt": generation.prompt,
        "cost": generation.cost,
        "refunded": generation.refunded_credits,
        "error": {"code": generation.error_code or "failed", "message": generation.error_message}
        if failed
        else None,
        "created_at": _iso(generation.created_at),
        "finished_at": _iso(generation.finished_at),
        "results_saved_at": _iso(generation.assets_saved_at),
        "outputs": generation.assets.count(),
        "url": absolute_url("api:generation", generation.pk),
        "web_url": absolute_url(generation),
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def generation_finished(generation_id: int) -> bool:
    """Start the promised event of a finished generation (once; later calls do nothing)."""
    generation = Generation.objects.filter(pk=generation_id, status__in=TERMINAL_STATUSES).first()
    if generation is None:
        return False
    now = timezone.now()
    payload = {"type": event_type(generation), "timestamp": _iso(now), "data": generation_payload(generation)}
    with transaction.atomic():
        started = Delivery.objects.filter(generation_id=generation_id, status=Delivery.Status.WAITING).update(
            status=Delivery.Status.PENDING, event_type=payload["type"], payload=payload, next_attempt_at=now
        )
        if started:
            delivery_id = Delivery.objects.values_list("pk", flat=True).get(generation_id=generation_id)
            queue.send(delivery_id)
    return bool(started)


def send_test_event(user) -> Delivery:
    """A `webhook.test` event to the person's default URL, sent like any other."""
    endpoint: Endpoint = endpoint_for(user)
    if not endpoint.url:
        raise ValueError(_("Save a webhook URL first."))
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            owner=user,
            event_id=new_event_id(),
            event_type="webhook.test",
            url=endpoint.url,
            secret=endpoint.secret,
            payload={
                "type": "webhook.test",
                "timestamp": _iso(now),
                "data": {"message": "A test event: your endpoint is reachable and can verify our signature."},
            },
            status=Delivery.Status.PENDING,
            next_attempt_at=now,
        )
        queue.send(delivery.pk)
    return delivery


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    return Delivery.objects.get(pk=delivery_id) if claimed else None


def signed_headers(delivery: Delivery, body: str, when) -> dict[str, str]:
    signature = Webhook(delivery.secret).sign(delivery.event_id, when, body)
    return {
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _post(delivery: Delivery) -> Attempt:
    """One POST; never raises for what the receiver or the network does."""
    started_at = timezone.now()
    body = json.dumps(delivery.payload, separators=(",", ":"))
    attempt = Attempt(delivery=delivery, at=started_at)
    clock = time.monotonic()
    try:
        with safe_http.session(allow_private=allows_private_hosts()) as http:
            response = http.post(
                delivery.url,
                data=body.encode(),
                headers=signed_headers(delivery, body, started_at),
                timeout=TIMEOUT,
                allow_redirects=False,
                stream=True,
            )
            with response:
                attempt.status_code = response.status_code
                excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
                attempt.response_excerpt = excerpt.decode("utf-8", "replace")[:EXCERPT_BYTES]
    except safe_http.PrivateAddress:
        attempt.error = "refused: the URL now points at a private network"
    except requests.Timeout:
        attempt.error = "timed out"
    except requests.RequestException as exc:
        attempt.error = f"could not connect: {type(exc).__name__}"
    except Exception:  # a receiver must never be able to break the worker
        logger.exception("webhook %s: unexpected error while sending", delivery.event_id)
        attempt.error = "internal error while sending"
    attempt.duration_ms = int((time.monotonic() - clock) * 1000)
    return attempt


def send(delivery_id: int) -> str:
    """Make the due attempt of one delivery, record it, and settle what happens next."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "nothing due"
    attempt = _post(delivery)
    now = timezone.now()
    first = delivery.first_attempt_at or attempt.at
    updates = {"first_attempt_at": first}
    if attempt.succeeded:
        updates |= {"status": Delivery.Status.DELIVERED, "delivered_at": now, "next_attempt_at": None}
        outcome = "delivered"
    elif attempt.status_code == 410 or delivery.attempts >= len(RETRY_AFTER):
        # 410 Gone: the receiver says this endpoint is no more (Standard Webhooks).
        updates |= {"status": Delivery.Status.GAVE_UP, "next_attempt_at": None}
        outcome = "gave up"
    else:
        updates["next_attempt_at"] = max(first + RETRY_AFTER[delivery.attempts], now)
        outcome = f"retry at {updates['next_attempt_at']:%H:%M:%S}"
    with transaction.atomic():
        attempt.save()
        Delivery.objects.filter(pk=delivery.pk).update(**updates)
    level = logging.INFO if attempt.succeeded else logging.WARNING
    logger.log(
        level,
        "webhook %s attempt %s to %s: %s; %s",
        delivery.event_id,
        delivery.attempts,
        delivery.url,
        attempt.status_code or attempt.error,
        outcome,
    )
    return outcome


def send_due(limit: int = 200) -> int:
    """Enqueue every delivery whose attempt is due (retries, and firsts the broker lost);
    start the events of generations that finished a while ago without starting theirs
    (their finish task was never enqueued)."""
    stale = timezone.now() - FINISH_TASK_GRACE
    for generation_id in Delivery.objects.filter(
        status=Delivery.Status.WAITING,
        generation__status__in=TERMINAL_STATUSES,
        generation__finished_at__lt=stale,
    ).values_list("generation_id", flat=True)[:limit]:
        generation_finished(generation_id)
    due = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        queue.send_now(delivery_id)
    return len(due)


def redeliver(delivery: Delivery) -> None:
    """Staff or the owner: try a delivery that gave up (or succeeded) again, now."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now(), attempts=0, first_attempt_at=None
        )
        queue.send(delivery.pk)
