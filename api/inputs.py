"""Files in JSON requests: an https URL we fetch, or Base64 (plain or a data: URI).

Either becomes an uploaded file handed to the same form fields the pages use, so every
check on its content (generations.forms.check_image_upload, generations.uploads) is the
pages' own. Fetching a URL is where a request from outside makes us call out, so it is
careful: https only, no credentials in the URL, every address the host resolves to must
be public (no loopback, private, link-local or reserved ranges; checked again on each of
at most MAX_REDIRECTS redirects), a byte cap enforced while streaming, and an overall time
limit. A name can still resolve differently between our check and the connection (DNS
rebinding), so the connected socket's address is checked again before a byte is sent
(kling_site.safe_http).

Unlike generations.media.resolves_privately, nothing is exempt here: in demo mode that
function lets the site's own host through (the simulator serves results from it), which
must never apply to an address a client chose.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.utils.translation import gettext as _

from generations.media import sniff
from kling_site import safe_http

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB
VIDEO_MAX_BYTES = 100 * MB
FETCH_TIMEOUT = (5, 10)  # connect, read between bytes
FETCH_SECONDS = 20  # the whole download, redirects included
MAX_REDIRECTS = 3
CHUNK = 256 * 1024
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,", re.IGNORECASE)
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}


class FetchRefused(ValidationError):
    """A URL we will not fetch, or could not: the message says which and why."""


def _private(host: str | None) -> str:
    return _("%(host)s is a private or local address; give a public URL.") % {"host": host}


def _too_large(max_bytes: int) -> str:
    return _("The file is larger than %(most)d MB, the most accepted.") % {"most": max_bytes // MB}


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise FetchRefused(_("This is not a valid URL.")) from None
    if parts.scheme != "https":
        raise FetchRefused(_("Give an https:// URL."))
    if parts.username or parts.password or not parts.hostname:
        raise FetchRefused(_("Give an https:// URL with a host name and no user name or password in it."))
    if safe_http.resolves_privately(parts.hostname):
        raise FetchRefused(_private(parts.hostname))


def fetch(url: str, max_bytes: int, *, deadline: float | None = None) -> TemporaryUploadedFile:
    """Download `url` into a temporary uploaded file, or raise FetchRefused."""
    with safe_http.session() as http:
        return _fetch(http, url, max_bytes, deadline)


def _fetch(http, url: str, max_bytes: int, deadline: float | None) -> TemporaryUploadedFile:
    deadline = deadline or time.monotonic() + FETCH_SECONDS
    hop = url

    def get(address: str) -> requests.Response:
        nonlocal hop
        hop = address
        return http.get(address, stream=True, timeout=FETCH_TIMEOUT, allow_redirects=False)

    try:
        response, url = safe_http.get_checking_each_hop(url, get, _check_url, MAX_REDIRECTS)
    except safe_http.PrivateAddress:
        raise FetchRefused(_private(urlsplit(hop).hostname)) from None
    except requests.RequestException:
        raise FetchRefused(_("%(host)s could not be reached.") % {"host": urlsplit(hop).hostname}) from None
    except safe_http.TooManyRedirects:
        raise FetchRefused(
            _("The URL redirected more than %(count)d times.") % {"count": MAX_REDIRECTS}
        ) from None

    with response:
        if response.status_code != 200:
            raise FetchRefused(
                _("%(host)s answered HTTP %(status)d.")
                % {"host": urlsplit(url).hostname, "status": response.status_code}
            )
        declared = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        upload = TemporaryUploadedFile("download", declared or "application/octet-stream", 0, None)
        try:
            size = safe_http.copy_capped(response, upload, max_bytes, deadline, CHUNK)
        except safe_http.TooLarge as exc:
            upload.close()
            if exc.declared:
                raise FetchRefused(
                    _("The file is %(size).1f MB; the most is %(most)d MB.")
                    % {"size": exc.declared / MB, "most": max_bytes // MB}
                ) from None
            raise FetchRefused(_too_large(max_bytes)) from None
        except safe_http.TooSlow:
            upload.close()
            raise FetchRefused(
                _("The download took longer than %(seconds)d s.") % {"seconds": FETCH_SECONDS}
            ) from None
        except requests.RequestException:
            upload.close()
            raise FetchRefused(_("The download was interrupted.")) from None
        except BaseException:
            upload.close()
            raise
    upload.size = size
    _name(upload, urlsplit(url).path.rsplit("/", 1)[-1])
    return upload


def decode(value: str, max_bytes: int) -> TemporaryUploadedFile:
    """Base64 (or a data: URI) as a temporary uploaded file, or raise ValidationError."""
    match = _DATA_URI.match(value)
    payload = value[match.end() :] if match else value
    payload = re.sub(r"\s+", "", payload)
    if len(payload) > (max_bytes + 2) // 3 * 4 + 4:
        raise ValidationError(_too_large(max_bytes))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_("This is neither an https:// URL nor valid Base64.")) from None
    if not data:
        raise ValidationError(_("The file is empty."))
    upload = TemporaryUploadedFile(
        "upload", match.group(1) if match and match.group(1) else "", len(data), None
    )
    upload.write(data)
    _name(upload, "")
    return upload


def to_upload(value: str, max_bytes: int) -> TemporaryUploadedFile:
    """A JSON file value as an upload: a URL is fetched, anything else read as Base64."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
        return fetch(value.strip(), max_bytes)
    return decode(value, max_bytes)


def _name(upload: TemporaryUploadedFile, name: str) -> None:
    upload.seek(0)
    kind = sniff(upload.read(16))
    upload.seek(0)
    ext = _EXTENSIONS.get(kind, "")
    stem = re.sub(r"[^\w.-]", "", name.rsplit(".", 1)[0])[:40] or "input"
    upload.name = f"{stem}.{ext}" if ext else stem
    if kind:
        upload.content_type = kind
