"""What billing.stripe_api answers: plain objects and errors, never Stripe's.

In a module of their own so that a backend stripe_api chooses (the demo checkout's)
can build them without importing stripe_api. Import them from `stripe_api`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

PAID_STATUSES = ("paid", "no_payment_required")
# Stripe refunds that move (or are moving) money back to the customer, so their credits
# are clawed back. A Stripe refund that later fails or is cancelled stops counting.
COUNTED_STRIPE_REFUND_STATUSES = ("succeeded", "pending", "requires_action")


class StripeApiError(Exception):
    """Stripe could not be reached, or refused the request. Safe to retry later."""


class NotFound(StripeApiError):
    """Stripe has no such object (or not in this account and mode)."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    amount_total: int
    currency: str
    url: str = ""
    client_reference_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    customer_id: str = ""
    customer_email: str = ""
    payment_intent_id: str = ""
    payment_intent_status: str = ""
    charge_id: str = ""
    receipt_url: str = ""
    created: int = 0

    @property
    def is_paid(self) -> bool:
        return self.payment_status in PAID_STATUSES

    @property
    def purchase_id(self) -> int | None:
        """Our purchase id, from the metadata (or client_reference_id) we set at creation."""
        raw = self.metadata.get("purchase_id") or self.client_reference_id
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class StripeRefund:
    id: str
    amount: int
    status: str
    created: int

    @property
    def counts(self) -> bool:
        return self.status in COUNTED_STRIPE_REFUND_STATUSES


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    payment_intent_id: str = ""
    receipt_url: str = ""
    stripe_refunds: tuple[StripeRefund, ...] = ()


@dataclass(frozen=True)
class Dispute:
    id: str
    charge_id: str
    payment_intent_id: str
    amount: int
    currency: str
    status: str  # warning_needs_response, needs_response, under_review, won, lost, ...


class Backend(Protocol):
    def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> CheckoutSession: ...
    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession: ...
    def expire_checkout_session(self, session_id: str) -> CheckoutSession: ...
    def list_paid_sessions(self, since: datetime) -> Iterator[CheckoutSession]: ...
    def find_checkout_session(self, payment_intent_id: str) -> CheckoutSession | None: ...
    def retrieve_charge(self, charge_id: str) -> Charge: ...
    def retrieve_dispute(self, dispute_id: str) -> Dispute: ...
