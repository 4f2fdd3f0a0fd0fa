"""The official Kling client: the legacy `/v1/...` surface (docs/kling.md sections 1-8).

Also serves Kling-compatible proxies (the same paths under a prefix, a bearer key) by
configuration alone: `KLING_API_BASE=https://host/klingai` and `KLING_API_KEY=...`; and the
built-in simulator, which speaks the same contract at `/_sim/kling/`.

Every call: one pooled session per process, connect/read timeouts, one request from our
per-minute budget (`generations.limiter.take_for_http_request`, which uses a unit the
caller already took with `try_take_request`), the `request_id` logged, and any failure
turned into a classified `ProviderError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import jwt
import requests
from django.conf import settings

from generations import capabilities, effects
from generations.providers import errors
from generations.providers.base import (
    GenerationRequest,
    ProviderError,
    ProviderMedia,
    ProviderTask,
    ResourcePack,
    TaskPage,
    TaskStatus,
)
from generations.providers.http import HTTPProviderClient, read_json_object

logger = logging.getLogger(__name__)

# Kling's legacy statuses -> ours. "succeeded" is the new-standard spelling, tolerated.
STATUSES = {
    "submitted": TaskStatus.SUBMITTED,
    "processing": TaskStatus.PROCESSING,
    "succeed": TaskStatus.SUCCEEDED,
    "succeeded": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
}

JWT_LIFETIME = 1800  # the vendor's example value, used by every client checked
JWT_BACKDATE = 5
JWT_SKEW_BACKDATE = 60  # on the retry after 1003/1004: tolerate a minute of clock skew
JWT_REFRESH_MARGIN = 60  # re-sign when fewer seconds remain

IMAGE_FIELDS = (
    "image",
    "image_tail",
    "static_mask",
    "scene_image",
    "style_image",
    "human_image",
    "cloth_image",
)
_DATA_URI = re.compile(r"^\s*data:[^,]*?;base64,", re.IGNORECASE)
_PRODUCT = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)+$")
_MODE_ALIASES = {"standard": "std", "professional": "pro"}

# --- JWT, cached per process -------------------------------------------------------------

_token_lock = threading.Lock()
_tokens: dict[tuple[str, str], tuple[str, int, int]] = {}  # (ak, sk digest) -> (token, nbf, exp)


def jwt_token(access_key: str, secret_key: str, *, refresh: bool = False) -> str:
    """An HS256 JWT (`iss` = access key, `exp` = now + 1800, `nbf` = now - 5).

    Cached per process and re-signed when under 60 s remain, so a poller running for
    hours keeps working; `refresh=True` forces a new one (after a 1003/1004 answer), back-dated
    further so a server whose clock is behind ours accepts it.
    """
    now = int(time.time())
    key = (access_key, hashlib.sha256(secret_key.encode()).hexdigest())
    with _token_lock:
        cached = _tokens.get(key)
        if cached and not refresh:
            token, nbf, exp = cached
            if nbf <= now and exp - now > JWT_REFRESH_MARGIN:
                return token
        nbf, exp = now - (JWT_SKEW_BACKDATE if refresh else JWT_BACKDATE), now + JWT_LIFETIME
        token = jwt.encode(
            {"iss": access_key, "exp": exp, "nbf": nbf},
            secret_key,
            algorithm="HS256",
            headers={"typ": "JWT"},
        )
        _tokens[key] = (token, nbf, exp)
        return token


def clear_token_cache() -> None:
    with _token_lock:
        _tokens.clear()


# --- Request bodies ----------------------------------------------------------------------


def _invalid(detail: str) -> ProviderError:
    return ProviderError(
        "invalid_request", errors.KLING_CODES[1201].user_message, retryable=False, detail=detail
    )


def strip_data_uri(value: str) -> str:
    """Kling takes a URL or raw Base64; a `data:image/...;base64,` prefix is rejected."""
    return _DATA_URI.sub("", value, count=1) if isinstance(value, str) else value


def camera_control(value: Any) -> dict[str, Any]:
    """`camera_control` as Kling takes it: the type alone for a built-in movement (Kling
    refuses a config there), all six axes as numbers for `simple`.

    The rules are the capability table's; what breaks them is refused here, before sending.
    """
    problem = capabilities.camera_control_problem(value)
    if problem:
        raise _invalid(problem)
    if value["type"] != capabilities.CAMERA_SIMPLE:
        return {"type": value["type"]}
    config = value["config"]
    return {
        "type": capabilities.CAMERA_SIMPLE,
        "config": {axis: float(config.get(axis, 0)) for axis in capabilities.CAMERA_AXES},
    }


def _list_image(item: dict[str, Any], key: str) -> dict[str, Any]:
    item = dict(item)
    picture = item.pop("image_url", None) or item.pop("image", "")
    item[key] = strip_data_uri(picture)
    return item


def legacy_body(request: GenerationRequest) -> dict[str, Any]:
    """The create body in Kling's exact legacy field names and types."""
    body = {k: v for k, v in request.params.items() if v is not None}
    # `model` is a deprecated alias Kling accepts and ignores (silently falling back to the
    # default, discontinued kling-v1): never send it.
    model = body.pop("model", None)
    if "model_name" not in body and model:
        body["model_name"] = model
    if "mode" in body:
        body["mode"] = _MODE_ALIASES.get(str(body["mode"]).lower(), body["mode"])
    # Text to audio takes its length as a number (3.0-10.0); every other product as a string.
    if "duration" in body and request.product != "audio/text-to-audio":
        duration = body["duration"]
        if isinstance(duration, float) and duration.is_integer():
            duration = int(duration)
        body["duration"] = str(duration)
    if "sound" in body and isinstance(body["sound"], bool):
        body["sound"] = "on" if body["sound"] else "off"
    try:
        if "cfg_scale" in body:
            body["cfg_scale"] = float(body["cfg_scale"])
        if "n" in body:
            body["n"] = int(body["n"])
    except (TypeError, ValueError):
        raise _invalid("cfg_scale must be a number and n an integer") from None
    if "camera_control" in body:
        body["camera_control"] = camera_control(body["camera_control"])
    for name in IMAGE_FIELDS:
        if name in body:
            body[name] = strip_data_uri(body[name])
    if isinstance(body.get("image_list"), list):
        # Omni video names each picture `image_url` (a URL or raw Base64); multi-image `image`.
        key = "image_url" if request.product == "videos/omni-video" else "image"
        body["image_list"] = [
            _list_image(item, key) if isinstance(item, dict) else item for item in body["image_list"]
        ]
    if isinstance(body.get("subject_image_list"), list):
        body["subject_image_list"] = [
            _list_image({"image": item.get("subject_image", "")}, "subject_image")
            if isinstance(item, dict)
            else item
            for item in body["subject_image_list"]
        ]
    if request.product == "videos/advanced-lip-sync":
        body["face_choose"] = lip_sync_faces(body)
    if request.product == "videos/omni-video" and (body.get("video_list") or body.get("video_url")):
        body["video_list"] = omni_video_list(body)
    if request.product == effects.PRODUCT:
        # Effects take their options inside `input`, shaped by the scene.
        body = {"effect_scene": body.get("effect_scene", ""), "input": effects.request_input(body)}
    body["external_task_id"] = str(request.external_task_id)
    if request.callback_url:
        body["callback_url"] = request.callback_url
    return body


def lip_sync_faces(body: dict[str, Any]) -> list[dict[str, Any]]:
    """advanced-lip-sync's `face_choose`: one face, with the sound (`sound_file`, a URL,
    or Kling's `audio_id`) moved into it from the top level where the stored inputs put it;
    the three times are whole milliseconds and the volumes numbers."""
    faces = [dict(item) for item in body.get("face_choose") or [] if isinstance(item, dict)]
    if len(faces) != 1:
        raise _invalid("lip-sync takes exactly one face")
    face = faces[0]
    for name in ("sound_file", "audio_id"):
        value = body.pop(name, None)
        if value and not face.get(name):
            face[name] = value
    try:
        face["face_id"] = str(face["face_id"])
        for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
            face[name] = int(face[name])
        for name in ("sound_volume", "original_audio_volume"):
            if name in face:
                face[name] = float(face[name])
    except (KeyError, TypeError, ValueError):
        raise _invalid("face_choose needs face_id, whole-millisecond times and numeric volumes") from None
    return [face]


def omni_video_list(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Omni video's `video_list`: one video, whose `video_url` (a signed URL the stored
    inputs put at the top level) moves into it, with `refer_type` feature|base and
    `keep_original_sound` yes|no (Kling's default: a reference, keeping its sound)."""
    videos = [dict(item) for item in body.get("video_list") or [{}] if isinstance(item, dict)]
    if len(videos) != 1:
        raise _invalid("omni video takes exactly one video in video_list")
    video = videos[0]
    url = body.pop("video_url", None)
    if url and not video.get("video_url"):
        video["video_url"] = url
    if not video.get("video_url"):
        raise _invalid("video_list needs a video_url")
    video.setdefault("refer_type", "feature")
    video.setdefault("keep_original_sound", "yes")
    return [
        {
            "video_url": str(video["video_url"]),
            "refer_type": str(video["refer_type"]),
            "keep_original_sound": str(video["keep_original_sound"]),
        }
    ]


@dataclasses.dataclass(frozen=True)
class FaceScan:
    """identify-face's answer: a session (24 h) and the faces, times in ms."""

    session_id: str
    faces: list[dict[str, Any]]
    units: str = ""
    request_id: str = ""


def parse_face_scan(data: Any, request_id: str = "") -> FaceScan:
    if not isinstance(data, dict) or not data.get("session_id"):
        raise errors.bad_response("identify-face answer without session_id", request_id=request_id)
    faces = []
    for item in data.get("face_data") or []:
        if not isinstance(item, dict) or item.get("face_id") in (None, ""):
            continue
        try:
            start, end = int(item.get("start_time") or 0), int(item.get("end_time") or 0)
        except (TypeError, ValueError):
            continue
        faces.append(
            {
                "face_id": str(item["face_id"]),
                "face_image": str(item.get("face_image") or ""),
                "start_time": start,
                "end_time": end,
            }
        )
    units = data.get("final_unit_deduction")
    return FaceScan(str(data["session_id"]), faces, "" if units is None else str(units), request_id)


# --- Parsing answers ----------------------------------------------------------------------


def ms_to_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _media(result: dict[str, Any], request_id: str) -> tuple[ProviderMedia, ...]:
    media: list[ProviderMedia] = []
    for kind, key in (("video", "videos"), ("image", "images")):
        items = result.get(key) or []
        if not isinstance(items, list):
            raise errors.bad_response(f"task_result.{key} is not a list", request_id=request_id)
        for position, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"]:
                raise errors.bad_response(f"task_result.{key}[{position}] has no url", request_id=request_id)
            index = item.get("index", position)
            media.append(
                ProviderMedia(
                    url=item["url"],
                    kind=kind,
                    index=index if isinstance(index, int) and not isinstance(index, bool) else position,
                    duration=to_float(item.get("duration")),
                    cover_url=str(item.get("cover_url") or item.get("cover_image_url") or ""),
                    id=str(item.get("id") or ""),
                )
            )
    # Audio products: `audios[]{id, url_mp3, url_wav, duration_mp3, duration_wav}` (TTS: `url`).
    audios = result.get("audios") or []
    if not isinstance(audios, list):
        raise errors.bad_response("task_result.audios is not a list", request_id=request_id)
    for position, item in enumerate(audios):
        url = (
            item.get("url_mp3") or item.get("url") or item.get("url_wav") if isinstance(item, dict) else None
        )
        if not isinstance(url, str) or not url:
            raise errors.bad_response(f"task_result.audios[{position}] has no url", request_id=request_id)
        media.append(
            ProviderMedia(
                url=url,
                kind="audio",
                index=position,
                duration=to_float(item.get("duration_mp3") if "url_mp3" in item else item.get("duration")),
                id=str(item.get("id") or ""),
            )
        )
    return tuple(media)


def parse_task(data: Any, product: str, *, request_id: str = "", creating: bool = False) -> ProviderTask:
    """A legacy task object (query answer `data`, a list item, or a callback body)."""
    if not isinstance(data, dict):
        raise errors.bad_response("task data is not an object", request_id=request_id, creating=creating)
    task_id = data.get("task_id")
    if isinstance(task_id, bool) or not isinstance(task_id, (str, int)) or str(task_id) == "":
        raise errors.bad_response("task data has no task_id", request_id=request_id, creating=creating)
    raw_status = data.get("task_status")
    if raw_status in (None, "") and creating:
        raw_status = "submitted"  # some proxies answer a create with the task id alone
    status = STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        raise errors.bad_response(
            f"unknown task_status {raw_status!r} for task {task_id}", request_id=request_id, creating=creating
        )
    info = data.get("task_info") if isinstance(data.get("task_info"), dict) else {}
    result = data.get("task_result") if isinstance(data.get("task_result"), dict) else {}
    message = data.get("task_status_msg")
    return ProviderTask(
        task_id=str(task_id),
        status=status,
        product=product,
        external_id=str(info.get("external_task_id") or ""),
        status_message=message if isinstance(message, str) else "",
        media=_media(result, request_id),
        units_charged=to_decimal(data.get("final_unit_deduction")),
        created_at=ms_to_datetime(data.get("created_at")),
        updated_at=ms_to_datetime(data.get("updated_at")),
        raw=data,
    )


def _check_product(product: str) -> str:
    product = product.strip("/")
    if not _PRODUCT.match(product):
        raise ValueError(f"not a Kling product path: {product!r}")
    return product


# --- The client ---------------------------------------------------------------------------

# Kling's answer to an expired or not-yet-valid token (a long-lived process, clock skew).
RESIGN_CODES = (1003, 1004)


@dataclasses.dataclass(frozen=True)
class Envelope:
    """Kling's answer `{code, message, request_id, data}`, with an integer `code`."""

    http_status: int
    code: int
    message: str
    request_id: str
    data: Any


def _codeless_error(http_status: int, message: Any, request_id: str, *, creating: bool) -> ProviderError:
    """An answer that is JSON but carries no integer `code` (a proxy's or gateway's own error)."""
    if http_status >= 400:
        return errors.from_http_status(
            http_status,
            detail=f"HTTP {http_status} without a Kling code: {message!r}",
            request_id=request_id,
            creating=creating,
        )
    return errors.bad_response(
        "answer has no integer `code`", http_status=http_status, request_id=request_id, creating=creating
    )


class KlingClient(HTTPProviderClient):
    """Kling's legacy API (and proxies and the simulator that speak it)."""

    name = "kling"
    label = "kling"
    logger = logger

    def __init__(
        self,
        base_url: str,
        *,
        access_key: str = "",
        secret_key: str = "",
        api_key: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        take_request: Callable[[], bool] | None = None,
        rate_wait_seconds: float = 2.0,
        name: str = "kling",
    ) -> None:
        if not api_key and not (access_key and secret_key):
            raise ValueError("KlingClient needs api_key, or access_key and secret_key")
        super().__init__(
            base_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            session=session,
            take_request=take_request,
            rate_wait_seconds=rate_wait_seconds,
        )
        self.access_key = access_key
        self.secret_key = secret_key
        self.api_key = api_key
        self.name = name

    @classmethod
    def from_settings(cls) -> KlingClient:
        from generations import limiter

        return cls(
            settings.KLING_API_BASE,
            access_key=settings.KLING_ACCESS_KEY,
            secret_key=settings.KLING_SECRET_KEY,
            api_key=settings.KLING_API_KEY,
            connect_timeout=settings.KLING_CONNECT_TIMEOUT,
            read_timeout=settings.KLING_READ_TIMEOUT,
            take_request=limiter.take_for_http_request,
            name=settings.KLING_PROVIDER,
        )

    # -- one API call, step by step

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        creating: bool = False,
    ) -> tuple[Any, str]:
        """One API call: (envelope `data`, request_id), or a ProviderError."""
        envelope = self._exchange(method, path, body=body, params=params, creating=creating, refresh=False)
        if envelope.code in RESIGN_CODES and not self.api_key:
            # Re-sign once and resend: nothing was created by a request that failed auth.
            envelope = self._exchange(method, path, body=body, params=params, creating=creating, refresh=True)
        return self._data(envelope, creating=creating), envelope.request_id

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        creating: bool,
        refresh: bool,
    ) -> Envelope:
        """Send the request once, signed afresh when `refresh`, and read Kling's envelope."""
        response, elapsed_ms = self._send(
            method, path, headers=self._headers(refresh=refresh), body=body, params=params, creating=creating
        )
        return self._read_envelope(method, path, response, elapsed_ms, creating=creating)

    def _headers(self, *, refresh: bool) -> dict[str, str]:
        return {
            "Authorization": self._authorization(refresh=refresh),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _authorization(self, *, refresh: bool) -> str:
        # A static API key works on every endpoint (and is what proxies take); prefer it.
        if self.api_key:
            return f"Bearer {self.api_key}"
        return f"Bearer {jwt_token(self.access_key, self.secret_key, refresh=refresh)}"

    def _read_envelope(
        self, method: str, path: str, response: requests.Response, elapsed_ms: float, *, creating: bool
    ) -> Envelope:
        """The answer's envelope, logged with its request_id; raises for an unreadable answer
        or one without an integer `code`."""
        try:
            payload = read_json_object(response, creating=creating)
        except ProviderError as error:
            logger.warning(
                "kling %s %s -> HTTP %s in %.0f ms, unreadable: %s request_id=%s",
                method,
                path,
                response.status_code,
                elapsed_ms,
                error.detail,
                response.headers.get("X-Request-Id", ""),
            )
            raise
        request_id = str(payload.get("request_id") or "")
        code = payload.get("code")
        message = payload.get("message")
        logger.info(
            "kling %s %s -> HTTP %s code %s request_id=%s in %.0f ms",
            method,
            path,
            response.status_code,
            code,
            request_id,
            elapsed_ms,
        )
        if isinstance(code, str) and code.strip().lstrip("-").isdigit():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int):
            raise _codeless_error(response.status_code, message, request_id, creating=creating)
        return Envelope(response.status_code, code, str(message or ""), request_id, payload.get("data"))

    @staticmethod
    def _data(envelope: Envelope, *, creating: bool) -> Any:
        """The envelope's `data`, or the classified error its code stands for. Code 0 with a
        non-2xx status is not an answer Kling gives: treated as unreadable."""
        if envelope.code != 0:
            raise errors.from_kling_code(
                envelope.code,
                http_status=envelope.http_status,
                message=envelope.message,
                request_id=envelope.request_id,
                creating=creating,
            )
        if not 200 <= envelope.http_status < 300:
            raise errors.bad_response(
                f"code 0 with HTTP {envelope.http_status}",
                http_status=envelope.http_status,
                request_id=envelope.request_id,
                creating=creating,
            )
        return envelope.data

    # -- the Provider interface

    def submit(self, request: GenerationRequest) -> ProviderTask:
        product = _check_product(request.product)
        body = legacy_body(request)
        data, request_id = self._call("POST", f"/v1/{product}", body=body, creating=True)
        task = parse_task(data, product, request_id=request_id, creating=True)
        if not task.external_id:
            task = dataclasses.replace(task, external_id=str(request.external_task_id))
        return task

    def get(self, product: str, task_id: str) -> ProviderTask:
        product = _check_product(product)
        data, request_id = self._call("GET", f"/v1/{product}/{quote(str(task_id), safe='')}")
        return parse_task(data, product, request_id=request_id)

    def find_by_external_id(self, product: str, external_id: str) -> ProviderTask | None:
        """Kling accepts our `external_task_id` in place of the task id in the query path (section 5.2)."""
        try:
            return self.get(product, str(external_id))
        except ProviderError as error:
            if errors.is_not_found(error):
                return None
            raise

    @staticmethod
    def parse_callback(product: str, body: bytes) -> ProviderTask:
        """A callback body: Kling posts the bare task object a query answers with."""
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as error:
            raise errors.bad_response(f"callback body is not JSON: {error}") from error
        return parse_task(data, _check_product(product))

    def list_tasks(self, product: str, page: int = 1, page_size: int = 500) -> TaskPage:
        """One page of this product's tasks (pageNum 1-1000, pageSize 1-500)."""
        product = _check_product(product)
        if not 1 <= page <= 1000 or not 1 <= page_size <= 500:
            raise ValueError("page must be in [1, 1000] and page_size in [1, 500]")
        data, request_id = self._call(
            "GET", f"/v1/{product}", params={"pageNum": page, "pageSize": page_size}
        )
        if not isinstance(data, list):
            raise errors.bad_response("list answer `data` is not an array", request_id=request_id)
        tasks = []
        for item in data:
            try:
                tasks.append(parse_task(item, product, request_id=request_id))
            except ProviderError as error:
                # One unreadable item must not hide the other 499 from the poller.
                logger.warning(
                    "kling list %s: skipped an item: %s request_id=%s", product, error.detail, request_id
                )
        return TaskPage(tasks=tuple(tasks), page=page, page_size=page_size)

    def identify_face(self, *, video_id: str = "", video_url: str = "") -> FaceScan:
        """Kling's synchronous face detection (lip-sync's first step): exactly one of
        `video_id` (a Kling video of the account's) and `video_url`."""
        if bool(video_id) == bool(video_url):
            raise ValueError("give exactly one of video_id and video_url")
        body = {"video_id": video_id} if video_id else {"video_url": video_url}
        data, request_id = self._call("POST", f"/v1/{capabilities.IDENTIFY_FACE_PATH}", body=body)
        return parse_face_scan(data, request_id)

    def account_costs(self, start: datetime | None = None, end: datetime | None = None) -> list[ResourcePack]:
        """Resource packs from `/account/costs` (free, QPS <= 1; `remaining` lags up to 12 h).

        Kling only: not part of the Provider interface.
        """
        end = end or datetime.now(tz=UTC)
        start = start or end - timedelta(days=365)
        params = {"start_time": int(start.timestamp() * 1000), "end_time": int(end.timestamp() * 1000)}
        data, request_id = self._call("GET", "/account/costs", params=params)
        if not isinstance(data, dict):
            raise errors.bad_response("/account/costs `data` is not an object", request_id=request_id)
        inner = data.get("code", 0)
        if isinstance(inner, int) and not isinstance(inner, bool) and inner != 0:
            raise errors.from_kling_code(
                inner, http_status=200, message=str(data.get("msg") or ""), request_id=request_id
            )
        infos = data.get("resource_pack_subscribe_infos") or []
        if not isinstance(infos, list):
            raise errors.bad_response("resource_pack_subscribe_infos is not a list", request_id=request_id)
        packs = []
        for info in infos:
            if not isinstance(info, dict):
                raise errors.bad_response("a resource pack is not an object", request_id=request_id)
            packs.append(
                ResourcePack(
                    name=str(info.get("resource_pack_name") or ""),
                    remaining=to_float(info.get("remaining_quantity")) or 0.0,
                    total=to_float(info.get("total_quantity")) or 0.0,
                    status=str(info.get("status") or ""),
                    expires_at=ms_to_datetime(info.get("invalid_time")),
                )
            )
        return packs

    # -- custom elements (saved subjects): Kling's Element Management endpoints. Kling only:
    # not part of the Provider interface; `supports_elements()` says whether a client has them.

    def create_element(self, body: dict[str, Any]) -> ElementTask:
        """POST the create body (`element_name`, `element_description`, `reference_type`,
        `element_image_list{frontal_image, refer_images[]{image_url}}`, `tag_list`, ...)."""
        body = dict(body)
        images = body.get("element_image_list")
        if isinstance(images, dict):
            body["element_image_list"] = {
                "frontal_image": strip_data_uri(images.get("frontal_image") or ""),
                "refer_images": [
                    {"image_url": strip_data_uri(item.get("image_url") or "")}
                    for item in images.get("refer_images") or []
                ],
            }
        data, request_id = self._call("POST", ELEMENTS_PATH, body=body, creating=True)
        return parse_element_task(data, request_id)

    def get_element(self, task_id: str) -> ElementTask:
        data, request_id = self._call("GET", f"{ELEMENTS_PATH}/{quote(str(task_id), safe='')}")
        return parse_element_task(data, request_id)

    def list_elements(self, page: int = 1, page_size: int = 30) -> list[ElementTask]:
        if not 1 <= page <= 1000 or not 1 <= page_size <= 500:
            raise ValueError("page must be in [1, 1000] and page_size in [1, 500]")
        data, request_id = self._call("GET", ELEMENTS_PATH, params={"pageNum": page, "pageSize": page_size})
        if not isinstance(data, list):
            raise errors.bad_response("list answer `data` is not an array", request_id=request_id)
        return [parse_element_task(item, request_id) for item in data]

    def delete_element(self, element_id: str) -> None:
        """Kling takes the id as a string here (its queries answer with a number)."""
        self._call("POST", "/v1/general/delete-advanced-elements", body={"element_id": str(element_id)})


ELEMENTS_PATH = "/v1/general/advanced-custom-elements"


@dataclasses.dataclass(frozen=True)
class ElementTask:
    """An element-creation task: its status and, once built, the element's id."""

    task_id: str
    status: str  # a TaskStatus value
    message: str = ""
    element_id: str = ""
    deleted: bool = False
    request_id: str = ""


def parse_element_task(data: Any, request_id: str = "") -> ElementTask:
    if not isinstance(data, dict) or not data.get("task_id"):
        raise errors.bad_response("element task without task_id", request_id=request_id)
    status = STATUSES.get(str(data.get("task_status") or ""))
    if status is None:
        raise errors.bad_response(
            f"unknown element task status {data.get('task_status')!r}", request_id=request_id
        )
    result = data.get("task_result") or {}
    built = (result.get("elements") or [{}])[0] if isinstance(result, dict) else {}
    if not isinstance(built, dict):
        built = {}
    element_id = built.get("element_id")
    return ElementTask(
        task_id=str(data["task_id"]),
        status=status,
        message=str(data.get("task_status_msg") or ""),
        element_id="" if element_id in (None, "") else str(element_id),
        deleted=built.get("status") == "deleted",
        request_id=request_id,
    )


def supports_elements(provider: Any) -> bool:
    """Saved subjects need Kling's element endpoints (the gateway has none)."""
    return isinstance(provider, KlingClient)
