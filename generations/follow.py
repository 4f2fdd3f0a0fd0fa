"""Following generations at the provider: submit, check, and the poll sweep.

Every function here claims the rows it works on before calling the provider (a
conditional UPDATE that moves `due_at` forward, which doubles as a lease), never
holds a database transaction open across an HTTP request, and changes status only through
`services.transition()`. So any number of workers, callbacks and sweeps can run at once:
the worst a race can do is repeat a lookup.

The provider is whatever `generations.providers.get_provider()` returns; our own limits
on using it live in `generations.limiter`. Both are looked up at call time.
"""

from __future__ import annotations

import base64
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_q import conf as django_q_conf

from generations import fair_queue, inputs, limiter, providers, queue, services
from generations.models import (
    IN_FLIGHT_STATUSES,
    MAX_FETCH_ATTEMPTS,
    UNFINISHED_STATUSES,
    Generation,
    Status,
    WaitReason,
)
from generations.providers.base import GenerationRequest, ProviderError, ProviderTask, TaskStatus
from generations.providers.errors import failed_task_user_message, is_not_found
from kling_site import stored_text
from kling_site.links import absolute_url

logger = logging.getLogger(__name__)

# A claimed poll: one pass's list call and single lookups are done well within this.
POLL_LEASE = timedelta(seconds=90)
# A queued (or succeeded but unsaved) row nobody picked up this long after it was due to
# be: its task was lost (a crash between commit and enqueue); the sweep sends it again.
LOST_TASK_GRACE = timedelta(seconds=30)
LIST_PAGE_SIZE = 500  # Kling's maximum: one list call covers 500 tasks of a product
MAX_LIST_PAGES = 1000  # Kling's largest pageNum
# Kling's clock and ours may differ a little: a page ends the walk only when its last task
# is older than our oldest claimed one by more than this.
LIST_CLOCK_SKEW = timedelta(minutes=5)
# Unsigned callbacks arriving within this many seconds share one list call per product.
CONFIRM_DEBOUNCE_SECONDS = 1
MAX_POLL_INTERVAL_SECONDS = 120
RETRY_BASE_SECONDS = 2  # Kling advises at least 1 s before retrying 1303
RETRY_CAP_SECONDS = 300


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: about 2, 4, 8 ... seconds, at most 5 minutes; the
    random half spreads out retries that failed together."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def poll_base_seconds() -> int:
    return settings.GENERATION_POLL_SECONDS if settings.GENERATION_POLL_SECONDS > 0 else 60


def poll_interval(generation: Generation, now: datetime) -> timedelta:
    """Poll young tasks every pass and older ones less often (a tenth of their age, at
    most two minutes): most finish within Kling's typical times, a few take much longer."""
    age = (now - (generation.submitted_at or generation.created_at)).total_seconds()
    return timedelta(seconds=min(MAX_POLL_INTERVAL_SECONDS, max(poll_base_seconds(), age / 10)))


# Kept in English on the generation and translated when read (kling_site.stored_text).
UNCONFIRMED_MESSAGE = gettext_noop(
    "We lost Kling's answer to this request and cannot confirm it arrived, so we stopped it "
    "and gave your credits back. Please try again."
)
NO_RESULT_MESSAGE = gettext_noop("Kling reported success but sent no result. Please try again.")
_DEADLINE = stored_text.template(
    gettext_noop("Kling did not finish this within %(minutes)s minutes, so we stopped waiting for it.")
)
_NEVER_STARTED = stored_text.template(
    gettext_noop("Kling was too busy to start this within %(minutes)s minutes. Please try again later.")
)


def deadline_message() -> str:
    return _DEADLINE % {"minutes": settings.GENERATION_DEADLINE_MINUTES}


def never_started_message() -> str:
    return _NEVER_STARTED % {"minutes": settings.GENERATION_DEADLINE_MINUTES}


# --- submit -----------------------------------------------------------------------------


# Choices of ours kept with the request (to show on its page and to remix with) that
# Kling has no field for: never sent.
LOCAL_PARAMS = frozenset({"garment_type"})


def build_request(generation: Generation) -> GenerationRequest:
    params = {k: v for k, v in generation.params.items() if k not in LOCAL_PARAMS}
    if generation.input_image:
        params["image"] = _base64(generation.input_image)
    if generation.input_image_tail:
        params["image_tail"] = _base64(generation.input_image_tail)
    params.update(input_params(generation))
    return GenerationRequest(
        product=generation.product,
        params=params,
        external_task_id=str(generation.external_task_id),
        callback_url=absolute_url(generation.callback_path()),
    )


# Input files by the Kling field they fill: pictures in a list go as raw Base64 (as the
# start frames do); videos, sound and single `*_url` pictures as signed URLs Kling fetches.
LIST_FIELDS = {"image_list": "image", "subject_image_list": "subject_image"}
# Single pictures of the image kinds, whose fields take raw Base64 like `image` does.
BASE64_FIELDS = frozenset({"scene_image", "style_image", "human_image", "cloth_image"})


def input_params(generation: Generation) -> dict:
    """The request fields the generation's InputFiles fill (signed afresh on each submit)."""
    params: dict = {}
    for given in generation.inputs.order_by("field", "index"):
        if given.field in LIST_FIELDS:
            params.setdefault(given.field, []).append({LIST_FIELDS[given.field]: _base64(given.file)})
        elif given.field in BASE64_FIELDS:
            params[given.field] = _base64(given.file)
        else:
            params[given.field] = inputs.signed_url(given)
    return params


def _base64(field) -> str:
    # Kling wants raw Base64, without a `data:image/...;base64,` prefix.
    with field.open("rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def submit(generation_id: int) -> None:
    """Send a queued generation to the provider, once.

    Waits (in our queue, not on Kling's 1303) for a limiter slot and the request budget.
    Whenever a create request may have reached the provider, the next attempt first looks
    the task up by our external_task_id, so a retry never creates a second paid job.
    """
    now = timezone.now()
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.QUEUED)
        .filter(Q(due_at__isnull=True) | Q(due_at__lte=now))
        # Held for queue.task_lease(): a second submit starts only once this one has ended.
        .update(due_at=now + queue.task_lease())
    )
    if not claimed:
        return
    generation = Generation.objects.get(pk=generation_id)
    if generation.deadline_at and now >= generation.deadline_at:
        _give_up_queued(generation)
        return
    # A possibly created task keeps the slot it had; anyone else waits for their turn.
    its_turn = generation.maybe_created or fair_queue.may_take_slot(generation)
    if not its_turn or not limiter.try_acquire_slot(generation.pk, generation.slot_count):
        _wait(generation, WaitReason.SLOT, poll_base_seconds())
        return
    if not Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).exists():
        # Failed or stopped (deadline, staff) after our claim: its terminal transition may
        # already have freed slots, so the one just taken would never be freed.
        limiter.release_slot(generation.pk)
        return
    provider = providers.get_provider()

    if generation.maybe_created:
        if not limiter.try_take_request():
            _wait(generation, WaitReason.BUDGET, 5)
            return
        try:
            found = provider.find_by_external_id(generation.product, str(generation.external_task_id))
        except ProviderError as exc:
            logger.warning("generation %s: lookup by external id failed: %s", generation.pk, exc)
            if exc.code == "unsupported":
                # This provider will never tell whether the lost create arrived; holding
                # the slot until the deadline would only block everyone else meanwhile.
                _fail_unconfirmed(generation)
                return
            _wait(generation, WaitReason.RETRY, backoff_seconds(generation.attempts))
            return
        if found is not None:
            logger.info("generation %s: found task %s from an earlier attempt", generation.pk, found.task_id)
            _accepted(generation, found)
            return
        Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(maybe_created=False)

    if not limiter.try_take_request():
        # Nothing sent, nothing at Kling: the slot can serve someone else meanwhile.
        limiter.release_slot(generation.pk)
        _wait(generation, WaitReason.BUDGET, 5)
        return
    # Recorded before sending: if this worker dies mid-request, the next attempt looks first.
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
        maybe_created=True, attempts=F("attempts") + 1
    )
    attempt = generation.attempts + 1
    try:
        task = provider.submit(build_request(generation))
    except ProviderError as exc:
        _submit_failed(generation, exc, attempt)
        return
    _accepted(generation, task)


def _submit_failed(generation: Generation, exc: ProviderError, attempt: int) -> None:
    logger.warning(
        "generation %s: submit attempt %s failed: %s (retryable=%s, may_have_created=%s, request %s)",
        generation.pk,
        attempt,
        exc,
        exc.retryable,
        exc.may_have_created,
        exc.request_id or "-",
    )
    if exc.may_have_created:
        # The task may exist (and hold a Kling slot): keep ours, look it up next time.
        _wait(generation, WaitReason.RETRY, backoff_seconds(attempt))
        return
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(maybe_created=False)
    if exc.retryable:
        limiter.release_slot(generation.pk)
        _wait(generation, WaitReason.RETRY, backoff_seconds(attempt))
        return
    services.fail(
        generation.pk,
        code=exc.code,
        message=exc.user_message,
        provider_message=exc.detail or str(exc),
        from_statuses=[Status.QUEUED],
    )


def _fail_unconfirmed(generation: Generation) -> None:
    services.fail(
        generation.pk,
        code="unconfirmed",
        message=UNCONFIRMED_MESSAGE,
        provider_message="the create's answer was lost and the provider cannot look tasks up by external id",
        from_statuses=[Status.QUEUED],
    )


def _wait(generation: Generation, reason: str, seconds: float) -> None:
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
        wait_reason=reason, due_at=timezone.now() + timedelta(seconds=seconds)
    )


def _accepted(generation: Generation, task: ProviderTask) -> None:
    """The provider has the task: record it, then act on whatever state it is already in."""
    now = timezone.now()
    moved = services.transition(
        generation.pk,
        [Status.QUEUED],
        Status.SUBMITTED,
        task_id=task.task_id,
        maybe_created=False,
        due_at=now + timedelta(seconds=poll_base_seconds()),
        # Kling's time counts from here: waiting in our own queue does not eat into it.
        deadline_at=now + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES),
    )
    if not moved:
        # We gave up on it (deadline, staff) while the request was under way.
        logger.warning(
            "generation %s: provider task %s exists but the generation is no longer queued",
            generation.pk,
            task.task_id,
        )
        return
    generation.refresh_from_db()
    if task.status != TaskStatus.SUBMITTED:
        apply_task(generation, task)


def _give_up_queued(generation: Generation) -> None:
    """Past its deadline without a confirmed task: one last look, then fail and refund.

    When a create may have reached the provider, only a successful lookup decides: if the
    budget is spent or the lookup errors, try again shortly rather than refund a job that
    Kling may still run and bill.
    """
    if generation.maybe_created:
        if not limiter.try_take_request():
            _wait(generation, WaitReason.BUDGET, 5)
            return
        try:
            found = providers.get_provider().find_by_external_id(
                generation.product, str(generation.external_task_id)
            )
        except ProviderError as exc:
            logger.warning("generation %s: last lookup before the deadline failed: %s", generation.pk, exc)
            if exc.code != "unsupported":
                _wait(generation, WaitReason.RETRY, backoff_seconds(generation.attempts))
                return
            # A provider that cannot look tasks up by our id will never tell us more.
            found = None
        if found is not None:
            _accepted(generation, found)
            generation.refresh_from_db()
            if not generation.is_terminal:
                services.fail(generation.pk, code="deadline", message=deadline_message())
            return
    services.fail(
        generation.pk, code="deadline", message=never_started_message(), from_statuses=[Status.QUEUED]
    )


# --- what the provider says -------------------------------------------------------------


def apply_task(generation: Generation, task: ProviderTask) -> None:
    """Bring a generation in line with its provider task (confirmed by our own lookup)."""
    if task.task_id and generation.task_id and task.task_id != generation.task_id:
        logger.error(
            "generation %s: got task %s, expected %s", generation.pk, task.task_id, generation.task_id
        )
        return
    if task.status == TaskStatus.SUCCEEDED:
        media = [m for m in task.media if m.url]
        if not media:
            services.fail(
                generation.pk,
                code="no_result",
                message=NO_RESULT_MESSAGE,
                provider_message=task.status_message or "succeeded without media",
                from_statuses=IN_FLIGHT_STATUSES,
                units_charged=task.units_charged,
            )
            return
        services.transition(generation.pk, IN_FLIGHT_STATUSES, Status.SUCCEEDED, **_success_fields(task))
        return
    if task.status == TaskStatus.FAILED:
        services.fail(
            generation.pk,
            code="generation_failed",
            message=failed_task_user_message(task.status_message, kind=generation.kind),
            provider_message=task.status_message or "failed",
            from_statuses=IN_FLIGHT_STATUSES,
            units_charged=task.units_charged,
        )
        return
    now = timezone.now()
    due_at = now + poll_interval(generation, now)
    # The first "processing" sets the next look in the same write (one per callback).
    if task.status == TaskStatus.PROCESSING and services.transition(
        generation.pk, [Status.SUBMITTED], Status.PROCESSING, due_at=due_at
    ):
        return
    Generation.objects.filter(pk=generation.pk, status__in=IN_FLIGHT_STATUSES).update(due_at=due_at)


def _success_fields(task: ProviderTask) -> dict:
    media = [m for m in task.media if m.url]
    return {
        "result_media": [
            {
                "kind": m.kind,
                # Images keep Kling's index; a video and its sound are told apart by position.
                "index": m.index if m.kind == "image" else i,
                "url": m.url,
                "duration": m.duration,
                "id": m.id,
            }
            for i, m in enumerate(media)
        ],
        "units_charged": task.units_charged,
        "provider_message": task.status_message[:2000],
    }


def _plain_success(generation: Generation, task: ProviderTask) -> bool:
    """A success apply_task() would write as a bare transition (results, nothing given back)."""
    return (
        task.status == TaskStatus.SUCCEEDED
        and task.task_id == generation.task_id
        and any(m.url for m in task.media)
        and not services.may_give_back(generation)
    )


def refresh(generation_id: int) -> None:
    """Look one generation up now (after a callback, or when staff ask)."""
    generation = Generation.objects.filter(pk=generation_id, status__in=IN_FLIGHT_STATUSES).first()
    if generation is None:
        return
    # Not exclusive on purpose: a callback should not wait for a sweep holding the row, and
    # a repeated lookup with compare-and-set transitions is harmless.
    Generation.objects.filter(pk=generation_id, status__in=IN_FLIGHT_STATUSES).update(
        due_at=timezone.now() + POLL_LEASE
    )
    if not limiter.try_take_request():
        _poll_soon(generation.pk)
        return
    try:
        task = providers.get_provider().get(generation.product, generation.task_id)
    except ProviderError as exc:
        logger.warning("generation %s: lookup failed: %s", generation.pk, exc)
        _poll_soon(generation.pk)
        return
    apply_task(generation, task)


def hint(generation_id: int) -> None:
    """An unsigned callback says the task changed: make the row due now, so the product's
    next batched confirmation (or, failing that, the sweep) looks it up."""
    _poll_soon(generation_id)


def confirm_hints(product: str, not_before: float | None = None) -> SweepReport:
    """Confirm every hinted (due) generation of a product with list calls, not one GET each.

    Starts no sooner than `not_before` (the first hint of a burst plus
    CONFIRM_DEBOUNCE_SECONDS), so the hints that follow it within that window are covered
    by the same call. A task that waited in the queue that long already starts at once: a
    sleeping worker per product and second would fill a busy cluster and let the queue
    grow. A task the list does not show gets a single lookup; a lookup error never fails a
    job (see _poll_product).
    """
    if not django_q_conf.Conf.SYNC:
        # A synchronous queue (tests, `Q_CLUSTER["sync"]`) runs this inside the callback's
        # request, where nothing else can arrive meanwhile.
        wait = CONFIRM_DEBOUNCE_SECONDS if not_before is None else not_before - time.time()
        if wait > 0:
            time.sleep(min(wait, CONFIRM_DEBOUNCE_SECONDS))
    report = SweepReport()
    now = timezone.now()
    provider = providers.get_provider()
    while True:
        claimed = claim_due(product, now)
        if len(claimed) == LIST_PAGE_SIZE:
            # More may be due: another worker (of any cluster) confirms the next page meanwhile,
            # so a burst larger than a page is spread over the workers, not done by one.
            queue.confirm_hints(product, time.time())
        if claimed:
            _poll_product(provider, product, claimed, now, report)
        if len(claimed) < LIST_PAGE_SIZE:
            return report


def _poll_soon(generation_id: int, delay: float = 0) -> None:
    Generation.objects.filter(pk=generation_id, status__in=IN_FLIGHT_STATUSES).update(
        due_at=timezone.now() + timedelta(seconds=delay)
    )


# --- the sweep --------------------------------------------------------------------------


@dataclass
class SweepReport:
    polled: int = 0
    list_calls: int = 0
    get_calls: int = 0
    expired: int = 0
    resubmitted: int = 0
    slots_reaped: int = 0
    refetched: int = 0
    work_left: bool = False


def _due(now: datetime) -> Q:
    return Q(due_at__isnull=True) | Q(due_at__lte=now)


def claim_due(
    product: str, now: datetime, limit: int = LIST_PAGE_SIZE, due_by: datetime | None = None
) -> list[Generation]:
    """Claim up to `limit` in-flight generations of a product that are due for a poll
    (by `due_by`, now unless told).

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent sweeps split the work
    instead of queueing behind each other. SQLite has no row locks: each row is claimed by
    a conditional UPDATE on the `due_at` value we read, which only one sweep can win.
    """
    due = Generation.objects.filter(product=product, status__in=IN_FLIGHT_STATUSES).filter(
        _due(due_by or now)
    )
    ordered = due.order_by(F("due_at").asc(nulls_first=True), "pk")
    lease = now + POLL_LEASE
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(ordered.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            Generation.objects.filter(pk__in=ids).update(due_at=lease)
        else:
            ids = [
                pk
                for pk, due_at in ordered.values_list("pk", "due_at")[:limit]
                if Generation.objects.filter(pk=pk, status__in=IN_FLIGHT_STATUSES, due_at=due_at).update(
                    due_at=lease
                )
            ]
    return list(Generation.objects.filter(pk__in=ids).order_by("pk"))


def sweep(now: datetime | None = None, ahead: timedelta = timedelta(0)) -> SweepReport:
    """One pass over everything that needs the provider's attention.

    In-flight work: every due generation of a product is claimed and one walk of the
    product's list covers them all (a page per 500 tasks); tasks missing from it get a
    single lookup; past the deadline, one last lookup and then fail and refund. With
    `ahead` (the clock gives its cadence), what falls due before the next pass is looked
    at in this one, so no generation waits longer than its own poll interval.
    Also sends again queued work whose retry time has come (or whose task was lost) and
    copies of results that failed earlier.
    """
    now = now or timezone.now()
    # Below the lease, or rows claimed in this pass would count as due again.
    due_by = now + min(ahead, POLL_LEASE / 2)
    report = SweepReport()
    # Before resubmitting: a slot held by a finished or deleted generation (a worker killed
    # between taking a slot and recording it, say) would otherwise block the queue for good.
    report.slots_reaped = limiter.release_finished_slots()
    report.resubmitted = _resubmit_due(now)
    report.refetched = _refetch_due(now)
    products = (
        Generation.objects.filter(status__in=IN_FLIGHT_STATUSES)
        .filter(_due(due_by))
        .order_by()
        .values_list("product", flat=True)
        .distinct()
    )
    provider = None
    for product in list(products):
        claimed = _claim_all_due(product, now, due_by)
        if claimed:
            provider = provider or providers.get_provider()
            _poll_product(provider, product, claimed, now, report)
    report.work_left = has_work()
    return report


def _claim_all_due(product: str, now: datetime, due_by: datetime) -> list[Generation]:
    # All of them, not the first 500: at 5,000 in flight a pass that took one list page's
    # worth would reach the last rows only ten passes later.
    claimed: list[Generation] = []
    while True:
        batch = claim_due(product, now, due_by=due_by)
        claimed.extend(batch)
        if len(batch) < LIST_PAGE_SIZE:
            return claimed


def list_pages_needed() -> int:
    """List pages one pass reads to see every in-flight task: per product, the tasks made
    since its oldest in-flight one (finished ones in between are on the pages too), 500
    to a page."""
    oldest = (
        Generation.objects.filter(status__in=IN_FLIGHT_STATUSES)
        .order_by()
        .values("product")
        .annotate(since=Min(Coalesce("submitted_at", "created_at")))
    )
    pages = 0
    for row in oldest:
        tasks = Generation.objects.filter(product=row["product"], submitted_at__gte=row["since"]).count()
        pages += max(1, math.ceil(tasks / LIST_PAGE_SIZE))
    return pages


def has_work() -> bool:
    """Whether anything is left for a sweep to follow: unfinished jobs or results not copied yet."""
    return (
        Generation.objects.filter(status__in=UNFINISHED_STATUSES).exists()
        or Generation.objects.unsaved_results().filter(fetch_attempts__lt=MAX_FETCH_ATTEMPTS).exists()
    )


def list_covering(
    provider, product: str, claimed: list[Generation], report: SweepReport
) -> dict[str, ProviderTask]:
    """The claimed generations' tasks as the product's list shows them, newest first.

    Walks page after page until every claimed task is seen, the list ends, or it reaches
    tasks older than the oldest claimed one (the rest of an account's history can hold
    nothing we wait for). What is still missing then gets a single lookup.
    """
    missing = {g.task_id for g in claimed if g.task_id}
    oldest = min((g.submitted_at or g.created_at for g in claimed), default=None)
    listed: dict[str, ProviderTask] = {}
    for number in range(1, MAX_LIST_PAGES + 1):
        if not missing or not limiter.try_take_request():
            break
        report.list_calls += 1
        try:
            page = provider.list_tasks(product, number, LIST_PAGE_SIZE)
        except ProviderError as exc:
            logger.warning("sweep: listing %s (page %s) failed: %s", product, number, exc)
            break
        for task in page.tasks:
            if task.task_id in missing:
                missing.discard(task.task_id)
                listed[task.task_id] = task
        last = page.tasks[-1] if page.tasks else None
        if len(page.tasks) < LIST_PAGE_SIZE or last is None:
            break
        if oldest is not None and last.created_at is not None and last.created_at < oldest - LIST_CLOCK_SKEW:
            break
    return listed


def _poll_product(
    provider, product: str, claimed: list[Generation], now: datetime, report: SweepReport
) -> None:
    listed = list_covering(provider, product, claimed, report)
    # Finished ones first and together: a burst of finishes costs one transaction per
    # batch of rows, not one per row (services.succeed_many).
    plain = [g for g in claimed if g.task_id in listed and _plain_success(g, listed[g.task_id])]
    services.succeed_many([(g, _success_fields(listed[g.task_id])) for g in plain], IN_FLIGHT_STATUSES)
    report.polled += len(plain)
    done = {g.pk for g in plain}
    for generation in claimed:
        if generation.pk in done:
            continue
        report.polled += 1
        task = listed.get(generation.task_id)
        # Whether the provider itself told us how the task stands (found it, or said it has
        # no such task). Only such an answer may end a job at its deadline: one that Kling
        # may still finish and bill is never refunded because a lookup errored.
        answered = task is not None
        looked_up = answered
        if task is None and limiter.try_take_request():
            looked_up = True
            report.get_calls += 1
            try:
                task = provider.get(product, generation.task_id)
                answered = True
            except ProviderError as exc:
                # A task not found right after create may just not be visible yet.
                answered = is_not_found(exc)
                logger.warning("sweep: lookup of generation %s failed: %s", generation.pk, exc)
        if task is not None:
            apply_task(generation, task)
        expired = generation.deadline_at is not None and generation.deadline_at <= now
        if expired and answered and (task is None or not task.is_terminal):
            if services.fail(
                generation.pk, code="deadline", message=deadline_message(), from_statuses=IN_FLIGHT_STATUSES
            ):
                report.expired += 1
        elif task is None:
            # No answer (budget spent or lookup failed): try again on a later pass.
            _poll_soon(generation.pk, 0 if not looked_up else poll_base_seconds())


def _resubmit_due(now: datetime) -> int:
    """Queued work whose wait is over, or whose submit task never ran."""
    due = Generation.objects.filter(status=Status.QUEUED).filter(
        Q(due_at__lte=now) | Q(due_at__isnull=True, created_at__lte=now - LOST_TASK_GRACE)
    )
    # In turn across owners, a few per pass: more would only find the limiter full.
    turns = fair_queue.in_turn(due, max(settings.KLING_MAX_CONCURRENCY, 1) * 2)
    for pk, _ in turns:
        queue.submit(pk)
    return len(turns)


def _refetch_due(now: datetime) -> int:
    due = (
        Generation.objects.unsaved_results()
        .filter(fetch_attempts__lt=MAX_FETCH_ATTEMPTS)
        .filter(Q(due_at__lte=now) | Q(due_at__isnull=True, finished_at__lte=now - LOST_TASK_GRACE))
        .order_by("finished_at", "pk")
        .values_list("pk", flat=True)
    )
    ids = list(due[:20])
    for pk in ids:
        queue.fetch_results(pk)
    return len(ids)
