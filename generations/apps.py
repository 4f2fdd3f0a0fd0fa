from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate

POLL_SWEEP_SCHEDULE = "generations: poll sweep"
ESTIMATES_SCHEDULE = "generations: time estimates"


def create_schedules(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    from django_q.models import Schedule

    from generations.services import ESTIMATE_REFRESH_MINUTES
    from kling_site.schedules import ensure_schedule

    ensure_schedule(
        POLL_SWEEP_SCHEDULE, "generations.tasks.poll_sweep", Schedule.MINUTES, minutes=1, using=using
    )
    ensure_schedule(
        ESTIMATES_SCHEDULE,
        "generations.tasks.refresh_estimates",
        Schedule.MINUTES,
        minutes=ESTIMATE_REFRESH_MINUTES,
        using=using,
    )


class GenerationsConfig(AppConfig):
    name = "generations"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Generations"

    def ready(self) -> None:
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="generations.create_schedules")
