from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate

CHECK_LEDGER_SCHEDULE = "billing.check_ledger"


def create_schedules(sender, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs) -> None:
    """Create the reconciliation schedule, by name, so running migrate again changes nothing.

    `flush` (transactional tests) sends post_migrate without `apps`: use the live registry.
    """
    from django_q.models import Schedule

    try:
        historical = apps.get_model("django_q", "Schedule")
    except LookupError:  # django_q not migrated in this plan
        return
    historical.objects.using(using).update_or_create(
        name=CHECK_LEDGER_SCHEDULE,
        defaults={"func": "billing.tasks.check_ledger", "schedule_type": Schedule.HOURLY, "repeats": -1},
    )


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed, user_signed_up

        from billing import signup

        user_signed_up.connect(signup.on_user_signed_up, dispatch_uid="billing.welcome_on_signup")
        email_confirmed.connect(signup.on_email_confirmed, dispatch_uid="billing.welcome_on_confirm")
        post_migrate.connect(create_schedules, sender=self, dispatch_uid="billing.create_schedules")
