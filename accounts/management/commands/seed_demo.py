from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "demo-admin-password"  # noqa: S105 (demo mode only, printed to the console)


class Command(BaseCommand):
    help = "Create the demo admin (demo mode only). Safe to run repeatedly."

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_MODE:
            raise CommandError(
                "seed_demo only runs in demo mode (DJANGO_DEBUG=1): production has no demo admin"
            )
        user, created = User.objects.get_or_create(
            email=DEMO_ADMIN_EMAIL,
            defaults={"is_staff": True, "is_superuser": True, "display_name": "Demo admin"},
        )
        if created:
            user.set_password(DEMO_ADMIN_PASSWORD)
            user.save(update_fields=["password"])
        # A verified primary address, so the admin can also log in on the site itself
        # when verification is mandatory.
        EmailAddress.objects.update_or_create(
            user=user, email=DEMO_ADMIN_EMAIL, defaults={"verified": True, "primary": True}
        )
        self.stdout.write("")
        self.stdout.write(
            f"  Demo admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}  (http://127.0.0.1:8000/admin/)"
        )
