"""Welcome credits: granted once per person, when they have proved their email address.

In demo mode (email verification optional) that is at sign-up; in production (mandatory
verification) it is when they confirm the address, so a throwaway address earns nothing.
Both allauth signals call the same function, and the key `welcome:<user id>` makes it
happen once however often either fires (an extra address confirmed later, a redelivery);
a `WelcomeGrant` row per mailbox makes it once per mailbox across accounts.
"""

from __future__ import annotations

from allauth.account import app_settings as allauth_settings
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.emails import mailbox_digest
from billing import ledger
from billing.models import WelcomeGrant


def grant_welcome_credits(user) -> None:
    """Once per person and once per mailbox (see accounts.emails): the first account of a
    mailbox gets them, a second account with `name+2@` of the same mailbox does not."""
    if settings.WELCOME_CREDITS <= 0:
        return
    mailbox = mailbox_digest(user.email)
    with transaction.atomic():
        grant, _ = WelcomeGrant.objects.get_or_create(mailbox=mailbox, defaults={"user": user})
        if grant.user_id != user.pk:
            return
        ledger.grant(
            user, settings.WELCOME_CREDITS, key=f"welcome:{user.pk}", memo=gettext_noop("Welcome credits")
        )


def on_user_signed_up(sender, request, user, **kwargs) -> None:
    if allauth_settings.EMAIL_VERIFICATION != allauth_settings.EmailVerificationMethod.MANDATORY:
        grant_welcome_credits(user)


def on_email_confirmed(sender, request, email_address, **kwargs) -> None:
    grant_welcome_credits(email_address.user)
