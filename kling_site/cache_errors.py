"""What a cache call raises while its server is away (Redis restarting, a network blip).

The cache only ever saves work here (rate-limit counters, replay markers, estimates), so
callers catch these and carry on without it instead of answering 500.
"""

from __future__ import annotations

from redis.exceptions import RedisError

CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)
