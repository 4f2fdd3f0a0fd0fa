"""Kling's callbacks: `POST /callbacks/kling/<generation id>/<token>/`.

Authenticated by the unguessable per-generation token in its URL. Unsigned, a callback is
only a hint that something changed: a terminal state it reports is confirmed with our own
lookup before anything changes, batched so a burst of callbacks shares one list call per
product, by the clock process (or, without one, a worker). When KLING_WEBHOOK_SECRET is set, only a valid Standard Webhooks
signature is accepted, and the signed body is itself the confirmation: no lookup at all.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generations import clock, follow, providers, queue, services
from generations.models import TERMINAL_STATUSES, Generation, Status
from generations.providers import webhook_signature
from generations.providers.base import ProviderError, ProviderTask, TaskStatus
from kling_site.cache_errors import CACHE_ERRORS

logger = logging.getLogger(__name__)

# Kling's legacy and new-standard status words.
TERMINAL_HINTS = {"succeed", "succeeded", "failed"}
PROCESSING_HINTS = {"processing"}


def _hint(body: bytes) -> tuple[str, str]:
    """(status, task id) as the body claims them; empty strings when it says nothing usable."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    status = data.get("task_status") or data.get("status") or ""
    task_id = data.get("task_id") or data.get("id") or ""
    return (status if isinstance(status, str) else ""), (str(task_id) if task_id else "")


@csrf_exempt
@require_POST
def kling_callback(request: HttpRequest, generation_id: int, token: str) -> HttpResponse:
    # The whole row: a signed callback applies its body to it without reading it again.
    generation = Generation.objects.filter(pk=generation_id).first()
    # Compare even when there is no such generation, so timing tells nothing.
    expected = generation.callback_token if generation is not None else "-" * 32
    if not constant_time_compare(token, expected) or generation is None:
        raise Http404

    secret = settings.KLING_WEBHOOK_SECRET
    if secret:
        if not webhook_signature.verify(secret, request.headers, request.body):
            logger.warning("callback for generation %s: bad or stale signature", generation_id)
            return HttpResponseBadRequest("invalid signature")
        # A delivery seen in the last ten minutes is a replay or a retry: already handled.
        # Without the cache (Redis restarting) it is handled again, which is harmless: a
        # callback is only a hint, and looking the task up is idempotent.
        try:
            first = cache.add(f"generations:webhook:{request.headers['webhook-id']}", 1, 600)
        except CACHE_ERRORS as exc:
            logger.warning("callback for generation %s: replay check skipped: %s", generation_id, exc)
            first = True
        if not first:
            return HttpResponse("ok")

    if generation.status in TERMINAL_STATUSES:
        return HttpResponse("ok")
    status, task_id = _hint(request.body)
    if task_id and generation.task_id and task_id != generation.task_id:
        logger.warning("callback for generation %s names task %s, not ours", generation_id, task_id)
        return HttpResponse("ok")
    if generation.status == Status.QUEUED:
        # Our submit has not recorded the task yet; it and the sweep will catch up.
        return HttpResponse("ok")
    if secret and generation.task_id:
        task = _signed_task(generation.product, request.body)
        # A success without results is read as a hint: our own lookup decides that one.
        if (
            task is not None
            and task.task_id == generation.task_id
            and (task.status != TaskStatus.SUCCEEDED or task.media)
        ):
            # Signed by Kling: the body is the confirmation, as good as our own lookup.
            follow.apply_task(generation, task)
            return HttpResponse("ok")
    if status.lower() in PROCESSING_HINTS:
        # Harmless to take on trust: it never touches money and is not terminal.
        services.transition(generation.pk, [Status.SUBMITTED], Status.PROCESSING)
    elif status.lower() in TERMINAL_HINTS or not status:
        follow.hint(generation.pk)
        # Robust: with the broker down the hint is dropped, not answered with a 500; the
        # poll sweep looks the task up within its cadence anyway.
        transaction.on_commit(lambda: _confirm_soon(generation.pk, generation.product), robust=True)
    return HttpResponse("ok")


def _signed_task(product: str, body: bytes) -> ProviderTask | None:
    """The task a verified body describes, if the provider reads callback bodies at all."""
    parse = getattr(providers.get_provider(), "parse_callback", None)
    if parse is None:
        return None
    try:
        return parse(product, body)
    except ProviderError as exc:
        logger.info("signed callback for %s read as a hint only: %s", product, exc)
        return None


def _confirm_soon(generation_id: int, product: str) -> None:
    """One confirmation per product per debounce window: the clock process confirms the
    hinted rows itself (no wait behind queued submits); without a clock, the first hint of
    a burst enqueues it, the others are covered by its list call. Without the cache, each
    confirms alone."""
    if clock.keeping_time():
        return
    try:
        first = cache.add(f"generations:confirm:{product}", 1, follow.CONFIRM_DEBOUNCE_SECONDS)
    except CACHE_ERRORS as exc:
        logger.warning("callback for generation %s: batching skipped: %s", generation_id, exc)
        queue.refresh(generation_id)
        return
    if first:
        queue.confirm_hints(product, time.time() + follow.CONFIRM_DEBOUNCE_SECONDS)
