"""Welcome credits: granted once per person, when they have proved their email address.

In demo mode (email verification optional) that is at sign-up; in production (mandatory
verification) it is when they confirm the address, so a throwaway address earns nothing.
Both allauth signals call the same function, and the key `welcome:<user id>` makes it
happen once however often either fires (an extra address confirmed later, a redelivery).
"""

from __future__ import annotations

from allauth.account import app_settings as allauth_settings
from django.conf import settings

from billing import ledger


def grant_welcome_credits(user) -> None:
    if settings.WELCOME_CREDITS <= 0:
        return
    ledger.grant(user, settings.WELCOME_CREDITS, key=f"welcome:{user.pk}", memo="Welcome credits")


def on_user_signed_up(sender, request, user, **kwargs) -> None:
    if allauth_settings.EMAIL_VERIFICATION != allauth_settings.EmailVerificationMethod.MANDATORY:
        grant_welcome_credits(user)


def on_email_confirmed(sender, request, email_address, **kwargs) -> None:
    grant_welcome_credits(email_address.user)
