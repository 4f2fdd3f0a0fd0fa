"""Short-lived signed links to result files, for API clients.

An API answer cannot point at the pages' file URLs (they need a signed-in browser), so
each output gets a link signed with `TimestampSigner` (Django's SECRET_KEY) naming the
generation, the asset and which file; it works for API_FILE_LINK_SECONDS and only while
the generation is not deleted and its owner can still sign in. The signature is what
grants access, as with a CDN's signed URLs: a link that leaks works until it expires.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from generations.models import Asset

SALT = "api.files.signed"
WHICH = ("file", "thumbnail")


class Expired(Exception):
    pass


def signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def sign(asset: Asset, which: str, by: signing.TimestampSigner | None = None) -> str:
    """The token of the "api:file" link to this asset's file or thumbnail."""
    return (by or signer()).sign_object([asset.generation_id, asset.pk, which])


def resolve(token: str) -> tuple[Asset, str] | None:
    """The asset and which file a token names; None when forged, or when the file is no
    longer its owner's to see; raises Expired when genuine but too old."""
    try:
        generation_id, asset_id, which = signer().unsign_object(token, max_age=settings.API_FILE_LINK_SECONDS)
    except signing.SignatureExpired:
        raise Expired from None
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if which not in WHICH or not isinstance(asset_id, int) or not isinstance(generation_id, int):
        return None
    asset = (
        Asset.objects.select_related("generation", "generation__owner")
        .filter(
            pk=asset_id,
            generation_id=generation_id,
            generation__deleted_at__isnull=True,
            generation__owner__is_active=True,
        )
        .first()
    )
    return (asset, which) if asset is not None else None
