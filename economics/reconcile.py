"""The units we recorded (`final_unit_deduction` per generation) against Kling's own figures.

Kling's `/account/costs` gives each pack's remaining units, not a list of deductions, so
its figure for a period is how much the packs went down between two of its answers: the
newest stored answer from before the period's start and a fresh one at its end (a pack
absent at the start was bought since: all it lost counts). Our figure is the units of the
generations that finished between those two answers. Kling's figures lag up to 12 hours,
so a day's difference can be that lag; a difference that persists day after day is not.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from economics import balance
from economics.models import PackSnapshot, ProductType, Reconciliation
from generations.models import IMAGE_KINDS, Generation

UNITS = Decimal("0.001")
MAX_DAYS = 31


class ReconcileError(Exception):
    """Kling's figures for the period cannot be had; the message is for staff."""


def kling_units(first: PackSnapshot, last: PackSnapshot) -> dict[str, Decimal]:
    """{product type: units the packs went down by from `first` to `last`}."""
    before = {p["name"]: p for p in first.packs}
    used: dict[str, Decimal] = defaultdict(Decimal)
    for pack in last.packs:
        start = before.get(pack["name"], {"remaining": pack["total"]})["remaining"]
        used[pack["product_type"]] += Decimal(str(start)) - Decimal(str(pack["remaining"]))
    return {k: v.quantize(UNITS) for k, v in used.items()}


def recorded_units(start: datetime, end: datetime) -> dict[str, Decimal]:
    """{product type: units of the generations that finished in [start, end)}."""
    images = Q(kind__in=IMAGE_KINDS)
    row = Generation.objects.filter(finished_at__gte=start, finished_at__lt=end).aggregate(
        image=Sum("units_charged", filter=images), video=Sum("units_charged", filter=~images)
    )
    return {k: Decimal(v or 0).quantize(UNITS) for k, v in row.items()}


def _start_snapshot(target: datetime) -> PackSnapshot:
    good = PackSnapshot.objects.exclude(packs=[]).filter(error="")
    first = good.filter(fetched_at__lte=target).order_by("-fetched_at", "-id").first()
    if first is None:
        oldest = good.order_by("fetched_at").first()
        raise ReconcileError(
            _("Kling's figures from the start of the period are not kept (the oldest are from %(when)s).")
            % {"when": f"{oldest.fetched_at:%Y-%m-%d %H:%M}"}
            if oldest
            else _("No figures from Kling are stored yet: fetch them first.")
        )
    return first


def run(days: int, now: datetime | None = None) -> list[Reconciliation]:
    """Reconcile the last `days` days, ending with a fresh answer from Kling; store and return
    one row per product type. Raises ReconcileError with a sentence for staff."""
    if days < 1:
        raise ReconcileError(_("Reconcile at least one day."))
    if days > MAX_DAYS:
        raise ReconcileError(_("Reconcile at most %(days)d days at once.") % {"days": MAX_DAYS})
    now = now or timezone.now()
    first = _start_snapshot(now - timedelta(days=days))
    last = balance.refresh()
    if last.error or not last.packs:
        raise ReconcileError(last.error or _("Kling listed no packs."))
    theirs = kling_units(first, last)
    ours = recorded_units(first.fetched_at, last.fetched_at)
    return [
        Reconciliation.objects.create(
            ran_at=now,
            product_type=product_type,
            start=first.fetched_at,
            end=last.fetched_at,
            recorded_units=ours.get(product_type, Decimal(0)),
            kling_units=theirs.get(product_type, Decimal(0)),
        )
        for product_type in ProductType.values
        if product_type in theirs or ours.get(product_type)
    ]
