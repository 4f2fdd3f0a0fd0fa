"""Provider cost and margin of generations, from the packs staff entered and billing's figures."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from billing import reports
from economics.costing import Margin, margin, provider_cost
from economics.models import ProductType, ResourcePack
from generations.models import IMAGE_KINDS, Generation


def product_type_of(kind: str) -> str:
    return ProductType.IMAGE if kind in IMAGE_KINDS else ProductType.VIDEO


@dataclass(frozen=True)
class PriceContext:
    packs: tuple[ResourcePack, ...]
    credit_price: Decimal  # average sale price of a credit, major units
    currency: str


def load_context() -> PriceContext:
    return PriceContext(
        packs=tuple(ResourcePack.objects.all()),
        credit_price=reports.average_credit_price(),
        currency=reports.sales_currency(),
    )


# Set for the length of an admin page, so its rows share one load of the packs.
current_context: ContextVar[PriceContext | None] = ContextVar("economics_context", default=None)


def _context() -> PriceContext:
    return current_context.get() or load_context()


def generation_cost(generation: Generation, ctx: PriceContext | None = None) -> Decimal:
    ctx = ctx or _context()
    when = generation.finished_at or generation.created_at
    return provider_cost(generation.units_charged, ctx.packs, product_type_of(generation.kind), when)


def generation_margin(generation: Generation, ctx: PriceContext | None = None) -> Margin:
    """Credits kept (charged minus refunded) at their average price, minus Kling's cost."""
    ctx = ctx or _context()
    kept = generation.cost - generation.refunded_credits
    return margin(kept, ctx.credit_price, generation_cost(generation, ctx))
