"""Pausing spending on an account while one of its payments is disputed.

`CreditAccount.is_frozen` makes `billing.ledger.charge` refuse; everything else (buying,
refunds, clawbacks) keeps working. These functions only flip the flag: credits still
move through `billing.ledger` alone. A freeze a staff member set for another reason is
never lifted here, because only freezes whose reason starts with `DISPUTE_REASON` are ours.
"""

from __future__ import annotations

from billing.models import CreditAccount

DISPUTE_REASON = "A card payment is disputed"
ERASED_REASON = "The account was erased"


def freeze_for_dispute(user, dispute_id: str) -> bool:
    """Freeze the account unless it already is. True if this call froze it."""
    account = CreditAccount.objects.for_user(user)
    return (
        CreditAccount.objects.filter(pk=account.pk, is_frozen=False).update(
            is_frozen=True, frozen_reason=f"{DISPUTE_REASON} ({dispute_id})"
        )
        == 1
    )


def release_dispute_freeze(user) -> bool:
    """Lift a freeze this module set. True if the account was unfrozen."""
    account = CreditAccount.objects.for_user(user)
    return (
        CreditAccount.objects.filter(
            pk=account.pk, is_frozen=True, frozen_reason__startswith=DISPUTE_REASON
        ).update(is_frozen=False, frozen_reason="")
        == 1
    )


def freeze_for_erasure(user) -> None:
    """Freeze the account for good, whatever froze it before. The UPDATE takes the account's
    row lock, so a charge racing the erasure either committed first (and its generation is
    seen) or re-checks `is_frozen` after it and is refused. A dispute ending later lifts
    only its own freezes, never this one."""
    account = CreditAccount.objects.for_user(user)
    CreditAccount.objects.filter(pk=account.pk).update(is_frozen=True, frozen_reason=ERASED_REASON)
