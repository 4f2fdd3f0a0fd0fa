"""The demo checkout: Stripe Checkout's part, played by our own site (STRIPE_DEMO only).

It does what Stripe does and nothing more, so everything after it is production code:
- `billing.demo_backend` serves `billing.stripe_api`'s functions from
  `DemoCheckoutSession` rows;
- the checkout page's Pay completes the session and, like Stripe, delivers a signed
  `checkout.session.completed` event to our webhook URL from a worker (never from inside
  the browser's request: a single-worker server would deadlock calling itself), then
  sends the browser to the success URL;
- a delayed payment completes unpaid, and a scheduled task settles it later with
  `checkout.session.async_payment_succeeded`;
- a declined card leaves the session open, as Stripe does, so the buyer may try again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from typing import Any

import requests
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from billing import queue, stripe_api
from billing.demo_backend import checkout_url, get_session, new_id, success_url
from billing.models import DemoCheckoutSession
from kling_site.links import absolute_url

logger = logging.getLogger(__name__)

DELAYED_PAYMENT_SECONDS = 10
DECLINE_MESSAGE = gettext_lazy(
    "Your card was declined. (Demo: this card always declines; press Pay to succeed.)"
)
DELIVERY_ATTEMPTS = 3


class DeliveryFailed(Exception):
    pass


# -- what the checkout page does -----------------------------------------------------------


def pay(session_id: str) -> str:
    """A card payment that succeeds. Returns where to send the browser."""
    with transaction.atomic():
        completed = DemoCheckoutSession.objects.filter(
            pk=session_id, status=DemoCheckoutSession.Status.OPEN
        ).update(
            status=DemoCheckoutSession.Status.COMPLETE,
            payment_status=DemoCheckoutSession.PaymentStatus.PAID,
            payment_intent_id=new_id("pi"),
            charge_id=new_id("ch"),
            completed_at=timezone.now(),
        )
        if completed:
            queue.deliver_demo_event(session_id, "checkout.session.completed")
    return success_url(get_session(session_id))


def pay_later(session_id: str) -> str:
    """A delayed payment (like a bank debit): complete now, unpaid; settled a little later."""
    with transaction.atomic():
        completed = DemoCheckoutSession.objects.filter(
            pk=session_id, status=DemoCheckoutSession.Status.OPEN
        ).update(
            status=DemoCheckoutSession.Status.COMPLETE,
            payment_status=DemoCheckoutSession.PaymentStatus.UNPAID,
            payment_intent_id=new_id("pi"),
            completed_at=timezone.now(),
        )
        if completed:
            queue.deliver_demo_event(session_id, "checkout.session.completed")
            queue.settle_demo_payment(session_id, after=timedelta(seconds=DELAYED_PAYMENT_SECONDS))
    return success_url(get_session(session_id))


def decline(session_id: str) -> None:
    """A declined card: the session stays open and nothing is charged."""
    DemoCheckoutSession.objects.filter(pk=session_id, status=DemoCheckoutSession.Status.OPEN).update(
        card_declines=F("card_declines") + 1
    )


def settle_delayed_payment(session_id: str) -> bool:
    """The delayed payment arrives (a scheduled task). Idempotent: redelivers if run again."""
    settled = DemoCheckoutSession.objects.filter(
        pk=session_id,
        status=DemoCheckoutSession.Status.COMPLETE,
        payment_status=DemoCheckoutSession.PaymentStatus.UNPAID,
    ).update(payment_status=DemoCheckoutSession.PaymentStatus.PAID, charge_id=new_id("ch"))
    row = get_session(session_id)
    if row.payment_status == DemoCheckoutSession.PaymentStatus.PAID:
        deliver_event(session_id, "checkout.session.async_payment_succeeded")
    return bool(settled)


# -- events, as Stripe would send them -----------------------------------------------------


def event_id(session_id: str, event_type: str) -> str:
    # One id per session and type, so a redelivered event is recognised as a duplicate.
    return "evt_demo_" + hashlib.sha256(f"{session_id}:{event_type}".encode()).hexdigest()[:24]


def build_event(row: DemoCheckoutSession, event_type: str) -> dict[str, Any]:
    return {
        "id": event_id(row.id, event_type),
        "object": "event",
        "api_version": stripe_api.API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": row.id,
                "object": "checkout.session",
                "mode": "payment",
                "status": row.status,
                "payment_status": row.payment_status,
                "amount_total": row.amount_total,
                "currency": row.currency,
                "client_reference_id": row.client_reference_id or None,
                "metadata": row.metadata,
                "customer": row.customer_id or None,
                "customer_email": row.customer_email or None,
                "customer_details": {"email": row.customer_email or None},
                "payment_intent": row.payment_intent_id or None,
                "success_url": row.success_url,
                "cancel_url": row.cancel_url,
                "url": checkout_url(row) if row.status == DemoCheckoutSession.Status.OPEN else None,
                "created": int(row.created_at.timestamp()),
                "livemode": False,
            }
        },
    }


def deliver_event(session_id: str, event_type: str) -> int:
    """POST a signed event to our own webhook URL, from a worker, as Stripe would.

    A few quick retries; if all fail, the success page and the reconciler still fulfil.
    """
    row = get_session(session_id)
    payload = json.dumps(build_event(row, event_type))
    url = absolute_url("billing:stripe_webhook")
    problem = ""
    for attempt in range(DELIVERY_ATTEMPTS):
        if attempt:
            time.sleep(attempt)
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_api.signature_header(payload),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) demo checkout",
        }
        try:
            response = requests.post(url, data=payload.encode(), headers=headers, timeout=10)
        except requests.RequestException as exc:
            problem = str(exc)
            continue
        if response.status_code < 300:
            return response.status_code
        problem = f"HTTP {response.status_code}"
        if response.status_code == 400:
            break  # a signature problem will not fix itself
    logger.warning(
        "Demo checkout could not deliver %s for %s to %s: %s", event_type, session_id, url, problem
    )
    raise DeliveryFailed(f"{event_type} for {session_id}: {problem}")
