"""Who hears about which generation: webhook URLs, their checks, and each person's secret.

A URL is refused when it could make our server talk to our own network (SSRF): anything
but http(s), credentials in it, a host that is or resolves to a loopback, private,
link-local or otherwise reserved address, or (in production) plain http. The same check
runs again on the socket when each event is sent (kling_site.safe_http), because a name
can resolve differently later.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.models import Generation
from kling_site import safe_http

from .models import Delivery, Endpoint

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix, not a secret)
MAX_URL_LENGTH = 500


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


def allows_private_hosts() -> bool:
    """Demo mode may send to the developer's own machine; production never does."""
    return settings.DEBUG and settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE


def _private_url() -> str:
    return _("This URL points at a private network; give a public address.")


def check_webhook_url(url: str) -> str:
    """The URL, stripped, if events may be sent to it; ValidationError saying why not."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            _("Use a URL of at most %(count)d characters.") % {"count": MAX_URL_LENGTH}, code="too_long"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(_("This is not a valid URL."), code="invalid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Give a full URL starting with https://."), code="invalid")
    if parts.scheme == "http" and not settings.DEBUG:
        raise ValidationError(_("Use an https:// URL: events carry your data."), code="https_required")
    if parts.username or parts.password:
        raise ValidationError(
            _("Leave user names and passwords out of the URL; verify our signature instead."),
            code="credentials",
        )
    if allows_private_hosts():
        return url
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise ValidationError(_private_url(), code="private")
    try:
        safe_http.public_addresses(host, port)
    except safe_http.PrivateAddress:
        raise ValidationError(_private_url(), code="private") from None
    except OSError:
        raise ValidationError(
            _("We could not find the host %(host)s.") % {"host": host}, code="unresolvable"
        ) from None
    return url


def endpoint_for(user) -> Endpoint:
    """The person's endpoint, made (with a fresh secret) the first time it is needed."""
    endpoint, _created = Endpoint.objects.get_or_create(owner=user, defaults={"secret": new_secret()})
    return endpoint


def set_default_url(user, url: str) -> Endpoint:
    """Save (or clear, with "") the URL events go to when a request names none."""
    url = check_webhook_url(url) if url else ""
    endpoint = endpoint_for(user)
    Endpoint.objects.filter(pk=endpoint.pk).update(url=url)
    endpoint.url = url
    return endpoint


def rotate_secret(user) -> Endpoint:
    """A new signing secret for events not yet sent; the old one stops at once."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_for(user).pk)
        endpoint.secret = new_secret()
        endpoint.rotated_at = timezone.now()
        endpoint.save(update_fields=["secret", "rotated_at"])
        Delivery.objects.filter(
            owner=user, status__in=(Delivery.Status.WAITING, Delivery.Status.PENDING)
        ).update(secret=endpoint.secret)
    return endpoint


def subscribe(generation: Generation, url: str | None) -> Delivery | None:
    """Promise an event when `generation` finishes: to `url` (already checked), else to the
    owner's default URL; None when there is neither. Call inside the creating transaction."""
    endpoint = endpoint_for(generation.owner)
    target = url or endpoint.url
    if not target:
        return None
    return Delivery.objects.create(
        owner=generation.owner,
        generation=generation,
        event_id=new_event_id(),
        url=target,
        secret=endpoint.secret,
    )


def forget_owner(user) -> int:
    """Erasure: the person's webhook URLs, secret and every event (bodies hold prompts)."""
    Endpoint.objects.filter(owner=user).delete()
    deleted, _by_model = Delivery.objects.filter(owner=user).delete()
    return deleted
