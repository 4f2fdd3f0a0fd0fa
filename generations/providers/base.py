"""The one interface every provider client implements, and its typed results.

A `product` is Kling's path family (`videos/text2video`, `videos/image2video`,
`images/generations`, ...). A task is only visible at the product path that created
it, so callers store it with the task and pass it back on every lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class TaskStatus:
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    ALL = (SUBMITTED, PROCESSING, SUCCEEDED, FAILED)
    TERMINAL = (SUCCEEDED, FAILED)


@dataclass(frozen=True)
class ProviderMedia:
    url: str
    kind: str  # "video", "image" or "audio"
    index: int = 0
    duration: float | None = None
    cover_url: str = ""
    id: str = ""


@dataclass(frozen=True)
class ProviderTask:
    task_id: str
    status: str  # one of TaskStatus
    product: str
    external_id: str = ""
    status_message: str = ""
    media: tuple[ProviderMedia, ...] = ()
    units_charged: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TaskStatus.TERMINAL


@dataclass(frozen=True)
class TaskPage:
    tasks: tuple[ProviderTask, ...]
    page: int
    page_size: int


@dataclass(frozen=True)
class GenerationRequest:
    """What to create, in Kling's legacy field names.

    `params` holds the validated body fields (`model_name`, `prompt`, `mode`, `duration`,
    `aspect_ratio`, `sound`, `camera_control`, `n`, `image`, `image_tail`, ...); images are
    URLs or raw Base64 without a `data:` prefix. The client adds `external_task_id` and
    `callback_url` from the fields below.
    """

    product: str
    params: dict[str, Any]
    external_task_id: str
    callback_url: str = ""


@dataclass(frozen=True)
class ResourcePack:
    name: str
    remaining: float
    total: float
    status: str
    expires_at: datetime | None = None


class ProviderError(Exception):
    """Any failure talking to a provider, classified so callers can decide what to do.

    - `code`: our stable code (e.g. "rate_limited", "content_refused", "bad_response").
    - `provider_code` / `http_status`: what the provider answered, when it answered.
    - `retryable`: trying again later may succeed.
    - `may_have_created`: a create may have reached the provider (timeout, dropped
      connection, 5000/5002): look the task up by external id before any retry.
    - `user_message`: a sentence a person understands.
    """

    def __init__(
        self,
        code: str,
        user_message: str,
        *,
        provider_code: int | None = None,
        http_status: int | None = None,
        retryable: bool = False,
        may_have_created: bool = False,
        detail: str = "",
        request_id: str = "",
    ) -> None:
        self.code = code
        self.user_message = user_message
        self.provider_code = provider_code
        self.http_status = http_status
        self.retryable = retryable
        self.may_have_created = may_have_created
        self.detail = detail
        self.request_id = request_id
        super().__init__(f"{code}: {detail or user_message}")


class Provider(Protocol):
    name: str

    def submit(self, request: GenerationRequest) -> ProviderTask: ...

    def get(self, product: str, task_id: str) -> ProviderTask: ...

    def find_by_external_id(self, product: str, external_id: str) -> ProviderTask | None: ...

    def list_tasks(self, product: str, page: int = 1, page_size: int = 500) -> TaskPage: ...
