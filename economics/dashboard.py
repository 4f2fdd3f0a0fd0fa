"""The operator's dashboard figures for a period: a fixed handful of aggregate queries.

Every figure is grouped in SQL (by day, kind, model, mode, duration, status, reason and
pack), so the number of queries does not grow with the generations. Past days are read
from the daily rollups (`economics.rollup`), today and any day not summed yet from the
raw rows, so the rows read do not grow with them either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing import reports
from billing.models import LedgerEntry
from economics import rollup
from economics.costing import CENT, ZERO, unit_cost
from economics.services import load_context
from generations.models import Status

PRESETS = {"7d": _("Last 7 days"), "30d": _("Last 30 days"), "month": _("This month"), "custom": _("Custom")}
MAX_DAYS = 366


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    preset: str
    first: date  # inclusive
    last: date  # inclusive

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def parse_period(
    preset: str | None, first: str | None = None, last: str | None = None, today: date | None = None
) -> Period:
    """A period from the picker; bad input raises PeriodError with a sentence for staff."""
    today = today or timezone.localdate()
    preset = preset or "30d"
    if preset == "7d":
        return Period(preset, today - timedelta(days=6), today)
    if preset == "30d":
        return Period(preset, today - timedelta(days=29), today)
    if preset == "month":
        return Period(preset, today.replace(day=1), today)
    if preset != "custom":
        raise PeriodError(_("Choose a period from the list."))
    try:
        start, end = date.fromisoformat(first or ""), date.fromisoformat(last or "")
    except ValueError:
        raise PeriodError(_("Enter both dates as YYYY-MM-DD.")) from None
    if end < start:
        raise PeriodError(_("The period ends before it starts."))
    if (end - start).days >= MAX_DAYS:
        raise PeriodError(_("Choose at most a year."))
    return Period(preset, start, end)


@dataclass
class Line:
    """Money and volume for one group (a day, a model, a kind or the whole period)."""

    revenue: Decimal = ZERO  # credits kept, at the average credit price
    cost: Decimal = ZERO
    units: Decimal = ZERO
    credits: int = 0
    started: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return (self.margin * 100 / self.revenue).quantize(Decimal("0.1")) if self.revenue else None


@dataclass
class Day:
    day: date
    line: Line = field(default_factory=Line)
    revenue_gross_minor: int = 0
    revenue_refunded_minor: int = 0
    credits: dict = field(default_factory=dict)

    @property
    def revenue_net_minor(self) -> int:
        return self.revenue_gross_minor - self.revenue_refunded_minor


def build(period: Period) -> dict:
    ctx = load_context()
    packs = {p.pk: p for p in ctx.packs}
    cov = rollup.coverage(ctx.packs)
    days = {d: Day(d) for d in period.days}
    total, by_model, by_kind = Line(), defaultdict(Line), defaultdict(Line)
    failures: dict[str, int] = defaultdict(int)
    for row in rollup.generation_rows(period.days, ctx.packs, cov):
        units = rollup.units_of(row)
        cost = (units * unit_cost(packs.get(row["pack"]))).quantize(CENT)
        kept = 0 if row["status"] == Status.FAILED else row["credits"] or 0
        revenue = (Decimal(kept) * ctx.credit_price).quantize(CENT)
        model = (row["model_name"], row["mode"], row["duration"])
        day = days.get(row["day"]) or days.setdefault(row["day"], Day(row["day"]))
        for line in (total, by_model[model], by_kind[row["kind"]], day.line):
            line.revenue += revenue
            line.cost += cost
            line.units += units
            line.credits += kept
            line.started += row["n"]
            line.succeeded += row["n"] if row["status"] == Status.SUCCEEDED else 0
            line.failed += row["n"] if row["status"] == Status.FAILED else 0
        if row["status"] == Status.FAILED:
            failures[row["error_code"] or "unknown"] += row["n"]
    for day, (gross, refunded) in reports.revenue_by_day(period.start, period.end).items():
        if day in days:
            days[day].revenue_gross_minor, days[day].revenue_refunded_minor = gross, refunded
    credit_totals: dict[str, int] = defaultdict(int)
    ledger = rollup.ledger_figures(period.days, cov)
    for (day, kind), amount in ledger.credits.items():
        if day in days:
            days[day].credits[kind] = amount
        credit_totals[kind] += amount
    ordered_days = [days[d] for d in sorted(days)]
    return {
        "period": period,
        "currency": ctx.currency,
        "credit_price": ctx.credit_price,
        "total": total,
        "days": ordered_days,
        "by_model": sorted(by_model.items(), key=lambda kv: -kv[1].revenue),
        "by_kind": sorted(by_kind.items(), key=lambda kv: -kv[1].revenue),
        "failures": sorted(failures.items(), key=lambda kv: -kv[1]),
        "refund_rate": (Decimal(total.failed * 100) / total.started).quantize(Decimal("0.1"))
        if total.started
        else None,
        "revenue_gross_minor": sum(d.revenue_gross_minor for d in ordered_days),
        "revenue_refunded_minor": sum(d.revenue_refunded_minor for d in ordered_days),
        "credits": {
            "sold": credit_totals[LedgerEntry.Kind.PURCHASE],
            "spent": credit_totals[LedgerEntry.Kind.CHARGE],
            "refunded": credit_totals[LedgerEntry.Kind.REFUND],
            "granted": credit_totals[LedgerEntry.Kind.GRANT],
        },
        "top_spenders": ledger.top_spenders,
        "liability": rollup.liability(cov),
    }


def bars(values: list[tuple[str, Decimal, Decimal]], width: int = 640, height: int = 160) -> dict:
    """Geometry of a two-series bar chart (e.g. revenue against cost by day), drawn as SVG."""
    peak = max([max(a, b) for _, a, b in values] + [Decimal("0")])
    slot = width / max(len(values), 1)
    bar = max(slot / 2 - 1, 1)
    out = []
    for i, (label, a, b) in enumerate(values):
        ha = float(a / peak * height) if peak else 0.0
        hb = float(b / peak * height) if peak else 0.0
        out.append(
            {
                "label": label,
                "a": a,
                "b": b,
                "x": round(i * slot, 1),
                "x2": round(i * slot + bar, 1),
                "w": round(bar, 1),
                "ya": round(height - ha, 1),
                "ha": round(ha, 1),
                "yb": round(height - hb, 1),
                "hb": round(hb, 1),
            }
        )
    return {"width": width, "height": height, "bars": out}
