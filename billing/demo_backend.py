"""The demo checkout's sessions (`DemoCheckoutSession` rows), and `backend`, which answers
`billing.stripe_api`'s calls in demo mode as Stripe would (create honours the
idempotency key; retrieve reports status, payment and charge).

It builds on `billing.payment_types`, not on `billing.stripe_api`, so that stripe_api can choose it;
the checkout page's actions and the signed events are in `billing.demo_checkout`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.urls import reverse

from billing import queue
from billing.models import CreditPack, DemoCheckoutSession
from billing.payment_types import Charge, CheckoutSession, Dispute, NotFound, StripeApiError


def new_id(prefix: str) -> str:
    return f"{prefix}_demo_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class DemoBackend:
    """The demo's answers to `billing.stripe_api` (see `stripe_api.Backend`)."""

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
                    id=new_id("cs"),
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
        return _as_session(get_session(session_id))

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        with transaction.atomic():
            if not DemoCheckoutSession.objects.filter(
                pk=session_id, status=DemoCheckoutSession.Status.OPEN
            ).update(status=DemoCheckoutSession.Status.EXPIRED):
                get_session(session_id)
                raise StripeApiError("Only an open Checkout Session can be expired")
            queue.deliver_demo_event(session_id, "checkout.session.expired")
        return _as_session(get_session(session_id))

    def list_paid_sessions(self, since: datetime) -> Iterator[CheckoutSession]:
        rows = DemoCheckoutSession.objects.filter(
            created_at__gte=since,
            status=DemoCheckoutSession.Status.COMPLETE,
            payment_status=DemoCheckoutSession.PaymentStatus.PAID,
        ).order_by("-created_at")
        for row in rows.iterator():
            yield _as_session(row)

    def find_checkout_session(self, payment_intent_id: str) -> CheckoutSession | None:
        row = DemoCheckoutSession.objects.filter(payment_intent_id=payment_intent_id).first()
        return _as_session(row) if row else None

    def retrieve_charge(self, charge_id: str) -> Charge:
        row = DemoCheckoutSession.objects.filter(charge_id=charge_id).exclude(charge_id="").first()
        if row is None:
            raise NotFound(f"The demo checkout has no charge {charge_id}")
        # The demo takes no real money, so Stripe never refunds any of it.
        return Charge(
            id=row.charge_id,
            amount=row.amount_total,
            amount_refunded=0,
            currency=row.currency,
            payment_intent_id=row.payment_intent_id,
            receipt_url=_receipt_url(row),
        )

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        raise NotFound("The demo checkout has no disputes")


backend = DemoBackend()


def get_session(session_id: str) -> DemoCheckoutSession:
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
        raise StripeApiError(f"No such price: {item['price']}")
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
            if row.payment_status == DemoCheckoutSession.PaymentStatus.PAID
            else "processing"
            if row.payment_intent_id
            else ""
        ),
        charge_id=row.charge_id,
        receipt_url=_receipt_url(row),
        created=int(row.created_at.timestamp()),
    )
