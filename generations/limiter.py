"""Our own limits on provider use, shared by every worker process.

Kling answers 1303 when an account has too many tasks in flight; we keep excess jobs
waiting in our queue instead. Interface (implemented with a shared store, database or
Redis, so every web and worker process sees the same counts):

- `try_acquire_slot(generation_id)`: reserve one of KLING_MAX_CONCURRENCY in-flight slots
  for this generation; idempotent per generation; False when all slots are taken.
- `release_slot(generation_id)`: free the generation's slot; idempotent.
- `try_take_request()`: take one request from the KLING_MAX_QPM per-minute budget; False
  when this minute's budget is spent.
"""

from __future__ import annotations


def try_acquire_slot(generation_id: int) -> bool:
    raise NotImplementedError


def release_slot(generation_id: int) -> None:
    raise NotImplementedError


def try_take_request() -> bool:
    raise NotImplementedError
