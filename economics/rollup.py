"""Daily rollups: the dashboard reads past days from a few summed rows, today from the raw ones.

A day is summed once it is over (plus a grace for transactions still committing), by the
scheduled task `economics.tasks.roll_up_days` or `manage.py rebuild_rollups`; nothing is
written when a generation is charged, so the charge path takes no extra lock.

- Ledger entries are append-only and dated when written, so a past day's entries never
  change: its `LedgerDay` rows are final.
- A generation's figures change until it reaches a terminal state, and its pack depends on
  the packs' dates: a day's `GenerationDay` rows are used only when every generation
  created that day had finished when they were summed, and the packs' dates are still
  those they were summed with. Other days are read raw and summed again by the next run.
- Money and cost are not stored: the page multiplies the summed units and credits by
  today's cost per unit and credit price, exactly as it does for raw rows.
- Revenue is read from the purchases themselves (far fewer rows than generations), so a
  refund or dispute of an old purchase shows at once.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from billing import reports
from billing.models import CreditAccount, LedgerEntry
from economics.models import GenerationDay, LedgerDay, ProductType, ResourcePack, RollupDay
from generations.models import IMAGE_KINDS, UNFINISHED_STATUSES, Generation

logger = logging.getLogger(__name__)

# A transaction that stamped its rows just before midnight may commit just after it.
GRACE = timedelta(minutes=15)
GENERATION_GROUPS = ("kind", "model_name", "mode", "duration", "status", "error_code", "pack")
SPENDING = [LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND]


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous runs of days, as (first, last)."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def within(days: Iterable[date], field: str = "created_at") -> Q:
    """Rows whose `field` falls on one of these local days (one range per run of days)."""
    where = Q(pk__in=[])
    for first, last in _runs(days):
        where |= Q(**{f"{field}__gte": start_of(first), f"{field}__lt": start_of(last + timedelta(days=1))})
    return where


def packs_key(packs: Iterable[ResourcePack]) -> str:
    """What decides which pack paid for a job: the packs' ids, product types and dates."""
    text = "|".join(
        f"{p.pk}:{p.product_type}:{p.purchased_at.timestamp()}:{p.expires_at.timestamp()}:"
        f"{p.exhausted_at.timestamp() if p.exhausted_at else ''}"
        for p in sorted(packs, key=lambda p: p.pk)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _pack_case(packs: Iterable[ResourcePack]):
    """SQL choosing, per generation, the oldest pack valid when it finished (None: no pack)."""
    whens = []
    for pack in sorted(packs, key=lambda p: (p.purchased_at, p.pk)):
        end = min(pack.expires_at, pack.exhausted_at) if pack.exhausted_at else pack.expires_at
        kind = Q(kind__in=IMAGE_KINDS) if pack.product_type == ProductType.IMAGE else ~Q(kind__in=IMAGE_KINDS)
        whens.append(When(kind & Q(at__gte=pack.purchased_at, at__lt=end), then=Value(pack.pk)))
    return Case(*whens, default=Value(None), output_field=IntegerField())


def generation_groups(where: Q, packs: Iterable[ResourcePack]) -> QuerySet:
    """Raw generations matching `where`, counted and summed per local day and GENERATION_GROUPS."""
    return (
        Generation.objects.filter(where)
        .annotate(at=Coalesce("finished_at", "created_at"))
        .annotate(day=TruncDate("created_at"), pack=_pack_case(packs))
        .values("day", *GENERATION_GROUPS)
        .annotate(n=Count("id"), credits=Sum("cost"), units=Sum("units_charged"))
        .order_by()
    )


def _ledger_groups(where: Q, *by: str) -> QuerySet:
    return (
        LedgerEntry.objects.filter(where)
        .annotate(day=TruncDate("created_at"))
        .values(*by)
        .annotate(
            total=Sum("amount"),
            entries=Count("id"),
            charges=Count("id", filter=Q(kind=LedgerEntry.Kind.CHARGE)),
            last_at=Max("created_at"),
        )
        .order_by()
    )


# Building ------------------------------------------------------------------------------


class _Raced(Exception):
    """Another run rebuilt some of these days first."""


def last_closed_day(now: datetime | None = None) -> date:
    """The latest local day that ended at least GRACE ago."""
    return timezone.localdate((now or timezone.now()) - GRACE) - timedelta(days=1)


def _first_day() -> date | None:
    firsts = [
        Generation.objects.aggregate(first=Min("created_at"))["first"],
        LedgerEntry.objects.aggregate(first=Min("created_at"))["first"],
    ]
    firsts = [f for f in firsts if f is not None]
    return timezone.localdate(min(firsts)) if firsts else None


def refresh(*, now: datetime | None = None, full: bool = False) -> int:
    """Sum every closed day not summed yet, or summed while it was open or with other packs.

    Returns the number of days written. Idempotent; two runs at once cannot both write a
    day (the second finds its rows changed and gives up, the first's rows stand).
    """
    zone = timezone.get_current_timezone_name()
    packs = list(ResourcePack.objects.all())
    key = packs_key(packs)
    # Figures cut into another time zone's days cannot be reused.
    RollupDay.objects.exclude(zone=zone).delete()
    if full:
        RollupDay.objects.filter(zone=zone).delete()
    existing = {r.day: r for r in RollupDay.objects.filter(zone=zone)}
    last = last_closed_day(now)
    first = min(existing) if existing else _first_day()
    if first is None or first > last:
        return 0
    todo = [
        first + timedelta(days=i)
        for i in range((last - first).days + 1)
        if (r := existing.get(first + timedelta(days=i))) is None
        or not r.generations_closed
        or r.packs_key != key
    ]
    if not todo:
        return 0
    where = within(todo)
    still_open = set(
        Generation.objects.filter(where, status__in=UNFINISHED_STATUSES)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", flat=True)
        .distinct()
    )
    generation_rows = [r for r in generation_groups(where, packs) if r["day"] not in still_open]
    ledger_rows = list(_ledger_groups(where, "day", "account", "kind"))
    try:
        _write(zone, key, todo, existing, still_open, generation_rows, ledger_rows)
    except (_Raced, IntegrityError):
        logger.info("economics: another run summed these days first")
        return 0
    return len(todo)


def _write(zone, key, todo, existing, still_open, generation_rows, ledger_rows) -> None:
    with transaction.atomic():
        stale = [existing[d].pk for d in todo if d in existing]
        _, deleted = RollupDay.objects.filter(pk__in=stale).delete()
        if deleted.get(RollupDay._meta.label, 0) != len(stale):
            raise _Raced
        days = RollupDay.objects.bulk_create(
            [RollupDay(zone=zone, day=d, generations_closed=d not in still_open, packs_key=key) for d in todo]
        )
        ids = {r.day: r.pk for r in days}
        GenerationDay.objects.bulk_create(
            [
                GenerationDay(
                    rollup_id=ids[r["day"]],
                    **{g: r[g] for g in GENERATION_GROUPS},
                    n=r["n"],
                    credits=r["credits"] or 0,
                    units=units_of(r),
                )
                for r in generation_rows
                if r["day"] in ids
            ],
            batch_size=1000,
        )
        LedgerDay.objects.bulk_create(
            [
                LedgerDay(
                    rollup_id=ids[r["day"]],
                    account_id=r["account"],
                    kind=r["kind"],
                    total=r["total"],
                    entries=r["entries"],
                    last_at=r["last_at"],
                )
                for r in ledger_rows
                if r["day"] in ids
            ],
            batch_size=1000,
        )


def units_of(row: dict) -> Decimal:
    return Decimal(row["units"] or 0).quantize(Decimal("0.001"))


# Reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Which local days the rollups can answer for, as things stand."""

    ledger: dict[date, int]  # day -> RollupDay id
    generations: frozenset[date]
    through: date | None  # the rollups hold every ledger entry before the end of this day


def coverage(packs: Iterable[ResourcePack]) -> Coverage:
    key = packs_key(packs)
    rows = RollupDay.objects.filter(zone=timezone.get_current_timezone_name()).values_list(
        "pk", "day", "generations_closed", "packs_key"
    )
    ledger, generations = {}, set()
    for pk, day, closed, row_key in rows:
        ledger[day] = pk
        if closed and row_key == key:
            generations.add(day)
    through = None
    if ledger:
        # Days are summed in one unbroken run from the first day with data.
        through = min(ledger)
        while through + timedelta(days=1) in ledger:
            through += timedelta(days=1)
    return Coverage(ledger=ledger, generations=frozenset(generations), through=through)


def generation_rows(days: list[date], packs: Iterable[ResourcePack], cov: Coverage) -> list[dict]:
    """The grouped generation rows of these days: summed days from the rollup, others raw."""
    summed = [cov.ledger[d] for d in days if d in cov.generations]
    live = [d for d in days if d not in cov.generations]
    rows: list[dict] = []
    if summed:
        rows += GenerationDay.objects.filter(rollup_id__in=summed).values(
            "n", "credits", "units", *GENERATION_GROUPS, day=F("rollup__day")
        )
    if live:
        rows += generation_groups(within(live), packs)
    return rows


def _split(days: list[date], cov: Coverage) -> tuple[list[int], list[date]]:
    return [cov.ledger[d] for d in days if d in cov.ledger], [d for d in days if d not in cov.ledger]


@dataclass(frozen=True)
class LedgerFigures:
    credits: dict  # {(day, kind): credits moved}, amounts made positive (as billing.reports)
    top_spenders: list[dict]  # as billing.reports.top_spenders


def ledger_figures(days: list[date], cov: Coverage, limit: int = 10) -> LedgerFigures:
    """Credits moved by day and kind, and the accounts that spent most net of refunds.

    Summed days are two aggregates of the rollup; the other days one pass over the ledger.
    """
    summed, live = _split(days, cov)
    totals: dict = defaultdict(int)
    spent: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # account -> [spent, charges]
    if summed:
        for r in (
            LedgerDay.objects.filter(rollup_id__in=summed)
            .values("kind", day=F("rollup__day"))
            .annotate(t=Sum("total"))
            .order_by()
        ):
            totals[(r["day"], r["kind"])] += r["t"]
        for r in (
            LedgerDay.objects.filter(rollup_id__in=summed, kind__in=SPENDING)
            .values("account")
            .annotate(t=Sum("total"), c=Sum("entries", filter=Q(kind=LedgerEntry.Kind.CHARGE)))
            .order_by()
        ):
            spent[r["account"]][0] -= r["t"]
            spent[r["account"]][1] += r["c"] or 0
    if live:
        for r in _ledger_groups(within(live), "day", "account", "kind"):
            totals[(r["day"], r["kind"])] += r["total"]
            if r["kind"] in SPENDING:
                spent[r["account"]][0] -= r["total"]
                spent[r["account"]][1] += r["charges"]
    return LedgerFigures({k: abs(v) for k, v in totals.items()}, _top(spent, limit))


def _top(spent: dict[int, list[int]], limit: int) -> list[dict]:
    ranked = sorted((v[0] for v in spent.values() if v[0] > 0), reverse=True)
    if not ranked:
        return []
    floor = ranked[min(limit, len(ranked)) - 1]
    emails = dict(
        CreditAccount.objects.filter(pk__in=[a for a, v in spent.items() if v[0] >= floor]).values_list(
            "pk", "user__email"
        )
    )
    rows = [{"email": emails[a], "spent": spent[a][0], "charges": spent[a][1]} for a in emails]
    return sorted(rows, key=lambda r: (-r["spent"], r["email"]))[:limit]


def _summed(kinds: list[str], through: date, value: str = "total", how=Sum):
    rows = LedgerDay.objects.filter(
        account=OuterRef("pk"),
        kind__in=kinds,
        rollup__zone=timezone.get_current_timezone_name(),
        rollup__day__lte=through,
    )
    return Subquery(rows.order_by().values("account").annotate(v=how(value)).values("v"))


def liability(cov: Coverage, now: datetime | None = None) -> reports.Liability:
    """billing.reports.liability, with each account's past days read from the rollup."""
    if cov.through is None:
        return reports.liability(now=now)
    since = start_of(cov.through + timedelta(days=1))
    live_last = LedgerEntry.objects.filter(account=OuterRef("pk"), created_at__gte=since).order_by(
        "-created_at"
    )
    totals = reports.AccountTotals(
        granted=Coalesce(_summed([LedgerEntry.Kind.GRANT], cov.through), Value(0))
        + reports.sum_of([LedgerEntry.Kind.GRANT], since),
        spent=Coalesce(_summed(SPENDING, cov.through), Value(0)) + reports.sum_of(SPENDING, since),
        # Entries after the summed days are all later than those in them.
        last_move=Coalesce(
            Subquery(live_last.values("created_at")[:1]),
            _summed(list(LedgerEntry.Kind.values), cov.through, "last_at", Max),
        ),
    )
    return reports.liability(now=now, totals=totals)
