"""Conditions staff must hear about, emailed once per condition and shown in admin.

Checked after every pack refresh (every 15 minutes): a pack running low (days or units),
a pack with units left about to expire, a price row sold below cost, and an unusual refund
rate in the last hour. A condition still true at the next check sends nothing new.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from economics import balance, price_sheet
from economics.models import Alert, PackSnapshot
from generations.models import Generation, Status
from kling_site.links import absolute_url

logger = logging.getLogger(__name__)

# An hour's refund rate is unusual from this many generations, at this rate or more, and
# at least twice the rate of the week before (a model with a steady 30 % failure rate
# should not page anyone every hour).
REFUND_MIN_STARTED = 10
REFUND_MIN_PERCENT = Decimal("20")
REFUND_BASELINE_FACTOR = 2


def _pack_conditions(now: datetime) -> dict[str, str]:
    snapshot = PackSnapshot.objects.first()
    found = {}
    low_units = Decimal(settings.ECONOMICS_LOW_PACK_UNITS)
    for o in balance.outlook(snapshot, now):
        if o.low or o.remaining < low_units:
            days = _("%(days)s days left") % {"days": o.days_left} if o.days_left is not None else ""
            found[f"pack_low:{o.product_type}"] = _(
                "The Kling %(kind)s pack is running low: %(units)s units left%(days)s."
            ) % {"kind": o.product_type, "units": o.remaining, "days": f", {days}" if days else ""}
    soon = now + timedelta(days=settings.ECONOMICS_LOW_PACK_DAYS)
    for p in snapshot.packs if snapshot else []:
        expires = datetime.fromisoformat(p["expires_at"]) if p.get("expires_at") else None
        if p["status"] == "online" and p["remaining"] > 0 and expires and now <= expires < soon:
            found[f"pack_expiring:{p['name']}"] = _(
                "The Kling pack %(name)s expires on %(date)s with %(units)s units unused."
            ) % {"name": p["name"], "date": f"{expires:%Y-%m-%d}", "units": p["remaining"]}
    return found


def _price_conditions(now: datetime) -> dict[str, str]:
    return {
        f"below_cost:{r.price.pk}": _("%(price)s sells below Kling's cost (margin %(percent)s %%).")
        % {"price": r.price, "percent": r.margin.percent}
        for r in price_sheet.below_cost(now=now)
    }


def _refund_condition(now: datetime) -> dict[str, str]:
    def rate(start: datetime, end: datetime) -> tuple[int, Decimal | None]:
        row = Generation.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
            started=Count("id"), failed=Count("id", filter=Q(status=Status.FAILED))
        )
        if not row["started"]:
            return 0, None
        return row["started"], Decimal(row["failed"] * 100) / row["started"]

    started, last_hour = rate(now - timedelta(hours=1), now)
    _week, baseline = rate(now - timedelta(days=7, hours=1), now - timedelta(hours=1))
    if started < REFUND_MIN_STARTED or last_hour is None or last_hour < REFUND_MIN_PERCENT:
        return {}
    if baseline is not None and last_hour < baseline * REFUND_BASELINE_FACTOR:
        return {}
    return {
        "refund_rate": _(
            "%(percent)s %% of the last hour's %(started)s generations failed and were refunded "
            "(%(baseline)s %% over the week before)."
        )
        % {
            "percent": last_hour.quantize(Decimal("0.1")),
            "started": started,
            "baseline": baseline.quantize(Decimal("0.1")) if baseline is not None else "—",
        }
    }


def conditions(now: datetime | None = None) -> dict[str, str]:
    """{key: message} of every condition true now."""
    now = now or timezone.now()
    return {**_pack_conditions(now), **_price_conditions(now), **_refund_condition(now)}


def recipients() -> list[str]:
    """Active staff who may see the dashboard (superusers included)."""
    perm = Permission.objects.filter(codename="view_dashboard", content_type__app_label="economics").first()
    who = Q(is_superuser=True)
    if perm is not None:
        who |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    users = get_user_model().objects.filter(who, is_active=True, is_staff=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def check(now: datetime | None = None) -> list[Alert]:
    """Open an alert for each new condition, close those gone, email the new ones once."""
    now = now or timezone.now()
    found = conditions(now)
    Alert.objects.filter(cleared_at__isnull=True).exclude(key__in=found).update(cleared_at=now)
    open_keys = set(Alert.objects.filter(cleared_at__isnull=True).values_list("key", flat=True))
    for key, message in found.items():
        if key in open_keys:
            continue
        try:
            with transaction.atomic():
                Alert.objects.create(key=key, message=message[:300], raised_at=now)
        except IntegrityError:
            pass  # a check running at the same time opened it first
    return email_pending(now)


def email_pending(now: datetime | None = None) -> list[Alert]:
    """Email open alerts no one was told about yet, in one message.

    Each row is claimed with a conditional UPDATE so two workers never send it twice; a
    failed send gives the claim back, and the next check tries again.
    """
    now = now or timezone.now()
    claimed = []
    for alert in Alert.objects.filter(cleared_at__isnull=True, emailed_at__isnull=True).order_by(
        "raised_at", "id"
    ):
        if Alert.objects.filter(pk=alert.pk, emailed_at__isnull=True).update(emailed_at=now) == 1:
            claimed.append(alert)
    to = recipients()
    if not claimed or not to:
        Alert.objects.filter(pk__in=[a.pk for a in claimed]).update(emailed_at=None)
        return []
    lines = [f"- {a.message}" for a in claimed]
    body = "\n".join(
        [_("The economics dashboard needs a look:"), "", *lines, "", absolute_url("economics:dashboard")]
    )
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + _("Economics: %(count)d new alert(s)") % {
        "count": len(claimed)
    }
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:
        logger.exception("economics alerts: the email could not be sent; trying again at the next check")
        Alert.objects.filter(pk__in=[a.pk for a in claimed]).update(emailed_at=None)
        return []
    return claimed


def open_alerts() -> list[Alert]:
    return list(Alert.objects.filter(cleared_at__isnull=True).order_by("raised_at", "id"))
