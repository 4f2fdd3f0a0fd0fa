from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


def create_schedules(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    from django_q.models import Schedule

    from kling_site.schedules import ensure_schedule

    ensure_schedule(
        "send due webhooks",
        "outbound_webhooks.tasks.send_due",
        Schedule.MINUTES,
        minutes=1,
        using=using,
    )


class OutboundWebhooksConfig(AppConfig):
    name = "outbound_webhooks"
    verbose_name = "Webhooks to developers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="outbound_webhooks.create_schedules")
