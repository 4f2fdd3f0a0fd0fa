from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate

POLL_SWEEP_SCHEDULE = "generations: poll sweep"


def create_schedules(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Create (or correct) our django-q2 schedules by name: running migrate again never adds
    a duplicate, and an operator's pause (repeats=0) survives it."""
    from django_q.models import Schedule

    Schedule.objects.using(using).update_or_create(
        name=POLL_SWEEP_SCHEDULE,
        defaults={"func": "generations.tasks.poll_sweep", "schedule_type": Schedule.MINUTES, "minutes": 1},
        create_defaults={
            "func": "generations.tasks.poll_sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


class GenerationsConfig(AppConfig):
    name = "generations"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Generations"

    def ready(self) -> None:
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="generations.create_schedules")
