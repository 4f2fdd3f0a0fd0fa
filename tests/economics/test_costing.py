"""Provider cost per generation from the packs, oldest valid pack first, in exact Decimals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from economics.costing import margin, pack_in_use, provider_cost
from economics.models import ResourcePack

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Pack:
    product_type: str
    units: Decimal
    price_paid: Decimal
    purchased_at: datetime
    expires_at: datetime
    exhausted_at: datetime | None = None


OLD = Pack("video", Decimal("100"), Decimal("14.00"), T0, T0 + timedelta(days=30))  # 0.14 a unit
NEW = Pack(
    "video", Decimal("1000"), Decimal("100.00"), T0 + timedelta(days=5), T0 + timedelta(days=90)
)  # 0.10
IMAGES = Pack("image", Decimal("1000"), Decimal("3.50"), T0, T0 + timedelta(days=90))  # 0.0035


def test_it_takes_the_oldest_valid_pack_first():
    assert pack_in_use([NEW, OLD, IMAGES], "video", T0 + timedelta(days=10)) is OLD
    assert provider_cost(Decimal("2.5"), [NEW, OLD], "video", T0 + timedelta(days=10)) == Decimal("0.3500")


def test_it_moves_to_the_next_pack_when_the_oldest_expires_or_runs_out():
    assert provider_cost(Decimal("2.5"), [NEW, OLD], "video", T0 + timedelta(days=31)) == Decimal("0.2500")
    ran_out = Pack(**{**OLD.__dict__, "exhausted_at": T0 + timedelta(days=6)})
    assert pack_in_use([NEW, ran_out], "video", T0 + timedelta(days=7)) is NEW


def test_it_prices_pictures_from_image_packs():
    assert provider_cost(Decimal("16"), [OLD, IMAGES], "image", T0) == Decimal("0.0560")


def test_it_costs_nothing_when_kling_billed_nothing_or_no_pack_covers_it():
    assert provider_cost(None, [OLD], "video", T0) == 0
    assert provider_cost(Decimal("0"), [OLD], "video", T0) == 0
    assert provider_cost(Decimal("2"), [OLD], "video", T0 - timedelta(days=1)) == 0


def test_it_computes_margin_exactly():
    # 10 credits at $0.10 each, 2.5 units at $0.14: $1.00 - $0.35.
    result = margin(10, Decimal("0.1"), Decimal("0.35"))
    assert (result.revenue, result.cost, result.margin, result.percent) == (
        Decimal("1.0000"),
        Decimal("0.35"),
        Decimal("0.6500"),
        Decimal("65.0"),
    )


def test_a_billed_failure_is_a_loss():
    result = margin(0, Decimal("0.1"), Decimal("0.35"))
    assert result.margin == Decimal("-0.35") and result.percent is None


@pytest.mark.parametrize(
    ("field", "value"), [("units", Decimal("0")), ("price_paid", Decimal("-1")), ("expires_at", T0)]
)
def test_it_refuses_packs_with_nonsense(field, value):
    row = ResourcePack(
        name="x",
        units=Decimal("10"),
        price_paid=Decimal("1"),
        purchased_at=T0,
        expires_at=T0 + timedelta(days=1),
    )
    setattr(row, field, value)
    with pytest.raises(ValidationError) as caught:
        row.clean()
    assert field in caught.value.message_dict
