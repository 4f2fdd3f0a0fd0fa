"""One canonical form per mailbox, so a person cannot claim welcome credits again with
`Alice@Gmail.com`, `alice+2@gmail.com` or `a.lice@gmail.com`.

Case is ignored everywhere. The `+tag` part is dropped only for providers that deliver
`name+anything` to `name` (EMAIL_PLUS_TAG_DOMAINS); Gmail also ignores dots. Elsewhere
the local part is kept as written: another provider may treat those as other mailboxes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def normalize_email(address: str) -> str:
    local, _, domain = (address or "").strip().lower().rpartition("@")
    if not local:
        return (address or "").strip().lower()
    domain = domain.rstrip(".")
    plus_tag_domains = {d.strip().lower() for d in settings.EMAIL_PLUS_TAG_DOMAINS if d.strip()}
    if domain in plus_tag_domains:
        local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def mailbox_digest(address: str) -> str:
    """A stable fingerprint of the normalised address: enough to tell a mailbox came back,
    without keeping the address itself."""
    return hashlib.sha256(normalize_email(address).encode()).hexdigest()
