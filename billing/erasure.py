"""What an account's erasure (accounts.erasure) does to its credits and payments.

Kept, exactly: the credit account and every ledger entry (amounts, kinds, idempotency
keys, balances after), and every purchase's amounts, statuses and Stripe ids, which
refunds, disputes and the books still need. Removed: what identifies the person in text
(receipt links, the address in a demo checkout, the customer details Stripe put in stored
event bodies, the address where a staff member typed it into a memo). Credits still move
only through billing.ledger; nothing here changes an amount.

Stripe keeps its own customer record: nothing is asked of Stripe here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.emails import mailbox_digest
from billing import account_flags, payments
from billing.models import (
    CreditAccount,
    DemoCheckoutSession,
    LedgerEntry,
    Purchase,
    PurchaseLog,
    StripeEvent,
    WelcomeGrant,
)

# What a stored event keeps of its object: enough for the handlers (billing.webhooks uses
# the object's id, or its charge) and for staff reading amounts, nothing about the buyer.
EVENT_OBJECT_KEYS = (
    "id",
    "object",
    "charge",
    "payment_intent",
    "status",
    "payment_status",
    "amount",
    "amount_total",
    "amount_refunded",
    "currency",
)


@dataclass
class ForgottenCustomer:
    balance: int = 0
    purchases: int = 0
    events: int = 0
    texts: int = 0


def money_in_transit(user) -> int:
    """Purchases that could still credit the account: an open checkout, a payment that has
    not cleared, one held for review. Erasing now would leave credits nobody can use for
    money the person has paid."""
    return (
        Purchase.objects.filter(user=user)
        .filter(
            Q(
                status=Purchase.Status.PENDING,
                created_at__gte=timezone.now() - timedelta(hours=payments.OPEN_CHECKOUT_HOURS),
            )
            | Q(status=Purchase.Status.PENDING, payment_processing=True)
            | Q(status=Purchase.Status.REVIEW)
        )
        .count()
    )


def forget_customer(
    user, addresses: Iterable[str], *, proven: Iterable[str], replacement: str
) -> ForgottenCustomer:
    """Freeze the account and strip the person out of billing text. Must run inside the
    caller's transaction, before anything is checked that a charge could change (see
    account_flags.freeze_for_erasure). `addresses` are every address the account used;
    each occurrence in free text becomes `replacement`. `proven` are the mailboxes it
    showed it owns (see _remember_welcome_mailboxes)."""
    account_flags.freeze_for_erasure(user)
    done = ForgottenCustomer()
    done.balance = CreditAccount.objects.values_list("balance", flat=True).get(user=user)
    addresses = sorted({a.strip() for a in addresses if a and a.strip()}, key=len, reverse=True)

    _remember_welcome_mailboxes(user, {a for a in proven if a})

    purchases = Purchase.objects.filter(user=user)
    done.purchases = purchases.count()
    sessions = list(purchases.exclude(stripe_session_id=None).values_list("stripe_session_id", flat=True))
    purchases.update(receipt_url="")
    DemoCheckoutSession.objects.filter(pk__in=sessions).update(customer_email="")
    done.events = _redact_events(purchases)

    done.texts += _replace_in(LedgerEntry.objects.filter(account__user=user), "memo", addresses, replacement)
    done.texts += _replace_in(purchases, "error", addresses, replacement)
    done.texts += _replace_in(
        PurchaseLog.objects.filter(purchase__user=user), "message", addresses, replacement
    )
    return done


def _remember_welcome_mailboxes(user, addresses: set[str]) -> None:
    """Welcome credits are once per mailbox (billing.signup). The mailbox that earned them
    is remembered already; the others this account proved it owns are added, so signing up
    again with any of them earns nothing twice (an address added but never confirmed may
    be a stranger's, and is left out). Only digests are kept, and no link to the account,
    so the record cannot say whose mailbox it was."""
    had_welcome = (
        WelcomeGrant.objects.filter(user=user).exists()
        or LedgerEntry.objects.filter(idempotency_key=f"welcome:{user.pk}").exists()
    )
    if had_welcome:
        for address in addresses:
            WelcomeGrant.objects.get_or_create(mailbox=mailbox_digest(address))
    WelcomeGrant.objects.filter(user=user).update(user=None)


def _redact_events(purchases) -> int:
    ids = {
        column: [value for value in purchases.values_list(column, flat=True) if value]
        for column in (
            "stripe_session_id",
            "stripe_payment_intent_id",
            "stripe_charge_id",
            "stripe_dispute_id",
        )
    }
    objects = [value for values in ids.values() for value in values]
    if not objects:
        return 0
    # Stripe refund and dispute events name the charge; charge events name the payment intent.
    events = StripeEvent.objects.filter(
        Q(payload__data__object__id__in=objects)
        | Q(payload__data__object__charge__in=ids["stripe_charge_id"])
        | Q(payload__data__object__payment_intent__in=ids["stripe_payment_intent_id"])
    )
    count = 0
    for event in events.only("pk", "payload"):
        payload = event.payload if isinstance(event.payload, dict) else {}
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        obj = data.get("object") if isinstance(data.get("object"), dict) else {}
        kept = {
            "id": payload.get("id"),
            "type": payload.get("type"),
            "created": payload.get("created"),
            "data": {"object": {key: obj[key] for key in EVENT_OBJECT_KEYS if key in obj}},
        }
        if kept != payload:
            StripeEvent.objects.filter(pk=event.pk).update(payload=kept)
            count += 1
    return count


def _replace_in(queryset, column: str, needles: list[str], replacement: str) -> int:
    """Replace each needle (case-insensitively) in one text column; the number of rows changed."""
    if not needles:
        return 0
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    matches = Q()
    for needle in needles:
        matches |= Q(**{f"{column}__icontains": needle})
    changed = 0
    for pk, text in queryset.filter(matches).values_list("pk", column):
        # A queryset update: LedgerEntry.save() refuses any change, and only this text moves.
        queryset.model.objects.filter(pk=pk).update(**{column: pattern.sub(replacement, text)})
        changed += 1
    return changed
