"""Pure arithmetic of provider cost and margin (no database, Decimal only).

Kling draws units from the oldest pack still valid, as it consumes them: a pack is in use
from its purchase until it expires or runs out, and the oldest such pack pays for a job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

ZERO = Decimal("0")
CENT = Decimal("0.0001")


class PackLike(Protocol):
    product_type: str
    units: Decimal
    price_paid: Decimal
    purchased_at: datetime
    expires_at: datetime
    exhausted_at: datetime | None


def is_valid_at(pack: PackLike, when: datetime) -> bool:
    end = min(pack.expires_at, pack.exhausted_at) if pack.exhausted_at else pack.expires_at
    return pack.purchased_at <= when < end


def pack_in_use(packs: Iterable[PackLike], product_type: str, when: datetime) -> PackLike | None:
    """The oldest pack of this product type valid at `when` (None: no pack covers it)."""
    valid = [p for p in packs if p.product_type == product_type and is_valid_at(p, when)]
    return min(valid, key=lambda p: p.purchased_at, default=None)


def unit_cost(pack: PackLike | None) -> Decimal:
    if pack is None or pack.units <= 0:
        return ZERO
    return pack.price_paid / pack.units


def provider_cost(
    units: Decimal | None, packs: Iterable[PackLike], product_type: str, when: datetime
) -> Decimal:
    """What Kling's units for one job cost us; a job Kling did not bill (units None or 0) costs 0."""
    if not units:
        return ZERO
    return (Decimal(units) * unit_cost(pack_in_use(packs, product_type, when))).quantize(CENT)


@dataclass(frozen=True)
class Margin:
    revenue: Decimal  # credits kept, at their average sale price
    cost: Decimal
    margin: Decimal

    @property
    def percent(self) -> Decimal | None:
        if not self.revenue:
            return None
        return (self.margin * 100 / self.revenue).quantize(Decimal("0.1"))


def margin(credits_kept: int, credit_price: Decimal, cost: Decimal) -> Margin:
    """Credits charged and not refunded, at the average sale price, minus provider cost.

    A failed job is refunded, so it keeps no credits: its margin is minus whatever Kling
    billed for it (nothing, usually; a loss when Kling billed it anyway).
    """
    revenue = (Decimal(credits_kept) * credit_price).quantize(CENT)
    return Margin(revenue=revenue, cost=cost, margin=revenue - cost)
