from __future__ import annotations

import ipaddress

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Replace
from django.http import HttpRequest

from accounts.emails import GMAIL_DOMAINS, normalize_email
from kling_site import outbound, rate_limits

SIGNUP_LIMITED_MESSAGE = "Too many accounts were created from your network recently. Please try again later."


class AccountAdapter(DefaultAccountAdapter):
    """Hooks for account side effects. Welcome credits are granted in billing (see billing.signup).

    One account per mailbox: allauth refuses an address that is taken as written, this
    adapter also finds it taken under another spelling of the same mailbox (see
    accounts.emails). The sign-up and add-address forms (accounts.forms) ask
    `mailbox_in_use` and then treat the hit exactly as allauth treats the address itself,
    so enumeration prevention hides it where it hides an exact match; `confirm_email`
    refuses to verify a spelling another account has verified, as allauth does for the
    address itself.
    """

    def mailbox_in_use(self, email: str, *, exclude_user=None, verified_only: bool = False) -> str | None:
        """An address, as stored, of another account that reaches the same mailbox as `email`.

        Nothing new is stored for this: a column of normalised addresses would go stale
        whenever EMAIL_PLUS_TAG_DOMAINS changes and would need a backfill. Instead one
        query per table narrows the rows in the database to those that end with one of the
        mailbox's domains and whose lower-cased, dot-free form starts with the dot-free
        normalised local part (every spelling of a mailbox does, whatever its case, dots or
        +tag); only those few candidates are normalised here to confirm. The database still
        reads the table, but sends back a handful of rows, never the whole table.
        """
        target = normalize_email(email)
        if "@" not in target:
            return None
        addresses = EmailAddress.objects.all()
        if verified_only:
            addresses = addresses.filter(verified=True)
        users = get_user_model().objects.none() if verified_only else get_user_model().objects.all()
        if exclude_user is not None:
            addresses = addresses.exclude(user=exclude_user)
            users = users.exclude(pk=exclude_user.pk)
        for queryset in (addresses, users):
            for candidate in _spellings_of(queryset, target):
                if normalize_email(candidate) == target:
                    return candidate
        return None

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # As allauth's own, but the SMTP conversation may not take the request's last
        # free thread (kling_site.outbound): then a worker sends the rendered message.
        request = allauth_context.request
        message = self.render_mail(
            template_prefix,
            email,
            {"request": request, "email": email, "current_site": get_current_site(request), **context},
        )
        outbound.send_or_queue(message)

    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        if self.mailbox_in_use(email_address.email, exclude_user=email_address.user, verified_only=True):
            self.add_message(
                request,
                messages.ERROR,
                "account/messages/email_confirmation_failed.txt",
                {"email": email_address.email},
            )
            return False
        return super().confirm_email(request, email_address)

    def allow_signup_from(self, request: HttpRequest) -> bool:
        """Count one sign-up from the client's address and from its network; False once
        either is over its limit (SIGNUP_LIMIT_PER_IP, SIGNUP_LIMIT_PER_NETWORK).

        The client address is allauth's, so TRUSTED_PROXY_COUNT applies here as it does to
        allauth's own limits."""
        host, network = _signup_sources(self.get_client_ip(request))
        per_ip, ip_window = settings.SIGNUP_LIMIT_PER_IP
        per_network, network_window = settings.SIGNUP_LIMIT_PER_NETWORK
        return rate_limits.allow(
            "signup-ip", host, limit=per_ip, per_seconds=ip_window
        ) and rate_limits.allow("signup-net", network, limit=per_network, per_seconds=network_window)


def _spellings_of(queryset: QuerySet, target: str) -> list[str]:
    local, _, domain = target.rpartition("@")
    domains = GMAIL_DOMAINS if domain in GMAIL_DOMAINS else (domain,)
    ends_with_domain = Q()
    for name in domains:
        ends_with_domain |= Q(email__iendswith=f"@{name}")
    return list(
        queryset.annotate(_dotless=Replace(Lower("email"), Value("."), Value("")))
        .filter(ends_with_domain, _dotless__startswith=local.replace(".", ""))
        .values_list("email", flat=True)
    )


def _signup_sources(ip: str) -> tuple[str, str]:
    """The client's address and its network, as rate-limit keys. An IPv6 host usually
    holds a whole /64, so that counts as one address, and the /48 around it as its network;
    an IPv4 address counts alone, its network is the /24."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip, ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    host_bits, network_bits = (32, 24) if address.version == 4 else (64, 48)
    return (
        str(ipaddress.ip_network(f"{address}/{host_bits}", strict=False)),
        str(ipaddress.ip_network(f"{address}/{network_bits}", strict=False)),
    )
