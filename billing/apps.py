from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.schedules import ensure_stripe_schedules

        post_migrate.connect(ensure_stripe_schedules, sender=self, dispatch_uid="billing.stripe_schedules")
