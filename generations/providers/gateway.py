"""The unified OpenAI-style video gateway (docs/kling.md section 10): `POST /v1/video/generations`,
`GET /v1/videos/{task_id}`, model ids such as `kling-v3-std-silent`.

`KLING_PROVIDER=gateway` with GATEWAY_API_BASE and GATEWAY_API_KEY. Our requests are in
Kling's legacy field names; this module maps them to the gateway's shape and its answers
(`status: completed`, `video_url`) back to ProviderTask. The gateway has no
images, no list and no lookup by our external id: those raise
a clear `unsupported` ProviderError (a lookup must not answer "absent" when it cannot
know, or the caller would resubmit a job that may exist and be paid for).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from generations.providers import errors
from generations.providers.base import (
    GenerationRequest,
    ProviderError,
    ProviderMedia,
    ProviderTask,
    TaskPage,
    TaskStatus,
)
from generations.providers.http import HTTPProviderClient, read_json_object
from generations.providers.kling import legacy_body, to_float

logger = logging.getLogger(__name__)

VIDEO_PRODUCTS = ("videos/text2video", "videos/image2video")

STATUSES = {
    "queued": TaskStatus.SUBMITTED,
    "pending": TaskStatus.SUBMITTED,
    "submitted": TaskStatus.SUBMITTED,
    "not_start": TaskStatus.SUBMITTED,
    "in_progress": TaskStatus.PROCESSING,
    "processing": TaskStatus.PROCESSING,
    "running": TaskStatus.PROCESSING,
    "completed": TaskStatus.SUCCEEDED,
    "succeeded": TaskStatus.SUCCEEDED,
    "succeed": TaskStatus.SUCCEEDED,
    "success": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
    "error": TaskStatus.FAILED,
    "cancelled": TaskStatus.FAILED,
    "canceled": TaskStatus.FAILED,
    "expired": TaskStatus.FAILED,
}

# Legacy fields the gateway takes inside `extra_body` rather than at the top level.
EXTRA_BODY_FIELDS = ("negative_prompt", "cfg_scale", "multi_prompt", "element_list", "shot_type")


def model_id(model_name: str, mode: str, sound: str) -> str:
    """`kling-v3` + `pro` + `on` -> `kling-v3-pro-audio` (the gateway encodes all three in the id)."""
    tier = "pro" if mode == "pro" else "std"
    return f"{model_name}-{tier}-{'audio' if sound == 'on' else 'silent'}"


def _image_reference(value: str) -> str:
    """The gateway takes image URLs; raw Base64 goes as a data URI (its OpenAI-style form)."""
    if value.startswith(("http://", "https://", "data:")):
        return value
    mime = "image/png" if value.startswith("iVBOR") else "image/jpeg"
    return f"data:{mime};base64,{value}"


def gateway_body(request: GenerationRequest) -> dict[str, Any]:
    if request.product not in VIDEO_PRODUCTS:
        raise errors.unsupported(f"the gateway only makes videos, not {request.product}")
    legacy = legacy_body(request)  # the same normalization (and camera/image checks) as for Kling
    model_name = legacy.get("model_name") or "kling-v3"
    body: dict[str, Any] = {
        "model": model_id(model_name, legacy.get("mode", "std"), legacy.get("sound", "off")),
        "prompt": legacy.get("prompt", ""),
    }
    if legacy.get("image"):
        body["image"] = _image_reference(legacy["image"])
    if legacy.get("image_tail"):
        body["last_image"] = _image_reference(legacy["image_tail"])
    if legacy.get("aspect_ratio"):
        body["aspect_ratio"] = legacy["aspect_ratio"]
    if "duration" in legacy:
        try:
            body["duration"] = int(float(legacy["duration"]))
        except ValueError:
            raise errors.unsupported(f"duration {legacy['duration']!r} is not a number of seconds") from None
    extra = {name: legacy[name] for name in EXTRA_BODY_FIELDS if legacy.get(name) not in (None, "", [])}
    if extra:
        body["extra_body"] = extra
    return body


def _seconds_or_ms(value: Any) -> datetime | None:
    number = to_float(value)
    if number is None:
        return None
    if number > 1e12:  # milliseconds
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _failure_message(data: dict[str, Any]) -> str:
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    if isinstance(error, str) and error:
        return error
    for key in ("fail_reason", "failure_reason", "task_status_msg", "message"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return ""


def parse_task(payload: dict[str, Any], product: str, *, creating: bool = False) -> ProviderTask:
    """A gateway job (create or query answer) as a ProviderTask."""
    data = payload
    # Some deployments wrap the job in {code, data}; accept both.
    if "id" not in data and "task_id" not in data and isinstance(data.get("data"), dict):
        data = data["data"]
    task_id = data.get("task_id") or data.get("id")
    if isinstance(task_id, bool) or not isinstance(task_id, (str, int)) or str(task_id) == "":
        raise errors.bad_response("gateway answer has no task id", creating=creating)
    raw_status = data.get("status")
    if raw_status in (None, "") and creating:
        raw_status = "queued"
    status = STATUSES.get(str(raw_status).lower()) if isinstance(raw_status, str) else None
    if status is None:
        raise errors.bad_response(
            f"unknown gateway status {raw_status!r} for task {task_id}", creating=creating
        )
    media: tuple[ProviderMedia, ...] = ()
    url = data.get("video_url") or data.get("url")
    if status == TaskStatus.SUCCEEDED:
        if not isinstance(url, str) or not url:
            raise errors.bad_response(f"gateway task {task_id} completed without a video_url")
        media = (
            ProviderMedia(
                url=url,
                kind="video",
                duration=to_float(data.get("duration") or data.get("seconds")),
                cover_url=str(data.get("cover_url") or data.get("thumbnail_url") or ""),
            ),
        )
    return ProviderTask(
        task_id=str(task_id),
        status=status,
        product=product,
        status_message=_failure_message(data) if status == TaskStatus.FAILED else "",
        media=media,
        created_at=_seconds_or_ms(data.get("created_at")),
        updated_at=_seconds_or_ms(data.get("updated_at") or data.get("completed_at")),
        raw=data,
    )


def _error_from_body(payload: dict[str, Any], http_status: int, *, creating: bool) -> ProviderError:
    """A gateway error: a Kling business code passed through when present, else by HTTP status."""
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    message = str(error.get("message") or payload.get("message") or "")
    for candidate in (payload.get("code"), error.get("code")):
        if isinstance(candidate, str) and candidate.isdigit():
            candidate = int(candidate)
        if isinstance(candidate, int) and candidate in errors.KLING_CODES:
            return errors.from_kling_code(
                candidate, http_status=http_status, message=message, creating=creating
            )
    return errors.from_http_status(
        http_status, detail=f"gateway HTTP {http_status}: {message}", creating=creating
    )


class GatewayClient(HTTPProviderClient):
    name = "gateway"
    label = "gateway"
    logger = logger

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        take_request: Any = None,
        rate_wait_seconds: float = 2.0,
    ) -> None:
        super().__init__(
            base_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            session=session,
            take_request=take_request,
            rate_wait_seconds=rate_wait_seconds,
        )
        self.api_key = api_key

    @classmethod
    def from_settings(cls) -> GatewayClient:
        from generations import limiter

        return cls(
            settings.GATEWAY_API_BASE,
            settings.GATEWAY_API_KEY,
            connect_timeout=settings.KLING_CONNECT_TIMEOUT,
            read_timeout=settings.KLING_READ_TIMEOUT,
            take_request=limiter.take_for_http_request,
        )

    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None, creating: bool = False):
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        response, elapsed_ms = self._send(method, path, headers=headers, body=body, creating=creating)
        payload = read_json_object(response, creating=creating)
        request_id = str(
            payload.get("request_id")
            or response.headers.get("X-Request-Id")
            or response.headers.get("X-Oneapi-Request-Id")
            or ""
        )
        logger.info(
            "gateway %s %s -> HTTP %s request_id=%s in %.0f ms",
            method,
            path,
            response.status_code,
            request_id,
            elapsed_ms,
        )
        code = payload.get("code")
        failed_envelope = isinstance(code, int) and not isinstance(code, bool) and code != 0
        is_job = "id" in payload or "task_id" in payload or isinstance(payload.get("data"), dict)
        if (
            response.status_code >= 400
            or failed_envelope
            or (isinstance(payload.get("error"), dict) and not is_job)
        ):
            error = _error_from_body(payload, response.status_code, creating=creating)
            error.request_id = request_id
            raise error
        return payload

    def submit(self, request: GenerationRequest) -> ProviderTask:
        payload = self._call("POST", "/v1/video/generations", body=gateway_body(request), creating=True)
        task = parse_task(payload, request.product, creating=True)
        return dataclasses.replace(task, external_id=str(request.external_task_id))

    def get(self, product: str, task_id: str) -> ProviderTask:
        payload = self._call("GET", f"/v1/videos/{quote(str(task_id), safe='')}")
        return parse_task(payload, product)

    def find_by_external_id(self, product: str, external_id: str) -> ProviderTask | None:
        raise errors.unsupported("the gateway cannot look a task up by our external id")

    def list_tasks(self, product: str, page: int = 1, page_size: int = 500) -> TaskPage:
        raise errors.unsupported("the gateway has no task list: poll each task with get()")
