"""A cap on the threads of one process that may wait on another service at once.

A web process has GUNICORN_THREADS threads. Stripe (checkout, success page) and SMTP
(sign-up and password emails) are called from requests with short timeouts, but an
outage still holds each calling thread for the whole timeout: without a cap, enough
people pressing "Buy" during a Stripe outage would leave no thread for pages, status
polls or webhooks. `slot()` lets at most OUTBOUND_CALLS_PER_PROCESS threads wait at
once (one fewer than the threads, so one is always free) and refuses the next at once
instead of queueing it: a refused Stripe call shows "try again", a refused email is sent
by a worker instead (`send_or_queue`). docs/deploy.md works out the worst case.

Worker processes run one task at a time, so the cap never refuses them.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


class Busy(Exception):
    """Every outbound slot of this process is taken."""


@functools.cache
def _semaphore(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


@contextmanager
def slot(service: str) -> Iterator[None]:
    """Hold one of the process's outbound slots for the call to `service`, or raise Busy."""
    semaphore = _semaphore(max(1, settings.OUTBOUND_CALLS_PER_PROCESS))
    if not semaphore.acquire(blocking=False):
        logger.warning("outbound: every slot is waiting on a service; %s call refused", service)
        raise Busy(f"Too many requests are waiting on {service}")
    try:
        yield
    finally:
        semaphore.release()


def send_or_queue(message: EmailMessage) -> None:
    """Send now if a slot is free, else hand the rendered message to a worker.

    Rendering stays in the request (it needs the request's context); only the SMTP
    conversation moves, so the person never sees an error for a busy mail server.
    """
    try:
        with slot("email"):
            message.send()
    except Busy:
        alternatives = list(getattr(message, "alternatives", []) or [])
        async_task(
            "kling_site.outbound.send_queued",
            message.subject,
            message.body,
            message.from_email,
            list(message.to),
            [(content, mimetype) for content, mimetype in alternatives],
            task_name="send email",
            group="email",
        )


def send_queued(
    subject: str, body: str, from_email: str, to: list[str], alternatives: list[tuple[str, str]]
) -> int:
    message = EmailMultiAlternatives(subject, body, from_email, to)
    for content, mimetype in alternatives:
        message.attach_alternative(content, mimetype)
    return message.send()
