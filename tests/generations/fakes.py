"""In-memory stand-ins for the provider and the limiter, with fault switches.

`FakeProvider` implements the Provider protocol (generations/providers/base.py) the way
Kling's legacy API behaves: tasks live at the product path that created them, they are
found by task id or by our external_task_id, the list endpoint returns the newest tasks
of a product, and a create that times out may or may not have made the task. Every call
is recorded, so tests can count provider requests and paid jobs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal

from generations.providers import errors
from generations.providers.base import (
    GenerationRequest,
    ProviderError,
    ProviderMedia,
    ProviderTask,
    TaskPage,
    TaskStatus,
)

MEDIA_BASE = "https://cdn.klingai.com/fake"


def rate_limited() -> ProviderError:
    """Kling 1303: too many tasks in flight; nothing was created."""
    return ProviderError(
        "rate_limited",
        "Kling is busy right now; we will try again shortly.",
        provider_code=1303,
        http_status=429,
        retryable=True,
        detail="parallel task over resource pack limit",
    )


def timed_out() -> ProviderError:
    """A create whose answer never came: the task may exist."""
    return ProviderError(
        "timeout",
        "Kling did not answer in time.",
        retryable=True,
        may_have_created=True,
        detail="read timeout",
    )


def server_timeout() -> ProviderError:
    """Kling 5002 (internal timeout): may have created the task."""
    return ProviderError(
        "provider_error",
        "Kling had a problem; we will try again.",
        provider_code=5002,
        http_status=504,
        retryable=True,
        may_have_created=True,
    )


def malformed() -> ProviderError:
    """An answer that was not the JSON the contract promises."""
    return ProviderError("bad_response", "Kling sent an answer we could not read.", retryable=True)


def malformed_create() -> ProviderError:
    """A create answered with something unreadable: it may have been accepted."""
    return ProviderError(
        "bad_response", "Kling sent an answer we could not read.", retryable=True, may_have_created=True
    )


def external_id_taken(external_id: str) -> ProviderError:
    """Kling 1201 on a create whose external_task_id an earlier task already has."""
    return errors.from_kling_code(
        1201, http_status=400, message=f"external_task_id {external_id} already exists", creating=True
    )


def content_refused() -> ProviderError:
    """Kling 1301: input moderation; permanent."""
    return ProviderError(
        "content_refused",
        "Kling refused this prompt under its content rules. Please change it and try again.",
        provider_code=1301,
        http_status=400,
    )


def not_found() -> ProviderError:
    return ProviderError("not_found", "Kling does not know this task.", provider_code=1203, http_status=404)


@dataclass
class FakeTask:
    task_id: str
    product: str
    external_id: str
    params: dict
    status: str = TaskStatus.SUBMITTED
    message: str = ""
    media: tuple[ProviderMedia, ...] = ()
    units: Decimal | None = None
    serial: int = 0

    def view(self) -> ProviderTask:
        return ProviderTask(
            task_id=self.task_id,
            status=self.status,
            product=self.product,
            external_id=self.external_id,
            status_message=self.message,
            media=self.media,
            units_charged=self.units,
        )


@dataclass
class _Fault:
    error: ProviderError
    created: bool = False


@dataclass
class FakeProvider:
    name: str = "fake"
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)
    requests: list[GenerationRequest] = field(default_factory=list)
    hidden_from_list: set[str] = field(default_factory=set)
    submit_faults: list[_Fault] = field(default_factory=list)
    get_faults: list[ProviderError] = field(default_factory=list)
    list_faults: list[ProviderError] = field(default_factory=list)
    find_faults: list[ProviderError] = field(default_factory=list)
    find_misses: int = 0
    # Finish tasks right away on submit (for quick end-to-end runs).
    auto_finish: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._serial = 867283741759111200

    # --- fault switches ------------------------------------------------------------------

    def fail_next_submit(self, error: ProviderError, *, created: bool = False) -> None:
        """The next submit raises `error`; with `created`, the task is made first (the
        answer was lost on the way back)."""
        self.submit_faults.append(_Fault(error, created))

    def fail_next_get(self, error: ProviderError) -> None:
        self.get_faults.append(error)

    def fail_next_list(self, error: ProviderError) -> None:
        self.list_faults.append(error)

    def fail_next_find(self, error: ProviderError) -> None:
        self.find_faults.append(error)

    def miss_next_find(self) -> None:
        """The next lookup by external id answers "no such task" even if it exists (Kling's
        lists and lookups can lag just behind a create)."""
        self.find_misses += 1

    def hide_from_list(self, task_id: str) -> None:
        """As if the task had fallen beyond the list's first page."""
        self.hidden_from_list.add(task_id)

    # --- moving tasks along --------------------------------------------------------------

    def task_for(self, generation) -> FakeTask:
        return next(t for t in self.tasks.values() if t.external_id == str(generation.external_task_id))

    def start(self, task_id: str) -> None:
        self.tasks[task_id].status = TaskStatus.PROCESSING

    def succeed(self, task_id: str, *, units: str = "2.5", urls: list[str] | None = None) -> FakeTask:
        task = self.tasks[task_id]
        is_video = task.product.startswith("videos/")
        if urls is None:
            count = 1 if is_video else int(task.params.get("n", 1))
            ext = "mp4" if is_video else "png"
            urls = [f"{MEDIA_BASE}/{task_id}/{i}.{ext}" for i in range(count)]
        task.media = tuple(
            ProviderMedia(
                url=url, kind="video" if is_video else "image", index=i, duration=5.1 if is_video else None
            )
            for i, url in enumerate(urls)
        )
        task.status = TaskStatus.SUCCEEDED
        task.units = Decimal(units)
        return task

    def fail(self, task_id: str, message: str = "Failure to pass the risk control system") -> FakeTask:
        task = self.tasks[task_id]
        task.status = TaskStatus.FAILED
        task.message = message
        task.units = Decimal("0")
        return task

    # --- counters ------------------------------------------------------------------------

    def count(self, what: str) -> int:
        return sum(1 for call in self.calls if call[0] == what)

    @property
    def request_count(self) -> int:
        return len(self.calls)

    def jobs_for(self, generation) -> list[FakeTask]:
        """Paid jobs made for one generation: there must never be more than one."""
        return [t for t in self.tasks.values() if t.external_id == str(generation.external_task_id)]

    # --- the Provider protocol -----------------------------------------------------------

    def _create(self, request: GenerationRequest) -> FakeTask:
        self._serial += 1
        task = FakeTask(
            task_id=str(self._serial),
            product=request.product,
            external_id=request.external_task_id,
            params=dict(request.params),
            serial=self._serial,
        )
        self.tasks[task.task_id] = task
        return task

    def submit(self, request: GenerationRequest) -> ProviderTask:
        with self._lock:
            self.calls.append(("submit", request.product, request.external_task_id))
            self.requests.append(request)
            if self.submit_faults:
                fault = self.submit_faults.pop(0)
                if fault.created:
                    self._create(request)
                raise fault.error
            task = self._create(request)
        if self.auto_finish == "succeed":
            self.succeed(task.task_id)
        elif self.auto_finish == "fail":
            self.fail(task.task_id)
        return task.view()

    def get(self, product: str, task_id: str) -> ProviderTask:
        with self._lock:
            self.calls.append(("get", product, task_id))
            if self.get_faults:
                raise self.get_faults.pop(0)
            task = self.tasks.get(task_id)
            if task is None or task.product != product:
                raise not_found()
            return task.view()

    def find_by_external_id(self, product: str, external_id: str) -> ProviderTask | None:
        with self._lock:
            self.calls.append(("find", product, external_id))
            if self.find_faults:
                raise self.find_faults.pop(0)
            if self.find_misses:
                self.find_misses -= 1
                return None
            for task in self.tasks.values():
                if task.product == product and task.external_id == external_id:
                    return task.view()
            return None

    def parse_callback(self, product: str, body: bytes) -> ProviderTask:
        # Kling's own reading of a callback body (no request: it is not counted).
        from generations.providers.kling import KlingClient

        return KlingClient.parse_callback(product, body)

    def list_tasks(self, product: str, page: int = 1, page_size: int = 500) -> TaskPage:
        with self._lock:
            self.calls.append(("list", product, page, page_size))
            if self.list_faults:
                raise self.list_faults.pop(0)
            newest_first = sorted(
                (
                    t
                    for t in self.tasks.values()
                    if t.product == product and t.task_id not in self.hidden_from_list
                ),
                key=lambda t: -t.serial,
            )
            start = (page - 1) * page_size
            return TaskPage(tuple(t.view() for t in newest_first[start : start + page_size]), page, page_size)


class MemoryLimiter:
    """The limiter interface (generations/limiter.py) in memory: idempotent slots per
    generation and a request budget that tests can spend down."""

    def __init__(self, slots: int = 5, requests: int | None = None) -> None:
        self.slots = slots
        self.requests = requests
        self.holders: dict[int, int] = {}  # generation id -> slots held
        self.released: list[int] = []
        self._lock = threading.Lock()

    def try_acquire_slot(self, generation_id: int, count: int = 1) -> bool:
        with self._lock:
            if generation_id in self.holders:
                return True
            count = max(1, min(count, self.slots))
            if sum(self.holders.values()) + count > self.slots:
                return False
            self.holders[generation_id] = count
            return True

    def release_slot(self, generation_id: int) -> None:
        with self._lock:
            self.holders.pop(generation_id, None)
            self.released.append(generation_id)

    def release_slots(self, generation_ids: list[int]) -> None:
        for generation_id in generation_ids:
            self.release_slot(generation_id)

    def free_slots(self) -> int | None:
        with self._lock:
            return max(0, self.slots - sum(self.holders.values()))

    def try_take_request(self) -> bool:
        with self._lock:
            if self.requests is None:
                return True
            if self.requests <= 0:
                return False
            self.requests -= 1
            return True


def record_finishes(monkeypatch) -> list[int]:
    """The ids of the generations each terminal transition (single or batched) moved, in
    order, counted at the places they happen; safe across threads."""
    from generations import services
    from generations.models import TERMINAL_STATUSES

    finished: list[int] = []
    lock = threading.Lock()
    real_transition, real_succeed_many = services.transition, services.succeed_many

    def transition(generation_id, from_statuses, to_status, **fields):
        changed = real_transition(generation_id, from_statuses, to_status, **fields)
        if changed and to_status in TERMINAL_STATUSES:
            with lock:
                finished.append(generation_id)
        return changed

    def succeed_many(results, from_statuses):
        moved = real_succeed_many(results, from_statuses)
        with lock:
            finished.extend(moved)
        return moved

    monkeypatch.setattr(services, "transition", transition)
    monkeypatch.setattr(services, "succeed_many", succeed_many)
    return finished
