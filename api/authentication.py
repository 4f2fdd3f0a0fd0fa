"""Personal API keys for DRF: `Authorization: Bearer ks_live_...` (or `Api-Key ks_live_...`,
the keyword djangorestframework-api-key uses; the library gives permission classes only, so
this authentication class is ours, and it reads the key through accounts.api_keys)."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import authentication, exceptions, permissions

from accounts import api_keys
from accounts.models import PersonalAPIKey
from billing.models import CreditAccount

KEYWORDS = ("bearer", "api-key")


class AccountFrozen(exceptions.PermissionDenied):
    default_code = "account_frozen"
    default_detail = gettext_lazy("Spending is paused on this account, so its API keys do not work.")


class APIKeyAuthentication(authentication.BaseAuthentication):
    """`request.user` is the key's owner and `request.auth` the PersonalAPIKey row."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _sep, raw = header.partition(" ")
        if keyword.lower() not in KEYWORDS:
            return None  # not ours: session authentication may still apply
        if not raw.strip():
            raise exceptions.AuthenticationFailed(_("The Authorization header has no key after its keyword."))
        try:
            presented = api_keys.key_for(raw)
        except api_keys.KeyRefused as exc:
            if exc.code == "account_frozen":
                raise AccountFrozen(str(exc)) from None
            raise exceptions.AuthenticationFailed(str(exc)) from None
        if presented is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        _speak_owner_language(request, presented.user)
        return presented.user, presented.key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when no credentials came.
        return 'Bearer realm="api"'


def _speak_owner_language(request, user) -> None:
    """A key's answers follow the request's Accept-Language when it sends one, else the
    language saved on the owner's profile (the middleware ran before the key was read)."""
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return
    saved = getattr(user, "language", "")
    if saved and translation.check_for_language(saved):
        translation.activate(saved)


class AccountUsable(permissions.BasePermission):
    """Signed in, and the credit account is not frozen (a key of a frozen account is
    refused by APIKeyAuthentication already; this covers the browser's session too)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if (
            not isinstance(request.auth, PersonalAPIKey)
            and CreditAccount.objects.filter(user=request.user, is_frozen=True).exists()
        ):
            raise AccountFrozen()
        return True
