"""A fixed-window request counter in the cache, for actions that cost us an outside call.

With Redis as the cache every web process shares the count; with the local-memory cache
of demo mode each process counts for itself, which is enough for a single machine.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(action: str, who: object, *, limit: int, per_seconds: int) -> bool:
    """Count one `action` by `who`; False once more than `limit` came in this window."""
    if limit <= 0:
        return True
    window = int(time.time() // per_seconds)
    key = f"rate:{action}:{who}:{window}"
    cache.add(key, 0, timeout=per_seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=per_seconds + 1)
        count = 1
    return count <= limit
