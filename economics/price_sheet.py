"""The price list against Kling's cost: units, provider cost, sale value and margin per row.

A row's provider cost uses the pack Kling draws from today (the oldest valid one of its
product type), and its sale value the average price a credit sold for: the same figures
the dashboard uses for finished generations, applied to what the row would sell next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from economics.costing import CENT, Margin, margin, pack_in_use, unit_cost
from economics.services import PriceContext, load_context, product_type_of
from generations.models import Price
from generations.pricing import price_units

# A target margin of 100 % or more would need an infinite price.
MAX_TARGET_MARGIN = Decimal("95")


@dataclass(frozen=True)
class SheetRow:
    price: Price
    units: Decimal | None  # None: the row is a wildcard whose units vary
    cost: Decimal | None  # None: units unknown, or no pack covers today
    sale_value: Decimal  # its credits at the average sale price
    margin: Margin | None

    @property
    def below_cost(self) -> bool:
        return self.margin is not None and self.margin.margin < 0

    @property
    def why_unknown(self) -> str:
        if self.units is None:
            return _("units vary (wildcard row)")
        if self.cost is None:
            return _("no pack covers today")
        if not self.sale_value:
            return _("no credit sold yet")
        return ""


def _unit_cost_now(ctx: PriceContext, product_type: str, now: datetime) -> Decimal | None:
    pack = pack_in_use(ctx.packs, product_type, now)
    return unit_cost(pack) if pack is not None else None


def row(price: Price, ctx: PriceContext, now: datetime | None = None) -> SheetRow:
    now = now or timezone.now()
    units = price_units(price.kind, price.model_name, price.mode, price.duration, price.audio)
    per_unit = _unit_cost_now(ctx, product_type_of(price.kind), now)
    cost = (units * per_unit).quantize(CENT) if units is not None and per_unit is not None else None
    sale_value = (Decimal(price.credits) * ctx.credit_price).quantize(CENT)
    result = margin(price.credits, ctx.credit_price, cost) if cost is not None and sale_value else None
    return SheetRow(price=price, units=units, cost=cost, sale_value=sale_value, margin=result)


def sheet(
    prices: Iterable[Price], ctx: PriceContext | None = None, now: datetime | None = None
) -> list[SheetRow]:
    ctx = ctx or load_context()
    now = now or timezone.now()
    return [row(p, ctx, now) for p in prices]


def below_cost(ctx: PriceContext | None = None, now: datetime | None = None) -> list[SheetRow]:
    """Active price rows that sell for less than Kling charges for them today."""
    return [r for r in sheet(Price.objects.filter(active=True), ctx, now) if r.below_cost]


def credits_for_margin(cost: Decimal, credit_price: Decimal, target_percent: Decimal) -> int:
    """The fewest whole credits whose sale value leaves at least `target_percent` margin."""
    if not 0 <= target_percent <= MAX_TARGET_MARGIN:
        raise ValueError(f"target margin must be between 0 and {MAX_TARGET_MARGIN} %")
    if credit_price <= 0:
        raise ValueError("no credit price to reach a margin with")
    needed = cost / (credit_price * (1 - target_percent / 100))
    return max(int(needed.to_integral_value(rounding=ROUND_CEILING)), 1)


@dataclass(frozen=True)
class TargetResult:
    changed: int
    unchanged: int
    skipped: list[tuple[Price, str]]  # rows with no cost or no credit price, and why


def set_target_margin(
    prices: Iterable[Price],
    target_percent: Decimal,
    ctx: PriceContext | None = None,
    now: datetime | None = None,
) -> TargetResult:
    """Set each row's credits to the fewest that reach `target_percent` margin at today's
    pack and average credit price. Rows whose cost is unknown are left as they are."""
    ctx = ctx or load_context()
    now = now or timezone.now()
    changed = unchanged = 0
    skipped: list[tuple[Price, str]] = []
    with transaction.atomic():
        for price in prices:
            line = row(price, ctx, now)
            if line.cost is None or ctx.credit_price <= 0:
                skipped.append((price, line.why_unknown or _("no credit sold yet")))
                continue
            credits = credits_for_margin(line.cost, ctx.credit_price, target_percent)
            if credits == price.credits:
                unchanged += 1
                continue
            Price.objects.filter(pk=price.pk).update(credits=credits)
            changed += 1
    return TargetResult(changed=changed, unchanged=unchanged, skipped=skipped)
