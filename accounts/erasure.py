"""Erasing an account: the person's files and personal data go, the money trail stays.

The User row is kept, anonymised and switched off, because ledger entries, purchases and
generations point at it (PROTECT) and must keep doing so for balances, refunds, disputes
and reports to stay exact. What goes:

- files: every uploaded input and every result copy (and its thumbnail), deleted from
  storage after the transaction commits (generations.erasure);
- text: the email address (replaced by `erased-<id>@erased.invalid`), names, prompts and
  request details, allauth's address rows, sessions, the finish-email preference, receipt
  links and buyer details in stored Stripe events (billing.erasure), webhook URLs and the
  events sent to them, the address in admin history;
- sign-in: the password becomes unusable, the account inactive, its powers removed.

Kept: the credit account and every entry with its amount and idempotency key, purchases
with amounts and Stripe ids, generation rows with cost, status and technical settings, and
a SHA-256 digest of each normalised mailbox that had welcome credits, so signing up again
works but earns them once only. Any balance left is forfeited: it stays on the frozen
account, so the ledger still sums exactly.

Unfinished generations, and money still on its way (an open checkout, a payment not yet
cleared, a purchase in review), block erasure rather than being cancelled: failing a job
Kling may still bill, or erasing before a payment lands, would leave the books wrong or the
person charged for nothing. Stripe's own customer record is not touched; staff delete it
in Stripe's dashboard if asked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from importlib import import_module

from allauth.account.models import EmailAddress
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing import erasure as billing_erasure
from generations import erasure as generations_erasure
from outbound_webhooks import subscriptions as webhook_subscriptions

logger = logging.getLogger(__name__)

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never be a real mailbox


class ErasureRefused(Exception):
    """Erasure cannot happen now; the message says why and what to do."""


@dataclass
class ErasureReport:
    user_id: int
    already_erased: bool = False
    forfeited_credits: int = 0
    generations: int = 0
    assets: int = 0
    files: list[str] = field(default_factory=list)
    addresses: int = 0
    sessions: int = 0
    purchases: int = 0
    stripe_events: int = 0


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@{ERASED_DOMAIN}"


STAFF_REFUSAL = "Staff accounts are erased by another administrator, in admin."


def obstacles(user: User, *, actor: User | None = None) -> list[str]:
    """Why the account cannot be erased now, in words for its owner; empty when it can.

    `actor` is the staff member erasing it from admin; None is the person themselves,
    which a staff account may not do, so nobody takes away their own access by accident.
    """
    if actor is None and (user.is_staff or user.is_superuser):
        return [STAFF_REFUSAL]
    reasons = []
    working = generations_erasure.still_working(user)
    if working:
        reasons.append(
            f"{working} of your generations {'is' if working == 1 else 'are'} still running or saving "
            f"{'its' if working == 1 else 'their'} results. They finish (or fail and are refunded) on "
            f"their own within {settings.GENERATION_DEADLINE_MINUTES} minutes; try again then."
        )
    paying = billing_erasure.money_in_transit(user)
    if paying:
        reasons.append(
            f"{paying} of your purchases {'is' if paying == 1 else 'are'} not settled yet (a checkout "
            "still open, a payment still clearing, or one we are reviewing). Finish or cancel the "
            "checkout, or wait a day for it to expire, then try again."
        )
    return reasons


def erase_account(user: User, *, actor: User | None = None) -> ErasureReport:
    """Erase `user`'s personal data and files; keep the ledger and purchases exact.

    `actor` is the staff member doing it from admin, None the person themselves. Raises
    ErasureRefused while there are `obstacles`. Idempotent: erasing an erased account
    changes nothing.
    """
    with transaction.atomic():
        # Serialises two erasures of one account; SQLite's IMMEDIATE transaction does the same.
        # NO KEY: a charge committing meanwhile key-share-locks this row for its foreign key
        # after locking the credit account we freeze next; FOR UPDATE would deadlock with it
        # (tests/billing/test_lock_order.py).
        user = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        if user.erased_at is not None:
            return ErasureReport(user_id=user.pk, already_erased=True)

        rows = EmailAddress.objects.filter(user=user)
        addresses = {user.email, *rows.values_list("email", flat=True)} - {""}
        proven = {user.email, *rows.filter(verified=True).values_list("email", flat=True)} - {""}
        replacement = erased_email(user.pk)
        # First, so that no charge can slip in between the checks below and the commit.
        billing = billing_erasure.forget_customer(user, addresses, proven=proven, replacement=replacement)
        reasons = obstacles(user, actor=actor)
        if reasons:
            raise ErasureRefused(" ".join(reasons))

        generations = generations_erasure.forget_owner(user)
        webhook_subscriptions.forget_owner(user)  # URLs and event bodies (prompts)
        EmailAddress.objects.filter(user=user).delete()  # their confirmations go with them
        _delete_social_accounts(user)
        _redact_admin_history(addresses, replacement)
        sessions = _end_sessions(user)

        user.email = replacement
        user.first_name = user.last_name = user.display_name = ""
        user.notify_on_finish = False
        user.is_active = user.is_staff = user.is_superuser = False
        user.last_login = None
        user.set_unusable_password()
        user.erased_at = timezone.now()
        user.save()
        user.groups.clear()
        user.user_permissions.clear()

    logger.info(
        "account %s erased by %s: %s generation(s), %s file(s), %s credit(s) forfeited",
        user.pk,
        f"staff {actor.pk}" if actor else "its owner",
        generations.generations,
        len(generations.files),
        billing.balance,
    )
    return ErasureReport(
        user_id=user.pk,
        forfeited_credits=billing.balance,
        generations=generations.generations,
        assets=generations.assets,
        files=generations.files,
        addresses=len(addresses),
        sessions=sessions,
        purchases=billing.purchases,
        stripe_events=billing.events,
    )


def _delete_social_accounts(user: User) -> None:
    # Not installed today; if a provider login is added, its accounts and tokens go too.
    if apps.is_installed("allauth.socialaccount"):
        from allauth.socialaccount.models import SocialAccount

        SocialAccount.objects.filter(user=user).delete()


def _redact_admin_history(addresses: set[str], replacement: str) -> None:
    """Admin history names objects by their str(), which is the address for a user, its
    credit account and its address rows."""
    if not addresses:
        return
    longest_first = sorted(addresses, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(a) for a in longest_first), re.IGNORECASE)
    matches = Q()
    for address in addresses:
        matches |= Q(object_repr__icontains=address)
    for pk, text in LogEntry.objects.filter(matches).values_list("pk", "object_repr"):
        LogEntry.objects.filter(pk=pk).update(object_repr=pattern.sub(replacement, text))


def _end_sessions(user: User) -> int:
    """Delete the person's sessions where the engine can list them (database-backed).

    Other engines cannot be searched by user; there the unusable password and the inactive
    flag end every session at its next request anyway (Django checks both).
    """
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    try:
        model = store_class.get_model_class()
    except AttributeError:
        return 0
    ended = 0
    wanted = str(user.pk)
    for key, data in (
        model.objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
        .iterator()
    ):
        if str(store_class().decode(data).get("_auth_user_id")) == wanted:
            store_class(session_key=key).delete()
            ended += 1
    return ended
