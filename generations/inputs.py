"""Input files Kling fetches from us: short-lived signed URLs under SITE_URL.

Kling takes videos and sound (and, where useful, pictures) by URL. Rather than make the
files public, each submit signs a URL that names one `InputFile` and expires after
SIGNED_INPUT_SECONDS; the view that serves it needs no login (Kling has none) but refuses
a forged token (404) and an expired one (403), the way a CDN does. Nothing in the token
but the ids: the signature is what grants access.
"""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from generations.models import FaceSession, InputFile
from kling_site.links import absolute_url

SALT = "generations.inputs.signed"
# Long enough for Kling to fetch the file when the task starts (its queue can take a
# while), short enough that a leaked URL soon stops working. Each submit signs afresh.
SIGNED_INPUT_SECONDS = 6 * 3600


class Expired(Exception):
    """The signature is genuine but too old."""


def signed_path(input_file: InputFile) -> str:
    token = signing.dumps([input_file.generation_id, input_file.pk], salt=SALT)
    name = input_file.file.name.rsplit("/", 1)[-1] or "input"
    return reverse("generations:signed_input", args=[token, name])


def signed_url(input_file: InputFile) -> str:
    """An absolute URL (SITE_URL) Kling can fetch this file from, for a few hours."""
    return absolute_url(signed_path(input_file))


def resolve(token: str, max_age: int = SIGNED_INPUT_SECONDS) -> InputFile | None:
    """The input file a token names; None when the token is forged or names nothing (or a
    generation its owner deleted); raises Expired when it is genuine but too old."""
    try:
        generation_id, input_id = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise Expired from None
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return (
        InputFile.objects.select_related("generation")
        .filter(pk=input_id, generation_id=generation_id, generation__deleted_at__isnull=True)
        .first()
    )


# Lip-sync's first step sends an uploaded video to identify-face before any generation
# exists: the same kind of signed URL, naming the face session instead.
FACE_SALT = "generations.inputs.face-video"


def signed_face_video_url(session: FaceSession) -> str:
    token = signing.dumps([session.owner_id, session.pk], salt=FACE_SALT)
    name = session.video.name.rsplit("/", 1)[-1] or "video"
    return absolute_url(reverse("generations:face_video", args=[token, name]))


def resolve_face_video(token: str, max_age: int = SIGNED_INPUT_SECONDS) -> FaceSession | None:
    """Like resolve(), for a face session's uploaded video."""
    try:
        owner_id, session_id = signing.loads(token, salt=FACE_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise Expired from None
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return FaceSession.objects.filter(pk=session_id, owner_id=owner_id).exclude(video="").first()
