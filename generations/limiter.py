"""Our own limits on provider use, shared by every worker process.

Kling answers 1303 when an account has too many tasks in flight, so excess jobs wait in
our queue instead.

- Slots (KLING_MAX_CONCURRENCY): `try_acquire_slot(generation_id, count)` reserves all
  `count` or none, idempotently per generation; `release_slot` frees them, and
  `release_finished_slots` is the sweep's net for generations that ended without doing so.
  A slot is a `LimiterSlot` row with a unique number below N: the unique index, not a
  read-then-write, decides who gets it (on SQLite as on PostgreSQL), and the row commits
  or rolls back with the caller's transaction, so a failed submit never leaks one.
- Requests (KLING_MAX_QPM): a fixed window per minute, an INCR on Redis with REDIS_URL,
  else a conditional UPDATE of a database row, which stays locked until the caller's
  transaction ends: call the clients outside long transactions. Up to 2N may pass around
  a minute boundary, fine for a courtesy limit. `try_take_request` prepays one unit for
  this thread's next HTTP request; `take_for_http_request`, which the clients call before
  every request (they wait briefly, then raise a retryable `local_rate_limited`), spends
  that unit or takes one, so every request costs exactly one unit.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from generations.models import TERMINAL_STATUSES, Generation, LimiterSlot, LimiterWindow

logger = logging.getLogger(__name__)

BUCKET = "kling"


# --- Concurrency slots -------------------------------------------------------------------


def try_acquire_slot(generation_id: int, count: int = 1) -> bool:
    """Reserve `count` slots for a generation (at most the whole limit), all or none."""
    limit = settings.KLING_MAX_CONCURRENCY
    if LimiterSlot.objects.filter(generation_id=generation_id).exists():
        return True
    if limit <= 0:  # no limit configured
        return True
    count = max(1, min(count, limit))
    for _ in range(limit):
        taken = set(LimiterSlot.objects.values_list("slot", flat=True))
        free = [slot for slot in range(limit) if slot not in taken]
        if len(free) < count:
            return False
        try:
            with transaction.atomic():
                for part, slot in enumerate(free[:count]):
                    LimiterSlot.objects.create(slot=slot, generation_id=generation_id, part=part)
            return True
        except IntegrityError:
            # Either another worker took one of these numbers first (look again), or
            # another delivery of the same job already holds the slots of this generation.
            if LimiterSlot.objects.filter(generation_id=generation_id).exists():
                return True
    return False


def release_slot(generation_id: int) -> None:
    LimiterSlot.objects.filter(generation_id=generation_id).delete()


def release_slots(generation_ids: list[int]) -> None:
    """release_slot() for many generations in one statement."""
    LimiterSlot.objects.filter(generation_id__in=generation_ids).delete()


def free_slots() -> int | None:
    """Slots nobody holds, or None when there is no limit."""
    limit = settings.KLING_MAX_CONCURRENCY
    if limit <= 0:
        return None
    return max(0, limit - LimiterSlot.objects.count())


def release_finished_slots() -> int:
    """Free slots whose generation is terminal or deleted; returns how many."""
    live = Generation.objects.exclude(status__in=TERMINAL_STATUSES).values("id")
    deleted, _ = LimiterSlot.objects.exclude(generation_id__in=live).delete()
    if deleted:
        logger.warning("limiter: released %s slot(s) held by finished generations", deleted)
    return deleted


# --- Requests per minute -----------------------------------------------------------------


_local = threading.local()


def try_take_request() -> bool:
    if not _take_from_budget():
        return False
    _local.prepaid = 1
    return True


def take_for_http_request() -> bool:
    if getattr(_local, "prepaid", 0):
        _local.prepaid = 0
        return True
    return _take_from_budget()


def reset_prepaid() -> None:
    """Forget this thread's prepaid unit (tests call it between cases)."""
    _local.prepaid = 0


def _take_from_budget() -> bool:
    limit = settings.KLING_MAX_QPM
    if limit <= 0:
        return True
    minute = int(time.time() // 60)
    if settings.REDIS_URL:
        try:
            return _redis_take(minute, limit)
        except Exception as exc:  # a Redis outage must not stop the workers
            logger.warning("limiter: Redis unavailable (%s), counting in the database", exc)
    return _database_take(minute, limit)


def _database_take(minute: int, limit: int) -> bool:
    window = LimiterWindow.objects.filter(bucket=BUCKET, minute=minute)
    if window.filter(count__lt=limit).update(count=F("count") + 1):
        return True
    if window.exists():
        return False
    try:
        with transaction.atomic():
            LimiterWindow.objects.create(bucket=BUCKET, minute=minute, count=1)
    except IntegrityError:
        # Another process opened this minute first: take from its row instead.
        return bool(window.filter(count__lt=limit).update(count=F("count") + 1))
    LimiterWindow.objects.filter(bucket=BUCKET, minute__lt=minute - 5).delete()
    return True


_redis_lock = threading.Lock()
_redis_clients: dict[tuple[int, str], object] = {}


def _redis():
    import redis

    key = (os.getpid(), settings.REDIS_URL)
    client = _redis_clients.get(key)
    if client is None:
        with _redis_lock:
            client = _redis_clients.get(key)
            if client is None:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
                _redis_clients[key] = client
    return client


def key_prefix() -> str:
    return settings.LIMITER_KEY_PREFIX


def _redis_take(minute: int, limit: int) -> bool:
    key = f"{key_prefix()}:qpm:{BUCKET}:{minute}"
    pipe = _redis().pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, 120)
    count, _ = pipe.execute()
    return int(count) <= limit
