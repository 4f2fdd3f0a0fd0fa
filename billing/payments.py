"""Buying credits with Stripe Checkout: start, fulfil exactly once, clawbacks, disputes, reconcile.

Stripe is the source of truth for money. Every function here that acts on a payment
first asks Stripe (through `billing.stripe_api`) for the object's current state and
acts on that, never on a webhook body: an event is only a hint that something changed.
That makes replayed, reordered and concurrent events harmless, together with two guards:

- a purchase moves to "paid" by a conditional UPDATE that succeeds once, in the same
  transaction as its ledger entry;
- every ledger entry has an idempotency key (`checkout:<session>`, `refund:<Stripe refund>`,
  `dispute:<dispute>:open`, `dispute:<dispute>:won`), so even a second writer that got
  past the first guard posts nothing.

Policy decisions:
- Stripe refunds claw back credits in proportion to the money refunded, even when that takes
  the balance below zero: the money went back, so the credits go too. A negative balance
  blocks new generations until the person buys more.
- An opened dispute claws back the disputed share and freezes spending. Won: the credits
  come back and the freeze is lifted. Lost: the credits stay clawed back and the freeze
  is lifted too, since we are made whole; the purchase stays "disputed" for staff to see,
  and a staff member can freeze the account by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing import account_flags, ledger, stripe_api
from billing.models import CreditPack, LedgerEntry, Purchase, PurchaseLog
from billing.stripe_api import CheckoutSession, StripeApiError
from kling_site import stored_text

logger = logging.getLogger(__name__)

# A purchase in one of these states may still turn out paid: Stripe's word wins.
CREDITABLE = (Purchase.Status.PENDING, Purchase.Status.FAILED, Purchase.Status.EXPIRED)
# States a purchase reaches only after it was credited.
SETTLED = (
    Purchase.Status.PAID,
    Purchase.Status.PARTIALLY_REFUNDED,
    Purchase.Status.REFUNDED,
    Purchase.Status.DISPUTED,
)

DISPUTE_OPEN = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")
# An inquiry closed without a chargeback, or a dispute prevented, costs us nothing: like won.
DISPUTE_WON = ("won", "warning_closed", "prevented")
DISPUTE_LOST = ("lost",)
DISPUTE_CLOSED = DISPUTE_WON + DISPUTE_LOST

RECONCILE_DAYS = 3
# A purchase's line in the credit history, kept in English and translated when read
# (kling_site.stored_text); only a default pack's name, which the catalogue knows, counts.
PURCHASE_MEMO = stored_text.template(gettext_noop("%(pack)s pack, %(amount)s"), known=("pack",))


class PaymentError(Exception):
    """A payment request we refuse or cannot map to our records."""


class PackUnavailable(PaymentError):
    pass


class CheckoutUnavailable(PaymentError):
    pass


class TooManyCheckouts(PaymentError):
    pass


class UnknownCheckoutSession(PaymentError):
    """A session that names one of our purchases, but none matches: staff should look."""


class NotOurs(PaymentError):
    """A payment of another integration on the same Stripe account: nothing to do here."""


@dataclass(frozen=True)
class Fulfilment:
    purchase_id: int
    outcome: str  # credited, already_credited, awaiting_payment, not_paid, review, rejected

    @property
    def credited(self) -> bool:
        return self.outcome == "credited"


def record(purchase: Purchase, source: str, message: str, actor=None) -> None:
    """Append a line to the purchase's audit trail."""
    PurchaseLog.objects.create(purchase=purchase, source=source, message=message[:500], actor=actor)


# -- starting a checkout -------------------------------------------------------------------


def start_checkout(user, pack_id: object, *, site_root: str) -> tuple[Purchase, str]:
    """Create a pending purchase and its Checkout Session; return the URL to send the buyer to.

    `site_root` is the scheme and host the buyer is using (e.g. "https://example.com");
    Stripe sends them back there.
    """
    try:
        pack = CreditPack.objects.get(pk=int(str(pack_id)), active=True)
    except (ValueError, CreditPack.DoesNotExist):
        raise PackUnavailable(
            _("That credit pack is not available. Please choose one of the packs below.")
        ) from None
    _check_open_checkouts(user)
    previous_customer = (
        Purchase.objects.filter(user=user)
        .exclude(stripe_customer_id="")
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    purchase = Purchase.objects.create(
        user=user,
        pack=pack,
        pack_name=pack.name,
        credits=pack.credits,
        amount_minor=pack.price_minor,
        currency=pack.currency.lower(),
        stripe_customer_id=previous_customer or "",
    )
    success_url = site_root + reverse("billing:buy_success") + "?session_id={CHECKOUT_SESSION_ID}"
    cancel_url = site_root + reverse("billing:buy_cancel") + f"?purchase={purchase.pk}"
    try:
        session = stripe_api.create_checkout_session(purchase, success_url, cancel_url)
    except StripeApiError as exc:
        logger.warning("Checkout for purchase %s could not start: %s", purchase.pk, exc)
        Purchase.objects.filter(pk=purchase.pk, status=Purchase.Status.PENDING).update(
            status=Purchase.Status.FAILED, error=gettext_noop("The checkout could not start.")
        )
        record(purchase, "checkout", f"Checkout could not start: {exc}")
        raise CheckoutUnavailable(
            _("Payments are not available right now. Nothing was charged; please try again in a minute.")
        ) from exc
    Purchase.objects.filter(pk=purchase.pk).update(stripe_session_id=session.id)
    purchase.stripe_session_id = session.id
    record(purchase, "checkout", f"Checkout Session {session.id} created")
    return purchase, session.url


# A Checkout Session stays payable for 24 hours; older pending ones no longer count.
OPEN_CHECKOUT_HOURS = 24


def _check_open_checkouts(user) -> None:
    """At most MAX_PENDING_CHECKOUTS open at once, so nobody can fill Stripe's API quota
    (which fulfilment needs) by starting checkouts in a loop."""
    cap = settings.MAX_PENDING_CHECKOUTS
    if cap <= 0:
        return
    open_ones = Purchase.objects.filter(
        user=user,
        status=Purchase.Status.PENDING,
        payment_processing=False,
        created_at__gte=timezone.now() - timedelta(hours=OPEN_CHECKOUT_HOURS),
    ).count()
    if open_ones >= cap:
        raise TooManyCheckouts(
            _(
                "You have %(count)d checkouts open. Finish or cancel one of them "
                "(see your purchases), or wait a day for them to expire, then try again."
            )
            % {"count": open_ones}
        )


def cancel_checkout(purchase: Purchase) -> Purchase:
    """The buyer came back without paying: close the session so it cannot be paid later.

    If Stripe refuses (the session completed in another tab, or Stripe is unreachable)
    the purchase stays pending and the webhook or the reconciler settles it.
    """
    if purchase.status != Purchase.Status.PENDING or not purchase.stripe_session_id:
        return purchase
    try:
        session = stripe_api.expire_checkout_session(purchase.stripe_session_id)
    except StripeApiError as exc:
        logger.info("Purchase %s: session not expired on cancel: %s", purchase.pk, exc)
        return purchase
    if session.status == "expired" and _mark(
        purchase, Purchase.Status.EXPIRED, error=gettext_noop("Checkout cancelled.")
    ):
        record(purchase, "checkout", "Checkout cancelled by the buyer; session expired")
    purchase.refresh_from_db()
    return purchase


# -- fulfilment ----------------------------------------------------------------------------


def fulfill_checkout(session_id: str, *, source: str = "webhook", actor=None) -> Fulfilment:
    """Credit a paid Checkout Session exactly once. Safe to call any number of times, concurrently.

    Called by the webhook task, the success page, the reconciler and the admin. It
    re-retrieves the session from Stripe rather than trusting whoever called it.
    """
    session = stripe_api.retrieve_checkout_session(session_id)
    purchase = _purchase_for_session(session, source)
    if not session.is_paid:
        if session.status == "complete" and purchase.status == Purchase.Status.PENDING:
            # Checkout finished with a delayed payment method: money arrives later.
            if Purchase.objects.filter(
                pk=purchase.pk, status=Purchase.Status.PENDING, payment_processing=False
            ).update(payment_processing=True, **_details(session)):
                record(purchase, source, "Checkout completed; waiting for the payment to clear", actor)
            return Fulfilment(purchase.pk, "awaiting_payment")
        return Fulfilment(purchase.pk, "not_paid")

    problem = review_reason(session, purchase)
    if problem and purchase.status not in SETTLED:
        held = Purchase.objects.filter(pk=purchase.pk, status__in=CREDITABLE).update(
            status=Purchase.Status.REVIEW, payment_processing=False, error=problem[:255], **_details(session)
        )
        if held:
            logger.warning("Purchase %s held for review: %s", purchase.pk, problem)
            record(purchase, source, f"Held for review, nothing credited: {problem}", actor)
        return Fulfilment(
            purchase.pk, "rejected" if purchase.status == Purchase.Status.REJECTED else "review"
        )
    claimed = _credit(purchase, session, CREDITABLE, source=source, actor=actor)
    if not claimed:
        _fill_missing_details(purchase, session)
        return Fulfilment(purchase.pk, "already_credited")
    return Fulfilment(purchase.pk, "credited")


def review_reason(session: CheckoutSession, purchase: Purchase) -> str:
    """Why a complete session must not be credited automatically ("" when it may be)."""
    if session.payment_status == "no_payment_required":
        return "Stripe took no payment for this checkout (a 100% discount or a zero price)"
    if session.amount_total != purchase.amount_minor or session.currency != purchase.currency:
        return (
            f"Stripe charged {session.amount_total} {session.currency}, "
            f"the pack costs {purchase.amount_minor} {purchase.currency}"
        )
    return ""


def _credit(purchase: Purchase, session: CheckoutSession, from_statuses, *, source: str, actor=None) -> bool:
    """Move the purchase to paid and credit its pack, once; False if another caller did."""
    with transaction.atomic():
        # The claim: only one caller moves the purchase to paid, and its ledger entry
        # commits with it or not at all. On PostgreSQL a concurrent claim waits for this
        # row lock and then finds the status changed; on SQLite the IMMEDIATE transaction
        # serialises the writers.
        claimed = Purchase.objects.filter(pk=purchase.pk, status__in=from_statuses).update(
            status=Purchase.Status.PAID,
            paid_at=timezone.now(),
            payment_processing=False,
            error="",
            **_details(session),
        )
        if claimed:
            ledger.credit_purchase(
                purchase.user,
                purchase.credits,
                key=f"checkout:{session.id}",
                purchase=purchase,
                memo=PURCHASE_MEMO % {"pack": purchase.pack_name, "amount": purchase.amount_display},
            )
            record(
                purchase, source, f"Paid {purchase.amount_display}; {purchase.credits} credits added", actor
            )
    return bool(claimed)


def approve_review(purchase: Purchase, actor) -> Fulfilment:
    """Staff accept a purchase held for review: credit its pack (once), then claw back
    for any Stripe refund already shown, which was ignored while nothing was credited."""
    session = stripe_api.retrieve_checkout_session(purchase.stripe_session_id)
    if not session.is_paid:
        raise PaymentError("Stripe does not show this checkout as complete")
    if not _credit(purchase, session, (Purchase.Status.REVIEW,), source="admin", actor=actor):
        return Fulfilment(purchase.pk, "already_credited")
    record(purchase, "admin", "Approved after review", actor)
    purchase.refresh_from_db()
    if purchase.stripe_charge_id:
        sync_clawbacks(purchase.stripe_charge_id, source="admin")
    return Fulfilment(purchase.pk, "credited")


def reject_review(purchase: Purchase, actor, reason: str = "") -> Fulfilment:
    """Staff refuse a purchase held for review: nothing is ever credited for it (refund
    the payment in Stripe if there was one: money only, there are no credits to claw back)."""
    error = reason.strip() or gettext_noop("This purchase was not accepted. Please contact us.")
    if not Purchase.objects.filter(pk=purchase.pk, status=Purchase.Status.REVIEW).update(
        status=Purchase.Status.REJECTED, error=error[:255]
    ):
        return Fulfilment(purchase.pk, "not_paid")
    record(purchase, "admin", f"Rejected after review: {error}", actor)
    return Fulfilment(purchase.pk, "rejected")


def fail_checkout(session_id: str, *, source: str = "webhook") -> Fulfilment:
    """A delayed payment failed: the purchase fails, nothing is credited."""
    session = stripe_api.retrieve_checkout_session(session_id)
    if session.is_paid:
        return fulfill_checkout(session_id, source=source)
    purchase = _purchase_for_session(session, source)
    if session.payment_intent_status in ("processing", "succeeded"):
        return Fulfilment(purchase.pk, "awaiting_payment")
    if _mark(
        purchase, Purchase.Status.FAILED, error=gettext_noop("The payment failed. No credits were added.")
    ):
        record(purchase, source, "The delayed payment failed; nothing credited")
    return Fulfilment(purchase.pk, "not_paid")


def expire_checkout(session_id: str, *, source: str = "webhook") -> Fulfilment:
    """The session expired unpaid (after 24 hours, or because we closed it)."""
    session = stripe_api.retrieve_checkout_session(session_id)
    if session.is_paid:
        return fulfill_checkout(session_id, source=source)
    purchase = _purchase_for_session(session, source)
    if session.status == "expired" and _mark(
        purchase, Purchase.Status.EXPIRED, error=gettext_noop("The checkout expired unpaid.")
    ):
        record(purchase, source, "Checkout expired unpaid")
    return Fulfilment(purchase.pk, "not_paid")


def _mark(purchase: Purchase, status: str, *, error: str) -> bool:
    """Move a pending purchase to an unpaid end state; False if it was no longer pending."""
    return (
        Purchase.objects.filter(pk=purchase.pk, status=Purchase.Status.PENDING).update(
            status=status, payment_processing=False, error=error
        )
        == 1
    )


def _details(session: CheckoutSession) -> dict[str, str]:
    found = {
        "stripe_payment_intent_id": session.payment_intent_id,
        "stripe_charge_id": session.charge_id,
        "stripe_customer_id": session.customer_id,
        "receipt_url": session.receipt_url,
    }
    return {name: value for name, value in found.items() if value}


def _fill_missing_details(purchase: Purchase, session: CheckoutSession) -> None:
    purchase.refresh_from_db()
    missing = {name: value for name, value in _details(session).items() if not getattr(purchase, name)}
    if missing:
        Purchase.objects.filter(pk=purchase.pk).update(**missing)


def _purchase_for_session(session: CheckoutSession, source: str) -> Purchase:
    purchase = Purchase.objects.select_related("user").filter(stripe_session_id=session.id).first()
    if purchase is not None:
        return purchase
    # We may have crashed between creating the session and saving its id. The metadata is
    # ours (Stripe returns what we sent with our key), but adopt the session only onto a
    # purchase that has none yet and matches it in buyer and amount.
    purchase_id = session.purchase_id if session.metadata.get("purchase_id") else None
    if purchase_id is not None:
        adopted = Purchase.objects.filter(
            pk=purchase_id,
            stripe_session_id__isnull=True,
            user_id=session.metadata.get("user_id"),
            amount_minor=session.amount_total,
        ).update(stripe_session_id=session.id)
        if adopted:
            purchase = Purchase.objects.select_related("user").get(pk=purchase_id)
            record(purchase, source, f"Checkout Session {session.id} linked from its metadata")
            return purchase
    if purchase_id is None:
        raise NotOurs(f"Checkout Session {session.id} was not created by this site (no purchase_id metadata)")
    raise UnknownCheckoutSession(
        f"No purchase matches Checkout Session {session.id} "
        f"(client_reference_id={session.client_reference_id or '-'}, "
        f"purchase_id={session.metadata.get('purchase_id', '-')})"
    )


def _purchase_for_charge(charge: stripe_api.Charge, source: str) -> Purchase:
    """The purchase a charge paid for; fulfils it first if the charge got here before we did."""
    found = Purchase.objects.select_related("user").filter(stripe_charge_id=charge.id).first()
    if found is None and charge.payment_intent_id:
        found = (
            Purchase.objects.select_related("user")
            .filter(stripe_payment_intent_id=charge.payment_intent_id)
            .first()
        )
    if found is None and charge.payment_intent_id:
        session = stripe_api.find_checkout_session(charge.payment_intent_id)
        if session is not None:
            result = fulfill_checkout(session.id, source=source)
            found = Purchase.objects.select_related("user").get(pk=result.purchase_id)
    if found is None:
        raise NotOurs(
            f"No purchase matches charge {charge.id} (payment intent {charge.payment_intent_id or '-'}) "
            "and no Checkout Session of this site created it"
        )
    if found.status in CREDITABLE and found.stripe_session_id:
        # Known by its payment intent but not credited yet: settle that first.
        fulfill_checkout(found.stripe_session_id, source=source)
        found.refresh_from_db()
    return found


# -- clawbacks for Stripe refunds ----------------------------------------------------------
# A Stripe refund sends money back to the buyer, so we take the credits back (a clawback).
# Our own `ledger.refund` is the other direction: credits back for a failed generation.
# The ledger keys keep their stored form, `refund:<Stripe refund id>` (data, not a name).


def clawbacks_by_stripe_refund(credits: int, charge: stripe_api.Charge) -> list[tuple[str, int]]:
    """Credits to take back per Stripe refund id, in proportion to the money refunded.

    Computed on the running total in Stripe refund order, so the parts always add up to
    the whole: two half refunds of a 1,200-credit pack take exactly 1,200 credits, and
    rounding (down, in the buyer's favour) never loses or invents a credit. The result
    depends only on the charge's Stripe refunds, so replays compute the same amounts.
    """
    if charge.amount <= 0:
        return []
    result = []
    money_back = 0
    counted = (r for r in charge.stripe_refunds if r.counts)
    for stripe_refund in sorted(counted, key=lambda r: (r.created, r.id)):
        before = credits * min(money_back, charge.amount) // charge.amount
        money_back += stripe_refund.amount
        after = credits * min(money_back, charge.amount) // charge.amount
        result.append((stripe_refund.id, after - before))
    return result


def sync_clawbacks(charge_id: str, *, source: str = "webhook") -> Purchase:
    """Claw back credits for every Stripe refund on a charge that we have not clawed back
    yet, and give back the credits of a Stripe refund that failed or was cancelled after
    we took them (key `refund:<id>:reversed`, once)."""
    charge = stripe_api.retrieve_charge(charge_id)
    purchase = _purchase_for_charge(charge, source)
    with transaction.atomic():
        # One clawback or dispute change per purchase at a time; the ledger keys make the
        # entries idempotent, the lock keeps the status consistent with them. Only this
        # row, and NO KEY: a charge committing meanwhile checks its foreign key to the
        # user with a key-share lock, and a stronger lock here deadlocks with it
        # (tests/billing/test_lock_order.py).
        locked = (
            Purchase.objects.select_for_update(of=("self",), no_key=True)
            .select_related("user")
            .get(pk=purchase.pk)
        )
        if locked.paid_at is None:
            record(locked, source, f"Stripe refund on {charge.id} ignored: this purchase was never credited")
            return locked
        for stripe_refund_id, credits in clawbacks_by_stripe_refund(locked.credits, charge):
            key = f"refund:{stripe_refund_id}"
            if credits <= 0 or LedgerEntry.objects.filter(idempotency_key=key).exists():
                continue
            ledger.clawback(
                locked.user,
                credits,
                key=key,
                purchase=locked,
                memo=f"Clawback for Stripe refund {stripe_refund_id} of {locked.pack_name}",
            )
            record(
                locked, source, f"Clawback for Stripe refund {stripe_refund_id}: {credits} credits taken back"
            )
        for stripe_refund in charge.stripe_refunds:
            if not stripe_refund.counts:
                _reverse_clawback(locked, stripe_refund.id, stripe_refund.status, source)
        locked.amount_refunded_minor = min(charge.amount_refunded, locked.amount_minor)
        if locked.status != Purchase.Status.DISPUTED:
            locked.status = _settled_status(charge.amount_refunded, charge.amount)
        locked.save(update_fields=["amount_refunded_minor", "status", "updated_at"])
    return locked


def _reverse_clawback(purchase: Purchase, stripe_refund_id: str, status: str, source: str) -> None:
    taken = (
        LedgerEntry.objects.filter(idempotency_key=f"refund:{stripe_refund_id}")
        .values_list("amount", flat=True)
        .first()
    )
    key = f"refund:{stripe_refund_id}:reversed"
    if not taken or _posted(key):
        return
    ledger.credit_purchase(
        purchase.user,
        -taken,
        key=key,
        purchase=purchase,
        memo=f"Stripe refund {stripe_refund_id} {status}: clawback given back",
    )
    record(
        purchase,
        source,
        f"Stripe refund {stripe_refund_id} {status}: {-taken} clawed-back credits given back",
    )


def _settled_status(money_refunded: int, amount: int) -> str:
    if money_refunded <= 0:
        return Purchase.Status.PAID
    return Purchase.Status.REFUNDED if money_refunded >= amount else Purchase.Status.PARTIALLY_REFUNDED


# -- disputes ------------------------------------------------------------------------------


def sync_dispute(dispute_id: str, *, source: str = "webhook") -> Purchase:
    """Bring a purchase in line with its dispute: open -> claw back and freeze; won -> give back."""
    dispute = stripe_api.retrieve_dispute(dispute_id)
    charge = stripe_api.retrieve_charge(dispute.charge_id)
    purchase = _purchase_for_charge(charge, source)
    with transaction.atomic():
        locked = (
            Purchase.objects.select_for_update(of=("self",), no_key=True)
            .select_related("user")
            .get(pk=purchase.pk)
        )
        known = locked.dispute_status if locked.stripe_dispute_id == dispute.id else ""
        if known in DISPUTE_CLOSED and dispute.status not in DISPUTE_CLOSED:
            # A stale read racing the closing event: a closed dispute never reopens.
            return locked
        if locked.paid_at is None:
            record(locked, source, f"Dispute {dispute.id} ignored: this purchase was never credited")
            return locked
        if dispute.status not in DISPUTE_OPEN + DISPUTE_CLOSED:
            record(locked, source, f"Dispute {dispute.id} has status {dispute.status!r}; nothing done")
            return locked
        credits = _disputed_credits(locked.credits, dispute.amount, charge.amount)
        user = locked.user
        if credits and not _posted(f"dispute:{dispute.id}:open"):
            # Also on a closing event that arrives first: the open step always precedes.
            ledger.clawback(
                user, credits, key=f"dispute:{dispute.id}:open", purchase=locked, memo=f"Dispute {dispute.id}"
            )
            record(locked, source, f"Dispute {dispute.id} opened: {credits} credits taken back")
        if dispute.status in DISPUTE_OPEN:
            locked.status = Purchase.Status.DISPUTED
            if account_flags.freeze_for_dispute(user, dispute.id):
                record(locked, source, "Spending paused on the account while the dispute is open")
        elif dispute.status in DISPUTE_WON:
            if credits and not _posted(f"dispute:{dispute.id}:won"):
                ledger.credit_purchase(
                    user,
                    credits,
                    key=f"dispute:{dispute.id}:won",
                    purchase=locked,
                    memo=f"Dispute {dispute.id} won",
                )
                record(locked, source, f"Dispute {dispute.id} won: {credits} credits given back")
            locked.status = _settled_status(locked.amount_refunded_minor, locked.amount_minor)
        else:
            locked.status = Purchase.Status.DISPUTED
            record(locked, source, f"Dispute {dispute.id} lost: the credits stay taken back")
        locked.stripe_dispute_id = dispute.id
        locked.dispute_status = dispute.status
        locked.save(update_fields=["status", "stripe_dispute_id", "dispute_status", "updated_at"])
        if (
            dispute.status in DISPUTE_CLOSED
            and not _has_open_dispute(user)
            and account_flags.release_dispute_freeze(user)
        ):
            record(locked, source, "Spending resumed: no dispute is open any more")
    return locked


def _disputed_credits(credits: int, disputed: int, charged: int) -> int:
    if charged <= 0:
        return credits
    return min(credits, credits * disputed // charged)


def _posted(key: str) -> bool:
    return LedgerEntry.objects.filter(idempotency_key=key).exists()


def _has_open_dispute(user) -> bool:
    return Purchase.objects.filter(user=user, dispute_status__in=DISPUTE_OPEN).exists()


# -- reconciliation ------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    checked: int = 0
    credited: int = 0
    already: int = 0
    foreign: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "checked": self.checked,
            "credited": self.credited,
            "already": self.already,
            "foreign": self.foreign,
            "held": self.held,
            "errors": list(self.errors),
        }


def reconcile(days: int = RECONCILE_DAYS) -> ReconcileReport:
    """Fulfil every paid Checkout Session of the last `days` days that we have not credited.

    The safety net for webhooks that never arrived (endpoint down for longer than Stripe
    retries, a misconfigured secret). Events stuck in our own queue have their own
    schedule (webhooks.requeue_stuck_events). A Stripe error, even in the middle of the
    listing, ends this run with what it did so far and is reported, not raised.
    """
    report = ReconcileReport()
    since = timezone.now() - timedelta(days=days)
    try:
        for session in stripe_api.list_recent_paid_sessions(since):
            _reconcile_session(session, report)
    except StripeApiError as exc:
        logger.warning("reconcile: listing paid Checkout Sessions failed: %s", exc)
        report.errors.append(f"Listing paid Checkout Sessions failed: {exc}")
    return report


def _reconcile_session(session: CheckoutSession, report: ReconcileReport) -> None:
    report.checked += 1
    ours = Purchase.objects.filter(stripe_session_id=session.id)
    if not ours.exists() and not session.metadata.get("purchase_id"):
        report.foreign += 1  # another integration on the same Stripe account
        return
    if ours.filter(paid_at__isnull=False).exists():
        report.already += 1
        return
    try:
        result = fulfill_checkout(session.id, source="reconciler")
    except (PaymentError, StripeApiError) as exc:
        logger.warning("reconcile: %s", exc)
        report.errors.append(str(exc))
        return
    if result.credited:
        report.credited += 1
        logger.warning("reconcile: credited missed Checkout Session %s", session.id)
    elif result.outcome in ("review", "rejected"):
        report.held += 1
    else:
        report.already += 1
