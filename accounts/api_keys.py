"""Personal API keys: create, list, revoke, and tell whether a presented key may be used.

The key is `ks_live_` + djangorestframework-api-key's `<prefix>.<secret>`; the library
stores the prefix (to find the row) and a SHA-512 of the rest. The recognisable
`ks_live_` start lets people and secret scanners tell our keys apart from others.

A key works only while its owner can use the site: a revoked key, a deactivated or
erased person, and a frozen credit account (an open dispute) all stop it at once, because
each request reads the key, its owner and the account together (`key_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PersonalAPIKey, User

KEY_PREFIX = "ks_live_"
MAX_KEYS_PER_USER = 20
NAME_MAX_LENGTH = PersonalAPIKey._meta.get_field("name").max_length
# last_used_at is for people ("used 3 minutes ago"), so a write a minute per key is enough.
TOUCH_EVERY = timedelta(minutes=1)


class KeyRefused(Exception):
    """A key was presented but may not be used. `code` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def display_prefix(key: PersonalAPIKey) -> str:
    """What people see of a key once it is created: enough to tell their keys apart."""
    return f"{KEY_PREFIX}{key.prefix}"


def keys_of(user: User):
    """The person's keys that still work, newest first."""
    return PersonalAPIKey.objects.filter(user=user, revoked=False).order_by("-created")


def create_key(user: User, name: str) -> tuple[PersonalAPIKey, str]:
    """A new key named `name`; returns the row and the full key, which is never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the key a name, such as the app that will use it.")]})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": [_("A key's name has at most %(count)d characters.") % {"count": NAME_MAX_LENGTH}]}
        )
    if keys_of(user).count() >= MAX_KEYS_PER_USER:
        raise ValidationError(
            {
                "name": [
                    _("You have %(count)d keys, the most at once. Revoke one you no longer use.")
                    % {"count": MAX_KEYS_PER_USER}
                ]
            }
        )
    key, secret = PersonalAPIKey.objects.create_key(user=user, name=name)
    return key, KEY_PREFIX + secret


def revoke_key(user: User, key_id: str) -> bool:
    """Revoke one of the person's keys for good. False when it is not theirs (or gone)."""
    return bool(PersonalAPIKey.objects.filter(user=user, pk=key_id, revoked=False).update(revoked=True))


def revoke_all(user: User) -> int:
    return PersonalAPIKey.objects.filter(user=user, revoked=False).update(revoked=True)


@dataclass(frozen=True)
class Presented:
    key: PersonalAPIKey
    user: User


def key_for(raw: str) -> Presented | None:
    """The key a request presented, with its owner; None when no such key works.

    Raises KeyRefused when the key is real but its owner may not use it now: deactivated
    or erased (`authentication_failed`) or a frozen credit account (`account_frozen`)."""
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    try:
        key = PersonalAPIKey.objects.get_from_key(raw[len(KEY_PREFIX) :])
    except PersonalAPIKey.DoesNotExist:
        return None
    if key.has_expired:
        return None
    user = key.user
    if not user.is_active or user.erased_at is not None:
        raise KeyRefused("authentication_failed", _("This key's account is closed."))
    if account_frozen(user):
        raise KeyRefused(
            "account_frozen", _("Spending is paused on this account, so its API keys do not work.")
        )
    touch(key)
    return Presented(key=key, user=user)


def account_frozen(user: User) -> bool:
    """Whether the person's credit account is frozen (uses the account loaded with the key)."""
    try:
        account = user.credit_account
    except User.credit_account.RelatedObjectDoesNotExist:
        return False
    return account.is_frozen


def touch(key: PersonalAPIKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return
    # Conditional, so a burst of requests on one key writes once.
    PersonalAPIKey.objects.filter(pk=key.pk).exclude(last_used_at__gte=now - TOUCH_EVERY).update(
        last_used_at=now
    )
    key.last_used_at = now
