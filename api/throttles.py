"""Requests per minute per API key (a signed-in browser without a key counts per person).

Rates come from settings (API_RATE_PER_MINUTE, API_CREATE_RATE_PER_MINUTE) when a
request is checked, so tests and operators change them without a restart of the class
definitions; 0 switches a limit off. Counts live in the default cache, which is Redis in
production and therefore shared by every web process. DRF answers 429 with Retry-After.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import PersonalAPIKey


class _PerKeyThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        per_minute = getattr(settings, self.setting)
        return f"{per_minute}/min" if per_minute else None

    def allow_request(self, request, view) -> bool:
        # DRF reads the rate once, in __init__; read it per request instead.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, PersonalAPIKey):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class APIRateThrottle(_PerKeyThrottle):
    """Every API request."""

    scope = "api"
    setting = "API_RATE_PER_MINUTE"


class CreateRateThrottle(_PerKeyThrottle):
    """Requests that create generations (and may spend credits)."""

    scope = "api_create"
    setting = "API_CREATE_RATE_PER_MINUTE"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)
