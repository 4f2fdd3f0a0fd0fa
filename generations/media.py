"""Our own copy of every output: safe downloads, thumbnails and video posters.

Kling's result URLs expire after 30 days, so each output becomes an `Asset` in our
storage. The download is where a URL from outside meets our network, so it is careful:
only hosts in KLING_MEDIA_HOSTS that do not resolve to a private address (no SSRF),
redirects followed by hand and checked the same way, a size cap and an overall time limit
enforced while streaming, and a content check on the bytes themselves. A copy that fails is retried by the sweep and shown to staff; the generation
stays succeeded (Kling billed it), so it is never refunded for a copy problem.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import IO
from urllib.parse import urlsplit

import imageio_ffmpeg
import requests
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image, ImageOps

from generations import queue
from generations.follow import backoff_seconds
from generations.models import MAX_FETCH_ATTEMPTS, Asset, FaceSession, Generation, Status
from kling_site import safe_http

logger = logging.getLogger(__name__)

MAX_BYTES = {
    Asset.Kind.IMAGE: 30 * 1024 * 1024,
    Asset.Kind.VIDEO: 300 * 1024 * 1024,
    Asset.Kind.AUDIO: 50 * 1024 * 1024,
}
ALLOWED_TYPES = {
    Asset.Kind.IMAGE: {"image/png", "image/jpeg", "image/webp"},
    Asset.Kind.VIDEO: {"video/mp4", "video/quicktime"},
    Asset.Kind.AUDIO: {"audio/mpeg", "audio/wav"},
}
# What a host may declare for sound that the bytes then show to be one of ours.
AUDIO_ALIASES = {"audio/mp3", "audio/x-wav", "audio/wave"}
# Declared types that say nothing either way; the bytes decide.
NEUTRAL_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
TIMEOUT = (5, 30)  # connect, read (between bytes)
# All the copies of one generation's outputs together: well inside the worker's 90 s task
# timeout, so a slow host ends in a retry we control, not a worker killed mid-write.
COPY_SECONDS = 60
MAX_REDIRECTS = 3
CHUNK = 256 * 1024
THUMBNAIL_BOX = (960, 960)


class MediaError(Exception):
    """An output could not be copied; the message is for staff."""


def host_allowed(url: str) -> bool:
    """Whether `url` points at a host results may come from (KLING_MEDIA_HOSTS).

    Entries are host names (any port), `host:port`, or `*.domain` for its subdomains.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower().rstrip(".")
    for entry in settings.KLING_MEDIA_HOSTS:
        entry = entry.strip().lower()
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif entry == host or entry == parts.netloc.lower() or (port and entry == f"{host}:{port}"):
            return True
    return False


def resolves_privately(host: str) -> bool:
    """Whether `host` resolves to a loopback, private, link-local or otherwise internal
    address, so an allowlisted name pointed at our own network is still refused.

    The site's own host is exempt in demo mode, where the simulator serves results from
    it. A name that does not resolve is left to the request, which then fails the same way.
    """
    if settings.KLING_PROVIDER == "simulator" and host == (urlsplit(settings.SITE_URL).hostname or ""):
        return False
    return safe_http.resolves_privately(host)


def sniff(head: bytes) -> str:
    """The content type the first bytes prove, or ""."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    # An ID3 tag, or an MPEG audio frame sync (11 set bits; a JPEG's FF D8 is not one).
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return ""


@dataclass
class Download:
    file: IO[bytes]
    content_type: str
    size: int
    url: str


def download(url: str, kind: str, *, deadline: float | None = None) -> Download:
    """Fetch one output into a temporary file, or raise MediaError. Never follows a
    redirect to a host outside the allowlist, never reads more than the cap, and gives up
    at `deadline` (time.monotonic()); the temporary file is gone whenever it raises."""
    cap = MAX_BYTES[kind]
    deadline = deadline or time.monotonic() + COPY_SECONDS

    def check(address: str) -> None:
        if not host_allowed(address):
            raise MediaError(f"{urlsplit(address).hostname or address!r} is not an allowed media host")
        if resolves_privately(urlsplit(address).hostname or ""):
            raise MediaError(f"{urlsplit(address).hostname!r} resolves to a private address")

    def get(address: str) -> requests.Response:
        return requests.get(address, stream=True, timeout=TIMEOUT, allow_redirects=False)

    try:
        response, url = safe_http.get_checking_each_hop(url, get, check, MAX_REDIRECTS)
    except requests.RequestException as exc:
        raise MediaError(f"download failed: {exc.__class__.__name__}") from exc
    except safe_http.TooManyRedirects:
        raise MediaError("too many redirects") from None

    with response:
        if response.status_code != 200:
            raise MediaError(f"the media host answered HTTP {response.status_code}")
        declared = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if declared not in NEUTRAL_TYPES | AUDIO_ALIASES and declared not in ALLOWED_TYPES[kind]:
            raise MediaError(f"unexpected content type {declared!r} for a {kind}")
        out = tempfile.NamedTemporaryFile(suffix=".download")  # noqa: SIM115 (returned to the caller)
        try:
            size = safe_http.copy_capped(response, out, cap, deadline, CHUNK)
        except safe_http.TooLarge as exc:
            out.close()
            if exc.declared:
                raise MediaError(f"the file is {exc.declared:,} bytes; the limit is {cap:,}") from None
            raise MediaError(f"the file is larger than the limit of {cap:,} bytes") from None
        except safe_http.TooSlow:
            out.close()
            raise MediaError(f"the download took longer than {COPY_SECONDS} s") from None
        except requests.RequestException as exc:
            out.close()
            raise MediaError(f"download interrupted: {exc.__class__.__name__}") from exc
        except BaseException:
            out.close()  # a temporary file deleted at once, whatever went wrong
            raise
    out.seek(0)
    content_type = sniff(out.read(16))
    out.seek(0)
    if content_type not in ALLOWED_TYPES[kind]:
        out.close()
        raise MediaError(f"the bytes are not an accepted {kind} format")
    if declared not in NEUTRAL_TYPES and declared != content_type and kind == Asset.Kind.IMAGE:
        out.close()
        raise MediaError(f"declared {declared!r} but the bytes are {content_type}")
    return Download(out, content_type, size, url)


def _jpeg(image: Image.Image) -> bytes:
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[-1])
        image = background
    image.thumbnail(THUMBNAIL_BOX)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=84, optimize=True, progressive=True)
    return buffer.getvalue()


def describe_image(path: str) -> tuple[int, int, bytes]:
    """Width, height and a JPEG thumbnail; raises MediaError if it is not a sound image."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.width, image.height, _jpeg(image)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"not a readable image: {exc}") from exc


def describe_video(path: str, duration_hint: float | None = None) -> tuple[int, int, float | None, bytes]:
    """Width, height, duration and a JPEG poster frame, with the ffmpeg imageio-ffmpeg
    ships: one ffmpeg run seeking a second in (or a third of a short clip, by the
    provider's duration), and a second run from the start if that seeks past the end."""
    at = min(1.0, float(duration_hint) / 3) if duration_hint else 0.0
    try:
        meta, frame = _first_frame(path, at)
        if frame is None and at:
            meta, frame = _first_frame(path, 0.0)
        if frame is None:
            raise MediaError("the video has no frames")
        width, height = meta["size"]
        poster = Image.frombytes("RGB", (width, height), bytes(frame))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise MediaError(f"not a readable video: {exc}") from exc
    return width, height, meta.get("duration") or None, _jpeg(poster)


def _first_frame(path: str, at: float) -> tuple[dict, bytes | None]:
    reader = imageio_ffmpeg.read_frames(path, input_params=["-ss", f"{at:.2f}"] if at else None)
    try:
        meta = next(reader)
        return meta, next(reader, None)
    finally:
        reader.close()


def output_kind(item: dict) -> str:
    return {"video": Asset.Kind.VIDEO, "audio": Asset.Kind.AUDIO}.get(item.get("kind"), Asset.Kind.IMAGE)


def describe_audio(path: str) -> float | None:
    """The length of a sound file (ffmpeg); raises MediaError if it holds no sound."""
    from generations.uploads import probe_path

    info = probe_path(path)
    if info is None or not info.audio_codec:
        raise MediaError("not a readable sound file")
    return info.duration


def store_output(generation: Generation, item: dict, *, deadline: float | None = None) -> Asset:
    kind = output_kind(item)
    index = int(item.get("index") or 0)
    fetched = download(item["url"], kind, deadline=deadline)
    with fetched.file:
        if kind == Asset.Kind.AUDIO:
            width, height, thumbnail = None, None, b""
            duration = describe_audio(fetched.file.name) or item.get("duration")
            ext = "wav" if fetched.content_type == "audio/wav" else "mp3"
        elif kind == Asset.Kind.VIDEO:
            width, height, duration, thumbnail = describe_video(fetched.file.name, item.get("duration"))
            duration = duration or item.get("duration")
            ext = "mp4" if fetched.content_type == "video/mp4" else "mov"
        else:
            width, height, thumbnail = describe_image(fetched.file.name)
            duration = None
            ext = {"image/png": "png", "image/webp": "webp"}.get(fetched.content_type, "jpg")
        asset = Asset(
            generation=generation,
            kind=kind,
            index=index,
            content_type=fetched.content_type,
            size=fetched.size,
            width=width,
            height=height,
            duration=float(duration) if duration else None,
            source_url=item["url"][:1000],
            video_id=str(item.get("id") or "")[:64] if kind == Asset.Kind.VIDEO else "",
        )
        fetched.file.seek(0)
        asset.file.save(f"{kind}-{index}.{ext}", File(fetched.file), save=False)
        if thumbnail:
            asset.thumbnail.save(f"{kind}-{index}-thumb.jpg", ContentFile(thumbnail), save=False)
        asset.save()
    return asset


# The face thumbnails of one identify-face answer are copied within this many seconds.
FACE_PICTURES_SECONDS = 20


def keep_face_pictures(session: FaceSession) -> None:
    """Copy the face thumbnails of Kling's identify-face into our storage, next to the
    session's video, so that pages show our copy rather than load them from Kling (whose
    links expire): each face gets `picture` (the stored name) and `picture_type`. A face
    whose thumbnail cannot be copied keeps no picture and is still offered by its times."""
    deadline = time.monotonic() + FACE_PICTURES_SECONDS
    field = FaceSession._meta.get_field("video")
    for face in session.faces:
        url = str(face.get("face_image") or "")
        if not url or face.get("picture"):
            continue
        try:
            fetched = download(url, Asset.Kind.IMAGE, deadline=deadline)
        except MediaError as error:
            logger.warning(
                "face %s of face session %s not copied: %s", face.get("face_id"), session.pk, error
            )
            continue
        with fetched.file:
            ext = {"image/png": "png", "image/webp": "webp"}.get(fetched.content_type, "jpg")
            stored = field.attr_class(session, field, None)
            stored.save(f"face-{face.get('face_id')}.{ext}", File(fetched.file), save=False)
        face.update(picture=stored.name, picture_type=fetched.content_type)
    session.save(update_fields=["faces"])


def face_picture(session: FaceSession, face_id: str):
    """The stored thumbnail of one face of `session` (a file to serve), or None."""
    face = session.face(face_id)
    if not face or not face.get("picture"):
        return None
    field = FaceSession._meta.get_field("video")
    return field.attr_class(session, field, face["picture"])


def _missing_outputs(generation: Generation) -> list[dict]:
    have = {}
    for asset in generation.assets.all():
        if asset.file and asset.file.storage.exists(asset.file.name):
            have[(asset.kind, asset.index)] = asset
        else:
            asset.delete()  # the row outlived its file: copy it again
    missing = []
    for item in generation.result_media:
        kind = output_kind(item)
        if (kind, int(item.get("index") or 0)) not in have:
            missing.append(item)
    return missing


def store_results(generation_id: int) -> None:
    """Copy every output of a succeeded generation that we do not have yet."""
    now = timezone.now()
    claimed = (
        Generation.objects.unsaved_results()
        .filter(pk=generation_id, fetch_attempts__lt=MAX_FETCH_ATTEMPTS)
        .filter(Q(due_at__isnull=True) | Q(due_at__lte=now))
        # queue.task_lease() outlasts the task, so two copies never overlap.
        .update(due_at=now + queue.task_lease(), fetch_attempts=F("fetch_attempts") + 1)
    )
    if not claimed:
        return
    generation = Generation.objects.get(pk=generation_id)
    errors = []
    deadline = time.monotonic() + COPY_SECONDS
    for item in _missing_outputs(generation):
        if time.monotonic() > deadline:
            errors.append(f"{item.get('kind')} {item.get('index', 0)}: no time left in this attempt")
            continue
        try:
            store_output(generation, item, deadline=deadline)
        except MediaError as exc:
            errors.append(f"{item.get('kind')} {item.get('index', 0)}: {exc}")
    if not errors:
        Generation.objects.filter(pk=generation_id).update(
            assets_saved_at=timezone.now(), fetch_error="", due_at=None
        )
        queue.notify_finished(generation_id)
        return
    gave_up = generation.fetch_attempts >= MAX_FETCH_ATTEMPTS
    logger.log(
        logging.ERROR if gave_up else logging.WARNING,
        "generation %s: copying results failed (attempt %s): %s",
        generation_id,
        generation.fetch_attempts,
        "; ".join(errors),
    )
    Generation.objects.filter(pk=generation_id).update(
        fetch_error="; ".join(errors)[:2000],
        due_at=None
        if gave_up
        else now + timedelta(seconds=max(backoff_seconds(generation.fetch_attempts), 5)),
    )
    if gave_up:
        queue.notify_finished(generation_id)


def copy_again(generation_id: int) -> bool:
    """Staff: copy whatever outputs we are missing (their files lost, or attempts used up)."""
    changed = Generation.objects.filter(pk=generation_id, status=Status.SUCCEEDED).update(
        assets_saved_at=None, fetch_attempts=0, fetch_error="", due_at=None
    )
    if changed:
        queue.fetch_results(generation_id)
    return bool(changed)
