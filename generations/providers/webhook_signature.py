"""Kling's optional callback signature: Standard Webhooks, the one signer and verifier.

Headers `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256>`, several space-separated during a secret rotation). The signed
content is `<id>.<timestamp>.<raw body>`; deliveries more than five minutes old or early are
refused. See https://app.klingai.com/global/dev/document-api and https://www.standardwebhooks.com/.

The `standardwebhooks` package does the signing and checking. We only decide the key: the
base64 part of `whsec_...` (padded or not, as the package reads it), or, for a secret that is
not base64, its plain bytes. The package alone would silently drop the non-base64 characters
of such a secret; here the simulator (`sign`, `headers`) and the callback view (`verify`) share
`_key`, so any configured string works on both sides.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

PREFIX = "whsec_"


def _key(secret: str) -> bytes:
    secret = secret.strip()
    encoded = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    # Not base64 (or nothing after the prefix): the secret's own bytes.
    return key or encoded.encode() or secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    sent_at = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(_key(secret)).sign(msg_id, sent_at, body.decode())


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(secret: str, request_headers: Mapping[str, str], body: bytes) -> bool:
    """True when one of the `v1,` signatures matches and the timestamp is within five minutes."""
    try:
        Webhook(_key(secret)).verify(body, dict(request_headers.items()), json_parse=False)
    except (WebhookVerificationError, ValueError):
        # ValueError: a body that is not UTF-8, or a signature entry that is not `v<n>,<base64>`.
        return False
    return True
