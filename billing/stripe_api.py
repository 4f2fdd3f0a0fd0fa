"""Everything we ask of Stripe, and the only module that imports `stripe`.

The rest of the site sees plain dataclasses (`CheckoutSession`, `Charge`, `Dispute`) and
three exceptions, never Stripe objects, so tests mock these functions (our seam) and
the demo checkout can serve the very same functions.

Which backend answers is decided per call:
- with `STRIPE_SECRET_KEY`: Stripe's API through `stripe.StripeClient`, optionally at
  `STRIPE_API_BASE` (a fake host in tests, a proxy in staging);
- without it (`STRIPE_DEMO`): `billing.demo_backend`, which keeps its sessions in our
  database; `billing.demo_checkout` delivers signed events to our own webhook like
  Stripe does.

The request shapes follow the API version stripe-python 16.1 pins (2026-10-28): Checkout
no longer accepts `payment_method_types`, so we leave payment methods to the
Dashboard settings.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from billing import demo_backend

# The rest of the site names these as stripe_api.X: this module is its seam to Stripe.
from billing.payment_types import (
    Backend,
    Charge,
    CheckoutSession,
    Dispute,
    NotFound,
    StripeApiError,
    StripeRefund,
)
from kling_site import outbound

if TYPE_CHECKING:
    from billing.models import Purchase

API_VERSION: str = stripe.api_version


class InvalidWebhook(Exception):
    """The webhook body or its Stripe-Signature header did not verify."""


# -- the public functions ---------------------------------------------------------------


def checkout_session_params(purchase: Purchase, success_url: str, cancel_url: str) -> dict[str, Any]:
    """The Checkout Session we ask for: one line item, and our purchase id in three places.

    `client_reference_id` and `metadata` let fulfilment find the purchase even if we
    crashed before saving the session id; the PaymentIntent's metadata does the same for
    refunds and disputes, and shows the purchase in the Stripe Dashboard.
    """
    reference = {"purchase_id": str(purchase.pk), "user_id": str(purchase.user_id)}
    if purchase.pack and purchase.pack.stripe_price_id:
        line_item: dict[str, Any] = {"price": purchase.pack.stripe_price_id, "quantity": 1}
    else:
        line_item = {
            "price_data": {
                "currency": purchase.currency,
                "unit_amount": purchase.amount_minor,
                # Stripe's page shows it as written: in the buyer's language.
                "product_data": {
                    "name": _("%(credits)s credits (%(pack)s)")
                    % {"credits": f"{purchase.credits:,}", "pack": _(purchase.pack_name)}
                },
            },
            "quantity": 1,
        }
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [line_item],
        "client_reference_id": str(purchase.pk),
        "metadata": {**reference, "credits": str(purchase.credits)},
        "payment_intent_data": {"metadata": reference},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if purchase.stripe_customer_id:
        params["customer"] = purchase.stripe_customer_id
    else:
        # A Customer lets the next purchase reuse saved details and groups receipts.
        params["customer_email"] = purchase.user.email
        params["customer_creation"] = "always"
    return params


def create_checkout_session(purchase: Purchase, success_url: str, cancel_url: str) -> CheckoutSession:
    """Create the hosted checkout for a pending purchase.

    The idempotency key makes a retried request (a timeout, a double submit) return the
    same session instead of a second one that could also be paid.
    """
    params = checkout_session_params(purchase, success_url, cancel_url)
    return _backend().create_checkout_session(params, idempotency_key=f"purchase:{purchase.pk}")


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    """The session as Stripe knows it now, with payment intent, charge and receipt URL."""
    return _backend().retrieve_checkout_session(session_id)


def expire_checkout_session(session_id: str) -> CheckoutSession:
    """Close an open session so it can no longer be paid. Raises StripeApiError if it was."""
    return _backend().expire_checkout_session(session_id)


def list_recent_paid_sessions(since: datetime) -> Iterator[CheckoutSession]:
    """Completed, paid sessions created since `since` (paging through all of them)."""
    return _backend().list_paid_sessions(since)


def find_checkout_session(payment_intent_id: str) -> CheckoutSession | None:
    """The Checkout Session that created a PaymentIntent, if any."""
    return _backend().find_checkout_session(payment_intent_id)


def retrieve_charge(charge_id: str) -> Charge:
    """A charge with all its Stripe refunds."""
    return _backend().retrieve_charge(charge_id)


def retrieve_dispute(dispute_id: str) -> Dispute:
    return _backend().retrieve_dispute(dispute_id)


def construct_event(body: bytes, sig_header: str | None) -> dict[str, Any]:
    """Verify a webhook against STRIPE_WEBHOOK_SECRET and return the event as plain data.

    Verification needs the raw body exactly as received: re-serialised JSON would not
    match the signature. Events older than five minutes (Stripe's default tolerance) are
    refused, which limits replays of a captured request.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set")
    if not sig_header:
        raise InvalidWebhook("No Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(body, sig_header, secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(f"Bad signature: {exc.user_message or exc}") from None
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise InvalidWebhook(f"Unreadable webhook body: {exc}") from None
    data = event.to_dict()
    if not data.get("id") or not data.get("type"):
        raise InvalidWebhook("The event has no id or type")
    return data


def signature_header(payload: str, *, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload`, as Stripe computes it (used by the demo checkout)."""
    return stripe.WebhookSignature.generate_signature_header(
        payload, settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
    )


class NotConfigured(StripeApiError):
    """Production without STRIPE_SECRET_KEY: nothing can be bought."""


def _backend() -> Backend:
    if settings.STRIPE_DEMO:
        return demo_backend.backend
    if not settings.STRIPE_SECRET_KEY:
        raise NotConfigured("Stripe is not configured: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET")
    return _LiveBackend(_client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE))


# -- Stripe's API -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    base = {"api": api_base.rstrip("/")} if api_base else None
    # Web requests wait on Stripe (checkout, success page): at most STRIPE_TIMEOUT seconds
    # per attempt and one retry (connection errors and 409/5xx, same idempotency key), so
    # a Stripe outage holds a gunicorn thread about 2 x STRIPE_TIMEOUT, never the 80 s x 3
    # of the library's defaults.
    return stripe.StripeClient(
        api_key,
        base_addresses=base,
        max_network_retries=1,
        http_client=_CappedRequestsClient(timeout=settings.STRIPE_TIMEOUT),
    )


class _CappedRequestsClient(stripe.RequestsClient):
    """Each HTTP attempt holds an outbound slot (kling_site.outbound), so a Stripe outage
    cannot take every thread of a web process; a refused attempt is not retried."""

    def request(self, method, url, headers, post_data=None):
        try:
            with outbound.slot("Stripe"):
                return super().request(method, url, headers, post_data)
        except outbound.Busy as exc:
            raise stripe.APIConnectionError(
                "Payments are busy right now. Please try again in a minute.", should_retry=False
            ) from exc


def _translate(exc: stripe.StripeError, what: str) -> StripeApiError:
    if isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing":
        return NotFound(f"Stripe has no {what}")
    message = exc.user_message or str(exc) or exc.__class__.__name__
    return StripeApiError(f"Stripe refused or did not answer ({what}): {message}")


def _id(value: Any) -> str:
    """An id from a field that may be expanded (a dict), a bare id, or empty."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _session_from(data: dict[str, Any]) -> CheckoutSession:
    intent = data.get("payment_intent")
    charge: Any = intent.get("latest_charge") if isinstance(intent, dict) else None
    details = data.get("customer_details") or {}
    return CheckoutSession(
        id=data["id"],
        status=data.get("status") or "",
        payment_status=data.get("payment_status") or "",
        amount_total=int(data.get("amount_total") or 0),
        currency=(data.get("currency") or "").lower(),
        url=data.get("url") or "",
        client_reference_id=data.get("client_reference_id") or "",
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        customer_id=_id(data.get("customer")),
        customer_email=details.get("email") or data.get("customer_email") or "",
        payment_intent_id=_id(intent),
        payment_intent_status=(intent.get("status") or "") if isinstance(intent, dict) else "",
        charge_id=_id(charge),
        receipt_url=(charge.get("receipt_url") or "") if isinstance(charge, dict) else "",
        created=int(data.get("created") or 0),
    )


class _LiveBackend:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.sessions = client.v1.checkout.sessions
        self.client = client

    def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> CheckoutSession:
        try:
            session = self.sessions.create(params=params, options={"idempotency_key": idempotency_key})
        except stripe.StripeError as exc:
            raise _translate(exc, "checkout session create") from exc
        return _session_from(session.to_dict())

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        try:
            session = self.sessions.retrieve(session_id, params={"expand": ["payment_intent.latest_charge"]})
        except stripe.StripeError as exc:
            raise _translate(exc, f"checkout session {session_id}") from exc
        return _session_from(session.to_dict())

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        try:
            session = self.sessions.expire(session_id)
        except stripe.StripeError as exc:
            raise _translate(exc, f"checkout session {session_id} expire") from exc
        return _session_from(session.to_dict())

    def list_paid_sessions(self, since: datetime) -> Iterator[CheckoutSession]:
        params = {"created": {"gte": int(since.timestamp())}, "status": "complete", "limit": 100}
        try:
            for session in self.sessions.list(params=params).auto_paging_iter():
                result = _session_from(session.to_dict())
                if result.is_paid:
                    yield result
        except stripe.StripeError as exc:
            raise _translate(exc, "checkout session list") from exc

    def find_checkout_session(self, payment_intent_id: str) -> CheckoutSession | None:
        try:
            page = self.sessions.list(params={"payment_intent": payment_intent_id, "limit": 1})
        except stripe.StripeError as exc:
            raise _translate(exc, f"checkout session for {payment_intent_id}") from exc
        found = page.to_dict().get("data") or []
        return _session_from(found[0]) if found else None

    def retrieve_charge(self, charge_id: str) -> Charge:
        try:
            charge = self.client.v1.charges.retrieve(charge_id).to_dict()
            # Charges stopped embedding their refunds in API 2022-11-15: list them.
            stripe_refunds = [
                r.to_dict()
                for r in self.client.v1.refunds.list(
                    params={"charge": charge_id, "limit": 100}
                ).auto_paging_iter()
            ]
        except stripe.StripeError as exc:
            raise _translate(exc, f"charge {charge_id}") from exc
        return Charge(
            id=charge["id"],
            amount=int(charge.get("amount") or 0),
            amount_refunded=int(charge.get("amount_refunded") or 0),
            currency=(charge.get("currency") or "").lower(),
            payment_intent_id=_id(charge.get("payment_intent")),
            receipt_url=charge.get("receipt_url") or "",
            stripe_refunds=tuple(
                StripeRefund(
                    id=r["id"],
                    amount=int(r.get("amount") or 0),
                    status=r.get("status") or "",
                    created=int(r.get("created") or 0),
                )
                for r in stripe_refunds
            ),
        )

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        try:
            dispute = self.client.v1.disputes.retrieve(dispute_id).to_dict()
        except stripe.StripeError as exc:
            raise _translate(exc, f"dispute {dispute_id}") from exc
        return Dispute(
            id=dispute["id"],
            charge_id=_id(dispute.get("charge")),
            payment_intent_id=_id(dispute.get("payment_intent")),
            amount=int(dispute.get("amount") or 0),
            currency=(dispute.get("currency") or "").lower(),
            status=dispute.get("status") or "",
        )
