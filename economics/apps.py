from datetime import datetime, timedelta

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.utils import timezone

PACK_BALANCE_SCHEDULE = "economics: Kling pack balance"
PACK_BALANCE_MINUTES = 15
RECONCILE_SCHEDULE = "economics: reconcile Kling units"
RECONCILE_HOUR = 3  # local time: a quiet hour
ROLLUP_SCHEDULE = "economics: daily rollups"
ROLLUP_MINUTES = 30


def create_schedules(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    from django_q.models import Schedule

    from kling_site.schedules import ensure_schedule

    ensure_schedule(
        PACK_BALANCE_SCHEDULE,
        "economics.tasks.refresh_pack_balance",
        Schedule.MINUTES,
        minutes=PACK_BALANCE_MINUTES,
        using=using,
    )
    ensure_schedule(
        ROLLUP_SCHEDULE, "economics.tasks.roll_up_days", Schedule.MINUTES, minutes=ROLLUP_MINUTES, using=using
    )
    ensure_schedule(
        RECONCILE_SCHEDULE,
        "economics.tasks.reconcile_units",
        Schedule.DAILY,
        first_run=_next_night(),
        using=using,
    )


def _next_night() -> datetime:
    now = timezone.localtime()
    night = now.replace(hour=RECONCILE_HOUR, minute=0, second=0, microsecond=0)
    return night if night > now else night + timedelta(days=1)


class EconomicsConfig(AppConfig):
    name = "economics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Economics"

    def ready(self) -> None:
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="economics.create_schedules")
