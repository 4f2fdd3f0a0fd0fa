from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate

PACK_BALANCE_SCHEDULE = "economics: Kling pack balance"
PACK_BALANCE_MINUTES = 15


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


class EconomicsConfig(AppConfig):
    name = "economics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Economics"

    def ready(self) -> None:
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="economics.create_schedules")
