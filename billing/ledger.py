"""The only code that writes credits.

Every function posts one `LedgerEntry` and moves `CreditAccount.balance` by the same
amount in one transaction. The balance is moved by a conditional UPDATE
(`balance = balance + n WHERE balance >= needed`), never read-modify-write, so two
workers can never spend the same credit: on PostgreSQL the second UPDATE waits for the
first and re-checks its WHERE; on SQLite the IMMEDIATE transaction takes the write lock
up front.

Every function is idempotent by `key`: posting the same key again returns the entry that
already exists and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from billing.models import CreditAccount, LedgerEntry

logger = logging.getLogger(__name__)
Kind = LedgerEntry.Kind


class LedgerError(Exception):
    """Base class for refusals by the ledger."""


class InsufficientCredits(LedgerError):
    def __init__(self, needed: int, balance: int) -> None:
        self.needed = needed
        self.balance = balance
        super().__init__(f"This needs {needed} credits and the balance is {balance}.")


class AccountFrozen(LedgerError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__("Spending is paused on this account" + (f": {reason}" if reason else "."))


class IdempotencyConflict(LedgerError):
    """The key was already used for a different movement: a programming error, never retried."""


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Credit amounts are whole numbers, got {amount!r}")
    if amount == 0:
        raise ValueError("A credit amount cannot be zero")
    return amount


def _existing(key: str, account: CreditAccount, amount: int) -> LedgerEntry | None:
    entry = LedgerEntry.objects.filter(idempotency_key=key).first()
    if entry is not None and (entry.account_id != account.pk or entry.amount != amount):
        raise IdempotencyConflict(
            f"Key {key!r} already posted {entry.amount:+d} to account {entry.account_id}, "
            f"not {amount:+d} to account {account.pk}"
        )
    return entry


def _post(
    user,
    amount: int,
    kind: str,
    key: str,
    *,
    may_go_negative: bool = False,
    is_spend: bool = False,
    **fields,
) -> LedgerEntry:
    amount = _check_amount(amount)
    if not key:
        raise ValueError("An idempotency key is required")
    account = CreditAccount.objects.for_user(user)
    existing = _existing(key, account, amount)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            rows = CreditAccount.objects.filter(pk=account.pk)
            if amount < 0 and not may_go_negative:
                rows = rows.filter(balance__gte=-amount)
            if is_spend:
                rows = rows.filter(is_frozen=False)
            if rows.update(balance=F("balance") + amount) != 1:
                account.refresh_from_db(fields=["balance", "is_frozen", "frozen_reason"])
                if is_spend and account.is_frozen:
                    raise AccountFrozen(account.frozen_reason)
                raise InsufficientCredits(-amount, account.balance)
            balance = CreditAccount.objects.values_list("balance", flat=True).get(pk=account.pk)
            return LedgerEntry.objects.create(
                account=account,
                amount=amount,
                balance_after=balance,
                kind=kind,
                idempotency_key=key,
                **fields,
            )
    except IntegrityError:
        # Another worker posted the same key between our check and our insert; the
        # atomic block rolled our balance change back, so theirs is the only one.
        existing = _existing(key, account, amount)
        if existing is None:
            raise
        return existing


def grant(user, amount: int, *, key: str, memo: str = "", created_by=None) -> LedgerEntry:
    """Give free credits (welcome credits, goodwill, a staff grant)."""
    if amount < 0:
        raise ValueError("A grant adds credits; use adjust() to take them")
    return _post(user, amount, Kind.GRANT, key, memo=memo, created_by=created_by)


def credit_purchase(user, amount: int, *, key: str, purchase, memo: str = "") -> LedgerEntry:
    """Add the credits a paid purchase bought."""
    if amount < 0:
        raise ValueError("A purchase adds credits")
    return _post(user, amount, Kind.PURCHASE, key, purchase=purchase, memo=memo)


def charge(user, amount: int, *, key: str, generation=None, memo: str = "") -> LedgerEntry:
    """Take credits for work. Raises InsufficientCredits (and writes nothing) when short."""
    if amount < 0:
        raise ValueError("Pass the charge as a positive number of credits")
    return _post(user, -amount, Kind.CHARGE, key, is_spend=True, generation=generation, memo=memo)


def refund(user, amount: int, *, key: str, generation=None, purchase=None, memo: str = "") -> LedgerEntry:
    """Give back credits that were charged for work that did not happen."""
    if amount < 0:
        raise ValueError("Pass the refund as a positive number of credits")
    return _post(user, amount, Kind.REFUND, key, generation=generation, purchase=purchase, memo=memo)


def clawback(user, amount: int, *, key: str, purchase=None, memo: str = "") -> LedgerEntry:
    """Take back purchased credits after a payment refund or dispute.

    The only movement that may leave a negative balance: the money went back to the
    customer whether or not the credits were already spent.
    """
    if amount < 0:
        raise ValueError("Pass the clawback as a positive number of credits")
    return _post(user, -amount, Kind.CLAWBACK, key, may_go_negative=True, purchase=purchase, memo=memo)


def adjust(user, amount: int, *, key: str, reason: str, created_by) -> LedgerEntry:
    """A staff correction, positive or negative, with a required reason.

    A deduction never takes a balance below zero: that would be a clawback.
    """
    if not reason or not reason.strip():
        raise ValueError("A reason is required for a manual adjustment")
    if created_by is None:
        raise ValueError("A manual adjustment records the staff member who made it")
    return _post(user, amount, Kind.ADJUSTMENT, key, memo=reason.strip(), created_by=created_by)


def balance_of(user) -> int:
    return CreditAccount.objects.for_user(user).balance


@dataclass(frozen=True)
class Drift:
    account_id: int
    email: str
    balance: int
    entries_sum: int

    @property
    def difference(self) -> int:
        return self.balance - self.entries_sum


def find_drifts() -> list[Drift]:
    """Accounts whose cached balance differs from the sum of their entries."""
    rows = (
        CreditAccount.objects.annotate(entries_sum=Sum("entries__amount"))
        .values_list("pk", "user__email", "balance", "entries_sum")
        .order_by("pk")
    )
    return [
        Drift(pk, email, balance, total or 0) for pk, email, balance, total in rows if balance != (total or 0)
    ]
