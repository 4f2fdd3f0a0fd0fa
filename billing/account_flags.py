"""Pausing spending on an account while one of its payments is disputed.

`CreditAccount.is_frozen` makes `billing.ledger.charge` refuse; everything else (buying,
refunds, clawbacks) keeps working. These functions only flip the flag: credits still
move through `billing.ledger` alone. A freeze a staff member set for another reason is
never lifted here, because only freezes whose reason starts with `DISPUTE_REASON` are ours.
"""

from __future__ import annotations

from billing.models import CreditAccount

DISPUTE_REASON = "A card payment is disputed"


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
