"""The demo checkout: Stripe Checkout's part, played by our own site (STRIPE_DEMO only).

It does what Stripe does and nothing more, so everything after it is production code:
- `backend` serves `billing.stripe_gateway`'s functions from `DemoCheckoutSession` rows
  (create honours the idempotency key; retrieve reports status, payment and charge);
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
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from billing import queue, stripe_gateway
from billing.models import CreditPack, DemoCheckoutSession
from billing.stripe_gateway import CheckoutSession, GatewayError, NotFound

logger = logging.getLogger(__name__)
DemoStatus = DemoCheckoutSession.Status
PaymentStatus = DemoCheckoutSession.PaymentStatus

DELAYED_PAYMENT_SECONDS = 10
DECLINE_MESSAGE = "Your card was declined. (Demo: this card always declines; press Pay to succeed.)"
DELIVERY_ATTEMPTS = 3


class DeliveryFailed(Exception):
    pass


def _token(prefix: str) -> str:
    return f"{prefix}_demo_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class DemoBackend:
    """The demo's answers to `billing.stripe_gateway` (see `stripe_gateway.Backend`)."""

    def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> CheckoutSession:
        existing = DemoCheckoutSession.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _as_session(existing)
        amount, currency, description = _line_item(params["line_items"][0])
        email = params.get("customer_email", "")
        customer = params.get("customer") or (
            "cus_demo_" + hashlib.sha256(email.lower().encode()).hexdigest()[:14] if email else ""
        )
        try:
            with transaction.atomic():
                row = DemoCheckoutSession.objects.create(
                    id=_token("cs"),
                    idempotency_key=idempotency_key,
                    amount_total=amount,
                    currency=currency,
                    description=description,
                    client_reference_id=params.get("client_reference_id", ""),
                    metadata=dict(params.get("metadata") or {}),
                    customer_id=customer,
                    customer_email=email,
                    success_url=params["success_url"],
                    cancel_url=params["cancel_url"],
                )
        except IntegrityError:
            # The same idempotency key, sent twice at once: Stripe returns the first session.
            row = DemoCheckoutSession.objects.get(idempotency_key=idempotency_key)
        return _as_session(row)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        return _as_session(_get(session_id))

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        with transaction.atomic():
            if not DemoCheckoutSession.objects.filter(pk=session_id, status=DemoStatus.OPEN).update(
                status=DemoStatus.EXPIRED
            ):
                _get(session_id)
                raise GatewayError("Only an open Checkout Session can be expired")
            queue.deliver_demo_event(session_id, "checkout.session.expired")
        return _as_session(_get(session_id))

    def list_paid_sessions(self, since: datetime) -> Iterator[CheckoutSession]:
        rows = DemoCheckoutSession.objects.filter(
            created_at__gte=since, status=DemoStatus.COMPLETE, payment_status=PaymentStatus.PAID
        ).order_by("-created_at")
        for row in rows.iterator():
            yield _as_session(row)

    def find_checkout_session(self, payment_intent_id: str) -> CheckoutSession | None:
        row = DemoCheckoutSession.objects.filter(payment_intent_id=payment_intent_id).first()
        return _as_session(row) if row else None

    def retrieve_charge(self, charge_id: str) -> stripe_gateway.Charge:
        row = DemoCheckoutSession.objects.filter(charge_id=charge_id).exclude(charge_id="").first()
        if row is None:
            raise NotFound(f"The demo checkout has no charge {charge_id}")
        # The demo takes no real money, so it never refunds any.
        return stripe_gateway.Charge(
            id=row.charge_id,
            amount=row.amount_total,
            amount_refunded=0,
            currency=row.currency,
            payment_intent_id=row.payment_intent_id,
            receipt_url=_receipt_url(row),
        )

    def retrieve_dispute(self, dispute_id: str) -> stripe_gateway.Dispute:
        raise NotFound("The demo checkout has no disputes")


backend = DemoBackend()


def _get(session_id: str) -> DemoCheckoutSession:
    row = DemoCheckoutSession.objects.filter(pk=session_id).first()
    if row is None:
        raise NotFound(f"No such checkout session: {session_id}")
    return row


def _line_item(item: dict[str, Any]) -> tuple[int, str, str]:
    if "price_data" in item:
        data = item["price_data"]
        return int(data["unit_amount"]), data["currency"].lower(), data["product_data"]["name"]
    # The demo has no Stripe price catalogue: a pack's price id stands for the pack's price.
    pack = CreditPack.objects.filter(stripe_price_id=item["price"]).first()
    if pack is None:
        raise GatewayError(f"No such price: {item['price']}")
    return pack.price_minor, pack.currency.lower(), f"{pack.credits:,} credits ({pack.name})"


def _receipt_url(row: DemoCheckoutSession) -> str:
    if not row.charge_id:
        return ""
    return _origin(row.success_url) + reverse("billing:demo_receipt", args=[row.charge_id])


def checkout_url(row: DemoCheckoutSession) -> str:
    return _origin(row.success_url) + reverse("billing:demo_checkout", args=[row.id])


def success_url(row: DemoCheckoutSession) -> str:
    return row.success_url.replace("{CHECKOUT_SESSION_ID}", row.id)


def _as_session(row: DemoCheckoutSession) -> CheckoutSession:
    return CheckoutSession(
        id=row.id,
        status=row.status,
        payment_status=row.payment_status,
        amount_total=row.amount_total,
        currency=row.currency,
        url=checkout_url(row),
        client_reference_id=row.client_reference_id,
        metadata={str(k): str(v) for k, v in row.metadata.items()},
        customer_id=row.customer_id,
        customer_email=row.customer_email,
        payment_intent_id=row.payment_intent_id,
        payment_intent_status=(
            "succeeded"
            if row.payment_status == PaymentStatus.PAID
            else "processing"
            if row.payment_intent_id
            else ""
        ),
        charge_id=row.charge_id,
        receipt_url=_receipt_url(row),
        created=int(row.created_at.timestamp()),
    )


# -- what the checkout page does -----------------------------------------------------------


def pay(session_id: str) -> str:
    """A card payment that succeeds. Returns where to send the browser."""
    with transaction.atomic():
        completed = DemoCheckoutSession.objects.filter(pk=session_id, status=DemoStatus.OPEN).update(
            status=DemoStatus.COMPLETE,
            payment_status=PaymentStatus.PAID,
            payment_intent_id=_token("pi"),
            charge_id=_token("ch"),
            completed_at=timezone.now(),
        )
        if completed:
            queue.deliver_demo_event(session_id, "checkout.session.completed")
    return success_url(_get(session_id))


def pay_later(session_id: str) -> str:
    """A delayed payment (like a bank debit): complete now, unpaid; settled a little later."""
    with transaction.atomic():
        completed = DemoCheckoutSession.objects.filter(pk=session_id, status=DemoStatus.OPEN).update(
            status=DemoStatus.COMPLETE,
            payment_status=PaymentStatus.UNPAID,
            payment_intent_id=_token("pi"),
            completed_at=timezone.now(),
        )
        if completed:
            queue.deliver_demo_event(session_id, "checkout.session.completed")
            queue.settle_demo_payment(session_id, after=timedelta(seconds=DELAYED_PAYMENT_SECONDS))
    return success_url(_get(session_id))


def decline(session_id: str) -> None:
    """A declined card: the session stays open and nothing is charged."""
    DemoCheckoutSession.objects.filter(pk=session_id, status=DemoStatus.OPEN).update(
        card_declines=F("card_declines") + 1
    )


def settle_delayed_payment(session_id: str) -> bool:
    """The delayed payment arrives (a scheduled task). Idempotent: redelivers if run again."""
    settled = DemoCheckoutSession.objects.filter(
        pk=session_id, status=DemoStatus.COMPLETE, payment_status=PaymentStatus.UNPAID
    ).update(payment_status=PaymentStatus.PAID, charge_id=_token("ch"))
    row = _get(session_id)
    if row.payment_status == PaymentStatus.PAID:
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
        "api_version": stripe_gateway.API_VERSION,
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
                "url": checkout_url(row) if row.status == DemoStatus.OPEN else None,
                "created": int(row.created_at.timestamp()),
                "livemode": False,
            }
        },
    }


def deliver_event(session_id: str, event_type: str) -> int:
    """POST a signed event to our own webhook URL, from a worker, as Stripe would.

    A few quick retries; if all fail, the success page and the reconciler still fulfil.
    """
    row = _get(session_id)
    payload = json.dumps(build_event(row, event_type))
    url = settings.SITE_URL + reverse("billing:stripe_webhook")
    problem = ""
    for attempt in range(DELIVERY_ATTEMPTS):
        if attempt:
            time.sleep(attempt)
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_gateway.signature_header(payload),
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
