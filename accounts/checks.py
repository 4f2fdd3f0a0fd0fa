"""`manage.py check --deploy` warnings about account settings that would lock people out."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.core.checks import register

CONSOLE_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


@register(deploy=True)
def verification_email_can_be_delivered(app_configs=None, **kwargs) -> list[CheckWarning]:
    """Mandatory verification with mail going nowhere: every sign-up waits for an email that
    is only printed to the log, so nobody can finish signing up."""
    if settings.ACCOUNT_EMAIL_VERIFICATION != "mandatory" or settings.EMAIL_BACKEND not in CONSOLE_BACKENDS:
        return []
    return [
        CheckWarning(
            "Sign-up needs a verified address, but email is only printed to the console.",
            hint="Set EMAIL_HOST (and EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) so verification emails are sent.",
            id="accounts.W001",
        )
    ]
