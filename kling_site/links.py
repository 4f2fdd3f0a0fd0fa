"""Absolute links to our own pages, for places with no request: emails, provider callbacks,
Stripe's redirects and webhooks.

`SITE_URL` is the public base (scheme, host and any path prefix, no final slash); the
path always comes from the URLconf, never written out.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import resolve_url


def absolute_url(to, *args, **kwargs) -> str:
    """`SITE_URL` + the path of `to`: a URL name (with its arguments), a model with
    `get_absolute_url()`, or a path already reversed."""
    return settings.SITE_URL + resolve_url(to, *args, **kwargs)
