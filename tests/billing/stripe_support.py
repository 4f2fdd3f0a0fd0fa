"""Helpers for the Stripe tests: sample events, signing, and an in-memory Stripe.

`FakeStripe` stands in for the functions of `billing.stripe_api` (our seam); each
test sets what Stripe would answer. Events come from the JSON samples in
`stripe_events/`, signed the way Stripe signs them. The fixtures live in
`stripe_fixtures.py`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import stripe
from django.conf import settings
from django.test import Client

from billing import ledger, stripe_api
from billing.models import LedgerEntry, Purchase
from billing.stripe_api import Charge, CheckoutSession, Dispute, NotFound, StripeRefund

EVENTS_DIR = Path(__file__).parent / "stripe_events"
WEBHOOK_URL = "/billing/stripe/webhook/"
SESSION_ID = "cs_test_a1B2c3D4e5F6g7H8i9J0"
PAYMENT_INTENT_ID = "pi_3TestPaymentIntent0001"
CHARGE_ID = "ch_3TestCharge00000001"
CUSTOMER_ID = "cus_TestCustomer0001"
DISPUTE_ID = "du_1TestDispute0000001"
RECEIPT_URL = "https://pay.stripe.com/receipts/payment/test_receipt"


def load_event(name: str) -> dict:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def sign(payload: str, secret: str | None = None, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(
        payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
    )


def post_event(client: Client, event: dict | str, *, secret: str | None = None, url: str = WEBHOOK_URL):
    payload = event if isinstance(event, str) else json.dumps(event)
    return client.post(
        url, payload, content_type="application/json", headers={"Stripe-Signature": sign(payload, secret)}
    )


def entries_for(key: str) -> int:
    return LedgerEntry.objects.filter(idempotency_key=key).count()


def assert_ledger_consistent() -> None:
    assert ledger.find_drifts() == []


class FakeStripe:
    """What Stripe would answer now. Tests change it between events, like real life."""

    def __init__(self) -> None:
        self.sessions: dict[str, CheckoutSession] = {}
        self.charges: dict[str, Charge] = {}
        self.disputes: dict[str, Dispute] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    # -- state -------------------------------------------------------------------------
    def add_session(
        self, purchase: Purchase, *, status="complete", payment_status="paid", **extra
    ) -> CheckoutSession:
        paid = payment_status == "paid"
        session = CheckoutSession(
            id=purchase.stripe_session_id or SESSION_ID,
            status=status,
            payment_status=payment_status,
            amount_total=purchase.amount_minor,
            currency=purchase.currency,
            client_reference_id=str(purchase.pk),
            metadata={"purchase_id": str(purchase.pk), "user_id": str(purchase.user_id)},
            customer_id=CUSTOMER_ID,
            customer_email=purchase.user.email,
            payment_intent_id=PAYMENT_INTENT_ID if status == "complete" else "",
            payment_intent_status="succeeded" if paid else ("processing" if status == "complete" else ""),
            charge_id=CHARGE_ID if paid else "",
            receipt_url=RECEIPT_URL if paid else "",
            created=1763780000,
        )
        session = replace(session, **extra)
        self.sessions[session.id] = session
        if paid:
            self.charges.setdefault(
                session.charge_id,
                Charge(
                    id=session.charge_id,
                    amount=session.amount_total,
                    amount_refunded=0,
                    currency=session.currency,
                    payment_intent_id=session.payment_intent_id,
                    receipt_url=RECEIPT_URL,
                ),
            )
        return session

    def update_session(self, session_id: str, **changes) -> None:
        self.sessions[session_id] = replace(self.sessions[session_id], **changes)

    def pay(self, session_id: str) -> None:
        self.update_session(
            session_id,
            status="complete",
            payment_status="paid",
            payment_intent_id=PAYMENT_INTENT_ID,
            payment_intent_status="succeeded",
            charge_id=CHARGE_ID,
            receipt_url=RECEIPT_URL,
        )
        session = self.sessions[session_id]
        self.charges.setdefault(
            CHARGE_ID,
            Charge(CHARGE_ID, session.amount_total, 0, session.currency, PAYMENT_INTENT_ID, RECEIPT_URL),
        )

    def stripe_refund(self, charge_id: str, refund_id: str, amount: int, created: int = 1763785000) -> None:
        charge = self.charges[charge_id]
        stripe_refunds = (*charge.stripe_refunds, StripeRefund(refund_id, amount, "succeeded", created))
        self.charges[charge_id] = replace(
            charge,
            stripe_refunds=stripe_refunds,
            amount_refunded=sum(r.amount for r in stripe_refunds if r.counts),
        )

    def dispute(self, status: str, *, amount: int | None = None, dispute_id: str = DISPUTE_ID) -> None:
        charge = self.charges[CHARGE_ID]
        self.disputes[dispute_id] = Dispute(
            id=dispute_id,
            charge_id=CHARGE_ID,
            payment_intent_id=charge.payment_intent_id,
            amount=charge.amount if amount is None else amount,
            currency=charge.currency,
            status=status,
        )

    # -- the stripe_api functions --------------------------------------------------------
    def _record(self, name: str, arg: str) -> None:
        with self._lock:
            self.calls.append((name, arg))

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        self._record("retrieve_checkout_session", session_id)
        if session_id not in self.sessions:
            raise NotFound(f"Stripe has no checkout session {session_id}")
        return self.sessions[session_id]

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        self._record("expire_checkout_session", session_id)
        session = self.retrieve_checkout_session(session_id)
        if session.status != "open":
            raise stripe_api.StripeApiError("Only an open session can be expired")
        self.update_session(session_id, status="expired")
        return self.sessions[session_id]

    def list_recent_paid_sessions(self, since):
        self._record("list_recent_paid_sessions", since.isoformat())
        return iter([s for s in self.sessions.values() if s.status == "complete" and s.is_paid])

    def find_checkout_session(self, payment_intent_id: str) -> CheckoutSession | None:
        self._record("find_checkout_session", payment_intent_id)
        return next((s for s in self.sessions.values() if s.payment_intent_id == payment_intent_id), None)

    def retrieve_charge(self, charge_id: str) -> Charge:
        self._record("retrieve_charge", charge_id)
        if charge_id not in self.charges:
            raise NotFound(f"Stripe has no charge {charge_id}")
        return self.charges[charge_id]

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        self._record("retrieve_dispute", dispute_id)
        if dispute_id not in self.disputes:
            raise NotFound(f"Stripe has no dispute {dispute_id}")
        return self.disputes[dispute_id]
