"""The only code that writes credits.

Every function posts one `LedgerEntry` and moves `CreditAccount.balance` by the same
amount in one transaction. The balance is moved by a conditional UPDATE
(`balance = balance + n WHERE balance >= needed`), never read-modify-write, so two
workers can never spend the same credit: on PostgreSQL the second UPDATE waits for the
first and re-checks its WHERE; on SQLite the IMMEDIATE transaction takes the write lock
up front. The CHECK constraints on `LedgerEntry` catch what a bug here would let through.

Every function is idempotent by `key`: posting the same key again returns the entry that
already exists and changes nothing. Reusing a key for a different movement (another
account, amount or kind) raises `IdempotencyConflict`.

What blocks spending: a `charge` needs `balance >= cost` (so a balance taken negative by
a clawback blocks every charge until it is topped up) and an account that is not frozen.
Staff deductions (`adjust` with a negative amount) need the balance too but ignore the
freeze; only `clawback` may take a balance below zero.

The functions may run inside a caller's transaction (a generation is charged and saved
together). On PostgreSQL the account row then stays locked until the caller commits, so
keep such transactions short.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from billing.models import CreditAccount, LedgerEntry

logger = logging.getLogger(__name__)

KEY_MAX_LENGTH = LedgerEntry._meta.get_field("idempotency_key").max_length
MEMO_MAX_LENGTH = LedgerEntry._meta.get_field("memo").max_length


class LedgerError(Exception):
    """Base class for refusals by the ledger."""


class InsufficientCredits(LedgerError):
    def __init__(self, needed: int, balance: int) -> None:
        self.needed = needed
        self.balance = balance
        super().__init__(
            _("This needs %(price)s credits and the balance is %(balance)s.")
            % {"price": needed, "balance": balance}
        )


class AccountFrozen(LedgerError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            _("Spending is paused on this account: %(reason)s") % {"reason": reason}
            if reason
            else _("Spending is paused on this account.")
        )


class IdempotencyConflict(LedgerError):
    """The key was already used for a different movement: a programming error, never retried."""


def _positive(amount: object) -> int:
    """A whole, positive number of credits. bool is an int in Python; refuse it explicitly."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Credit amounts are whole numbers, got {amount!r}")
    if amount <= 0:
        raise ValueError(f"Pass a positive number of credits, got {amount!r}")
    return amount


def _non_zero(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Credit amounts are whole numbers, got {amount!r}")
    if amount == 0:
        raise ValueError("A credit amount cannot be zero")
    return amount


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("An idempotency key is required")
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError(f"An idempotency key has at most {KEY_MAX_LENGTH} characters")
    return key


def _clip(memo: str) -> str:
    # A memo only describes the entry; a long one (a prompt, a Stripe reason) is cut to
    # fit rather than failing a money movement on PostgreSQL's length check.
    memo = (memo or "").strip()
    return memo if len(memo) <= MEMO_MAX_LENGTH else memo[: MEMO_MAX_LENGTH - 1] + "…"


def _check_staff_change(reason: object, created_by) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("A reason is required for a manual change of credits")
    if created_by is None:
        raise ValueError("A manual change of credits records the staff member who made it")


def _existing(user, key: str, kind: str, amount: int) -> LedgerEntry | None:
    # Runs before every post, so the usual miss is one plain lookup on the unique index;
    # the account is fetched only for a hit.
    entry = LedgerEntry.objects.filter(idempotency_key=key).order_by().first()
    if entry is None:
        return None
    if entry.amount != amount or entry.kind != kind or entry.account.user_id != user.pk:
        raise IdempotencyConflict(
            f"Key {key!r} already posted {entry.kind} {entry.amount:+d} to account {entry.account_id}, "
            f"not {kind} {amount:+d} for user {user.pk}"
        )
    return entry


def _move_balance(
    user, amount: int, *, may_go_negative: bool, is_spend: bool, attempt: int = 1
) -> tuple[int, int]:
    """Move the balance with one conditional UPDATE; return (account id, new balance).

    Must run inside the transaction that also inserts the entry.
    """
    rows = CreditAccount.objects.filter(user=user)
    if amount < 0 and not may_go_negative:
        rows = rows.filter(balance__gte=-amount)
    if is_spend:
        rows = rows.filter(is_frozen=False)
    if rows.update(balance=F("balance") + amount) == 1:
        # Our UPDATE holds the row lock until commit, so this read is our own result.
        return CreditAccount.objects.filter(user=user).values_list("pk", "balance").get()
    # The UPDATE matched nothing: say why. Each statement sees what was committed when it
    # started, so on PostgreSQL an account created by a concurrent first post can be
    # missing for the UPDATE and present for the read below; then the UPDATE is retried.
    try:
        account = CreditAccount.objects.get(user=user)
    except CreditAccount.DoesNotExist:
        if amount < 0 and not may_go_negative:
            raise InsufficientCredits(-amount, 0) from None  # no account is a balance of zero
        CreditAccount.objects.for_user(user)
        account = None
    if account is not None:
        if is_spend and account.is_frozen:
            raise AccountFrozen(account.frozen_reason)
        if amount < 0 and not may_go_negative and account.balance < -amount:
            raise InsufficientCredits(-amount, account.balance)
    if attempt >= 3:
        # Only a balance that keeps moving between our two statements gets here.
        if amount < 0:
            raise InsufficientCredits(-amount, account.balance if account else 0)
        raise RuntimeError(f"Could not move the balance of {user} by {amount:+d}")
    return _move_balance(
        user, amount, may_go_negative=may_go_negative, is_spend=is_spend, attempt=attempt + 1
    )


def _post(
    user,
    amount: int,
    kind: str,
    key: str,
    *,
    memo: str = "",
    may_go_negative: bool = False,
    is_spend: bool = False,
    **links,
) -> LedgerEntry:
    key = _check_key(key)
    memo = _clip(memo)
    # The fast path for a retry; it is also what lets a retried charge succeed after the
    # credits it took have been spent elsewhere.
    existing = _existing(user, key, kind, amount)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            account_id, balance = _move_balance(
                user, amount, may_go_negative=may_go_negative, is_spend=is_spend
            )
            return LedgerEntry.objects.create(
                account_id=account_id,
                amount=amount,
                balance_after=balance,
                kind=kind,
                idempotency_key=key,
                memo=memo,
                **links,
            )
    except IntegrityError:
        # Another worker posted the same key between our check and our insert; the
        # atomic block rolled our balance change back, so theirs is the only one.
        existing = _existing(user, key, kind, amount)
        if existing is None:
            raise
        return existing
    except (InsufficientCredits, AccountFrozen):
        # A concurrent post of this very key may have won and spent the credits we were
        # counting on: for this caller that is the earlier success, not a refusal.
        existing = _existing(user, key, kind, amount)
        if existing is None:
            raise
        return existing


def grant(user, amount: int, *, key: str, memo: str = "", created_by=None) -> LedgerEntry:
    """Give free credits (welcome credits, goodwill, a staff grant)."""
    return _post(user, _positive(amount), LedgerEntry.Kind.GRANT, key, memo=memo, created_by=created_by)


def credit_purchase(user, amount: int, *, key: str, purchase, memo: str = "") -> LedgerEntry:
    """Add the credits a paid purchase bought."""
    return _post(user, _positive(amount), LedgerEntry.Kind.PURCHASE, key, purchase=purchase, memo=memo)


def charge(user, amount: int, *, key: str, generation=None, memo: str = "") -> LedgerEntry:
    """Take credits for work. Raises InsufficientCredits or AccountFrozen, writing nothing."""
    return _post(
        user,
        -_positive(amount),
        LedgerEntry.Kind.CHARGE,
        key,
        is_spend=True,
        generation=generation,
        memo=memo,
    )


def refund(user, amount: int, *, key: str, generation=None, purchase=None, memo: str = "") -> LedgerEntry:
    """Give back credits that were charged for work that did not happen."""
    return _post(
        user,
        _positive(amount),
        LedgerEntry.Kind.REFUND,
        key,
        generation=generation,
        purchase=purchase,
        memo=memo,
    )


def clawback(user, amount: int, *, key: str, purchase=None, memo: str = "") -> LedgerEntry:
    """Take back purchased credits after a payment refund or dispute.

    The only movement that may leave a negative balance: the money went back to the
    customer whether or not the credits were already spent.
    """
    return _post(
        user,
        -_positive(amount),
        LedgerEntry.Kind.CLAWBACK,
        key,
        may_go_negative=True,
        purchase=purchase,
        memo=memo,
    )


def adjust(user, amount: int, *, key: str, reason: str, created_by) -> LedgerEntry:
    """A staff correction, positive or negative, with a required reason.

    A deduction never takes a balance below zero (InsufficientCredits): that would be a
    clawback, which only a payment reversal justifies.
    """
    amount = _non_zero(amount)
    _check_staff_change(reason, created_by)
    entry = _post(user, amount, LedgerEntry.Kind.ADJUSTMENT, key, memo=reason, created_by=created_by)
    logger.info("Staff %s adjusted %s by %+d: %s", created_by, user, amount, entry.memo)
    return entry


def grant_or_deduct(user, amount: int, *, key: str, reason: str, created_by) -> LedgerEntry:
    """A staff member's change from the admin: a grant when positive, an adjustment when negative.

    Both carry the reason and the staff member. A deduction larger than the balance
    raises InsufficientCredits.
    """
    amount = _non_zero(amount)
    if amount > 0:
        _check_staff_change(reason, created_by)
        return grant(user, amount, key=key, memo=reason, created_by=created_by)
    return adjust(user, amount, key=key, reason=reason, created_by=created_by)


def history(user):
    """The person's ledger entries, newest first (read-only: for pages, CSV and the API)."""
    return LedgerEntry.objects.filter(account__user=user).order_by("-created_at", "-id")


def balance_of(user) -> int:
    """The cached balance; 0 for someone who has no account yet (reading creates nothing)."""
    balance = CreditAccount.objects.filter(user=user).values_list("balance", flat=True).order_by().first()
    return balance or 0


@dataclass(frozen=True)
class Drift:
    account_id: int
    email: str
    balance: int
    entries_sum: int
    # balance_after of the newest entry: it must equal the balance, since entries are
    # appended under the account's row lock in the order the balance moved.
    last_balance_after: int | None = None

    @property
    def difference(self) -> int:
        return self.balance - self.entries_sum

    def __str__(self) -> str:
        text = (
            f"account {self.account_id} ({self.email}): balance {self.balance}, "
            f"entries sum to {self.entries_sum} (difference {self.difference:+d})"
        )
        if self.last_balance_after is not None and self.last_balance_after != self.balance:
            text += f", newest entry says {self.last_balance_after}"
        return text


def find_drifts() -> list[Drift]:
    """Accounts whose cached balance differs from the sum of their entries.

    One statement, so it reads a consistent snapshot even while credits move.
    """
    newest = LedgerEntry.objects.filter(account=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    rows = (
        CreditAccount.objects.annotate(
            entries_sum=Coalesce(Sum("entries__amount"), 0), last_balance_after=Subquery(newest)
        )
        .values_list("pk", "user__email", "balance", "entries_sum", "last_balance_after")
        .order_by("pk")
    )
    return [
        Drift(pk, email, balance, total, last)
        for pk, email, balance, total, last in rows
        if balance != total or (last is not None and last != balance)
    ]


def negative_balances_without_clawback() -> list[int]:
    """Ids of accounts below zero that no clawback explains (each one is a bug)."""
    return list(
        CreditAccount.objects.filter(balance__lt=0)
        .exclude(entries__kind=LedgerEntry.Kind.CLAWBACK)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def reconcile() -> list[str]:
    """Every ledger problem, one sentence each; empty when all is well.

    What `check_ledger` (command and hourly task) reports. Read-only.
    """
    problems = [f"drift: {drift}" for drift in find_drifts()]
    problems += [
        f"negative: account {pk} is below zero without a clawback"
        for pk in negative_balances_without_clawback()
    ]
    return problems
