"""Rows for the economics tests: packs, purchases, generations."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from billing import ledger
from billing.models import Purchase
from economics.models import ResourcePack
from generations.models import Generation


def pack(
    when: datetime, *, units="100", price="14.00", product_type="video", days=30, name="Video-100"
) -> ResourcePack:
    return ResourcePack.objects.create(
        name=name,
        product_type=product_type,
        units=Decimal(units),
        price_paid=Decimal(price),
        purchased_at=when,
        expires_at=when + timedelta(days=days),
    )


def purchase(user, when: datetime, *, credits=100, amount_minor=1000, refunded_minor=0) -> Purchase:
    bought = Purchase.objects.create(
        user=user,
        pack_name="Starter",
        credits=credits,
        amount_minor=amount_minor,
        currency="usd",
        status=Purchase.Status.PAID,
        paid_at=when,
        created_at=when,
        amount_refunded_minor=refunded_minor,
        stripe_session_id=f"cs_{user.pk}_{when.timestamp()}_{credits}",
    )
    ledger.credit_purchase(user, credits, key=f"checkout:{bought.stripe_session_id}", purchase=bought)
    return bought


def generation(user, when: datetime, *, cost=10, units="2.5", status="succeeded", kind="text2video", **extra):
    gen = Generation.objects.create(
        owner=user,
        kind=kind,
        provider="simulator",
        model_name=extra.pop("model_name", "kling-v2-6"),
        mode=extra.pop("mode", "std"),
        duration=extra.pop("duration", 5),
        cost=cost,
        status=status,
        units_charged=Decimal(units) if units is not None else None,
        created_at=when,
        finished_at=when,
        **extra,
    )
    ledger.charge(user, cost, key=f"gen:{gen.pk}:charge", generation=gen)
    if status == "failed":
        ledger.refund(user, cost, key=f"gen:{gen.pk}:refund", generation=gen)
    return gen
