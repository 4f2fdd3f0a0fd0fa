"""Read-only figures over the ledger and purchases, for the operator's economics pages.

Nothing here writes: every function is one aggregate query (or a few), whatever the
number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Expression, F, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least, TruncDate
from django.utils import timezone

from billing.models import CreditAccount, LedgerEntry, Purchase
from billing.money import exponent

CREDITED = Q(paid_at__isnull=False)


def sales_currency() -> str:
    """The currency credits are sold in (the most recent credited purchase's), usd by default."""
    return (
        Purchase.objects.filter(CREDITED).order_by("-paid_at").values_list("currency", flat=True).first()
        or "usd"
    )


def average_credit_price() -> Decimal:
    """Average price of one credit, in major units of the sales currency (0 before any sale)."""
    row = Purchase.objects.filter(CREDITED).aggregate(money=Sum("amount_minor"), credits=Sum("credits"))
    if not row["credits"]:
        return Decimal("0")
    scale = Decimal(10) ** exponent(sales_currency())
    return Decimal(row["money"]) / scale / Decimal(row["credits"])


def revenue_by_day(start: datetime, end: datetime) -> dict:
    """{day: (gross_minor, refunded_minor)} of purchases credited in [start, end).

    Refunds and disputes are counted on the purchase's day (Stripe's refund date is not
    stored), which keeps the net figure reproducible from the purchase rows.
    """
    rows = (
        Purchase.objects.filter(CREDITED, paid_at__gte=start, paid_at__lt=end)
        .annotate(day=TruncDate("paid_at"))
        .values("day")
        .annotate(gross=Sum("amount_minor"), refunded=Sum("amount_refunded_minor"))
        .order_by("day")
    )
    return {r["day"]: (r["gross"] or 0, r["refunded"] or 0) for r in rows}


def credits_by_day(start: datetime, end: datetime) -> dict:
    """{(day, kind): credits moved} of ledger entries in [start, end), amounts made positive."""
    rows = (
        LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at"))
        .values("day", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(r["day"], r["kind"]): abs(r["total"] or 0) for r in rows}


def top_spenders(start: datetime, end: datetime, limit: int = 10) -> list[dict]:
    """The accounts that spent the most credits in [start, end), net of refunds."""
    return list(
        LedgerEntry.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
        )
        .values(email=F("account__user__email"))
        .annotate(spent=-Sum("amount"), charges=Count("id", filter=Q(kind=LedgerEntry.Kind.CHARGE)))
        .filter(spent__gt=0)
        .order_by("-spent", "email")[:limit]
    )


@dataclass(frozen=True)
class Liability:
    outstanding: int  # credits in positive balances
    paid: int
    granted: int
    dormant: int  # credits in accounts with no movement for the dormancy period
    dormant_accounts: int


def sum_of(kinds: list[str], since: datetime | None = None) -> Expression:
    """Per account (OuterRef "pk"): the amounts of its entries of these kinds (from `since`), 0 if none."""
    entries = LedgerEntry.objects.filter(account=OuterRef("pk"), kind__in=kinds)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    return Coalesce(
        Subquery(entries.order_by().values("account").annotate(total=Sum("amount")).values("total")),
        Value(0),
    )


@dataclass(frozen=True)
class AccountTotals:
    """Per-account expressions the liability is computed from (the economics app passes
    ones that read its daily rollups for past days)."""

    granted: Expression  # credits granted
    spent: Expression  # charges and refunds: negative when credits were spent
    last_move: Expression  # time of the account's last entry


def ledger_totals() -> AccountTotals:
    return AccountTotals(
        granted=sum_of([LedgerEntry.Kind.GRANT]),
        spent=sum_of([LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND]),
        last_move=Max("entries__created_at"),
    )


def liability(
    now: datetime | None = None,
    dormant_after: timedelta = timedelta(days=365),
    totals: AccountTotals | None = None,
) -> Liability:
    """Credits the site still owes work for, split into paid and granted ones.

    Spending is taken from granted credits first (the prudent reading: what remains is as
    much paid money as it can be). Per account, granted credits left = what was granted
    minus what was spent net of refunds, between 0 and the balance; the rest is paid.
    """
    now = now or timezone.now()
    totals = totals or ledger_totals()
    positive = CreditAccount.objects.filter(balance__gt=0)
    granted_left = Least(
        F("balance"),
        Greatest(
            Value(0),
            F("granted_total") + F("spent_total"),  # spent_total is negative
        ),
    )
    split = positive.annotate(granted_total=totals.granted, spent_total=totals.spent).aggregate(
        outstanding=Sum("balance"), granted=Sum(granted_left)
    )
    dormant = (
        positive.annotate(last_move=totals.last_move)
        .filter(last_move__lt=now - dormant_after)
        .aggregate(credits=Sum("balance"), accounts=Count("id"))
    )
    outstanding = split["outstanding"] or 0
    granted = min(split["granted"] or 0, outstanding)
    return Liability(
        outstanding=outstanding,
        paid=outstanding - granted,
        granted=granted,
        dormant=dormant["credits"] or 0,
        dormant_accounts=dormant["accounts"] or 0,
    )
