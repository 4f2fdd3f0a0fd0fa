"""A fixed-window request counter in the cache, for actions that cost us an outside call.

With Redis as the cache every web process shares the count; with the local-memory cache
of demo mode each process counts for itself, which is enough for a single machine.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

from kling_site.cache_errors import CACHE_ERRORS

logger = logging.getLogger(__name__)


def allow(action: str, who: object, *, limit: int, per_seconds: int) -> bool:
    """Count one `action` by `who`; False once more than `limit` came in this window.

    Without a cache (Redis restarting) the action is allowed: these limits only cap how
    often a person may cause an outside call, and the caps kept in the database (open
    checkouts, queued generations) still hold.
    """
    if limit <= 0:
        return True
    window = int(time.time() // per_seconds)
    key = f"rate:{action}:{who}:{window}"
    try:
        cache.add(key, 0, timeout=per_seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, timeout=per_seconds + 1)
            count = 1
    except CACHE_ERRORS as exc:
        logger.warning("rate limit %s not counted, the cache is unavailable: %s", action, exc)
        return True
    return count <= limit
