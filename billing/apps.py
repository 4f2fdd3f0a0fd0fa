from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed, user_signed_up

        from billing import signup
        from billing.schedules import ensure_schedules

        user_signed_up.connect(signup.on_user_signed_up, dispatch_uid="billing.welcome_on_signup")
        email_confirmed.connect(signup.on_email_confirmed, dispatch_uid="billing.welcome_on_confirm")
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="billing.schedules")
