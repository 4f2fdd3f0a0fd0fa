"""Kling's own account of the packs (`/account/costs`) and how long they will last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from economics.models import PackSnapshot, ProductType
from generations.models import IMAGE_KINDS, Generation
from generations.providers import get_provider
from generations.providers.base import ProviderError

BURN_DAYS = 7
# Kept long enough to reconcile a month of units against (economics.reconcile).
KEEP_SNAPSHOTS = timedelta(days=35)


def refresh() -> PackSnapshot:
    """Ask the provider for its packs and store what it said (or why it could not say)."""
    provider = get_provider()
    fetch = getattr(provider, "account_costs", None)
    if fetch is None:
        snapshot = PackSnapshot.objects.create(
            error=_("This provider has no account endpoint: enter the packs by hand to follow them.")
        )
    else:
        try:
            packs = fetch()
        except ProviderError as error:
            snapshot = PackSnapshot.objects.create(error=str(error)[:300])
        else:
            snapshot = PackSnapshot.objects.create(
                packs=[
                    {
                        "name": p.name,
                        "product_type": ProductType.IMAGE if "image" in p.name.lower() else ProductType.VIDEO,
                        "remaining": p.remaining,
                        "total": p.total,
                        "status": p.status,
                        "expires_at": p.expires_at.isoformat() if p.expires_at else None,
                    }
                    for p in packs
                ]
            )
    PackSnapshot.objects.filter(fetched_at__lt=timezone.now() - KEEP_SNAPSHOTS).delete()
    return snapshot


@dataclass(frozen=True)
class Outlook:
    product_type: str
    remaining: Decimal
    burn_per_day: Decimal
    days_left: Decimal | None  # None: nothing burnt lately
    next_expiry: datetime | None
    low: bool


def outlook(snapshot: PackSnapshot | None, now: datetime | None = None) -> list[Outlook]:
    """Per product type: units left in online packs, the last week's burn rate, days left."""
    if snapshot is None or not snapshot.packs:
        return []
    now = now or timezone.now()
    images = Q(kind__in=IMAGE_KINDS)
    burnt = Generation.objects.filter(finished_at__gte=now - timedelta(days=BURN_DAYS)).aggregate(
        image=Sum("units_charged", filter=images), video=Sum("units_charged", filter=~images)
    )
    low_days = Decimal(settings.ECONOMICS_LOW_PACK_DAYS)
    result = []
    for product_type in (ProductType.VIDEO, ProductType.IMAGE):
        online = [p for p in snapshot.packs if p["product_type"] == product_type and p["status"] == "online"]
        if not online and not any(p["product_type"] == product_type for p in snapshot.packs):
            continue
        remaining = sum((Decimal(str(p["remaining"])) for p in online), Decimal("0"))
        per_day = (Decimal(burnt[product_type] or 0) / BURN_DAYS).quantize(Decimal("0.001"))
        days_left = (remaining / per_day).quantize(Decimal("0.1")) if per_day else None
        expiries = [datetime.fromisoformat(p["expires_at"]) for p in online if p["expires_at"]]
        result.append(
            Outlook(
                product_type=product_type,
                remaining=remaining,
                burn_per_day=per_day,
                days_left=days_left,
                next_expiry=min(expiries, default=None),
                low=remaining <= 0 or (days_left is not None and days_left < low_days),
            )
        )
    return result
