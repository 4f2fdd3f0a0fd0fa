"""HTTP plumbing shared by the provider clients: one pooled session per process, the
per-request budget of our own rate limiter, sending one request with a classified failure
(`HTTPProviderClient`), and reading JSON bodies without crashing."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from generations.providers import errors

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def shared_session() -> requests.Session:
    """The process's pooled session (keep-alive to the provider).

    Keyed by pid: django-q2 forks its workers, and a pool inherited from the parent would
    share sockets between processes.
    """
    global _session, _session_pid
    pid = os.getpid()
    if _session is not None and _session_pid == pid:
        return _session
    with _session_lock:
        if _session is None or _session_pid != pid:
            session = requests.Session()
            # No automatic retries: a create must never be resent blindly (see errors.py).
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=32, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _session, _session_pid = session, pid
    return _session


def spend_request_budget(
    take: Callable[[], bool] | None, *, wait_seconds: float, step_seconds: float = 0.25
) -> None:
    """Take one request from our per-minute budget, waiting up to `wait_seconds` for it.

    Raises a retryable `local_rate_limited` ProviderError when the budget stays spent: the
    caller's job then waits in our queue instead of piling onto the provider.
    """
    if take is None:
        return
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while not take():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.local_rate_limited()
        time.sleep(min(step_seconds, remaining))


def snippet(content: bytes, limit: int = 200) -> str:
    text = content[:limit].decode("utf-8", errors="replace")
    return " ".join(text.split())


def read_json_object(response: requests.Response, *, creating: bool) -> dict[str, Any]:
    """The body as a JSON object, or a `bad_response` ProviderError (empty, HTML, garbage)
    whose flags follow the HTTP status (a proxy's HTML 502 on a create may have created)."""
    status = response.status_code
    content = response.content or b""
    if not content.strip():
        raise errors.bad_response(f"HTTP {status} with an empty body", http_status=status, creating=creating)
    try:
        payload = json.loads(content)
    except ValueError:
        detail = f"HTTP {status}, not JSON ({response.headers.get('Content-Type', '?')}): {snippet(content)}"
        raise errors.bad_response(detail, http_status=status, creating=creating) from None
    if not isinstance(payload, dict):
        raise errors.bad_response(
            f"HTTP {status}, JSON {type(payload).__name__} instead of an object",
            http_status=status,
            creating=creating,
        )
    return payload


class HTTPProviderClient:
    """What the HTTP provider clients share: a base URL, connect/read timeouts, the pooled
    session, and `_send()`, which spends one request of our per-minute budget and turns a
    timeout or broken connection into a classified ProviderError.

    Subclasses add their authentication, paths and answer shapes, and set `label` (the
    first word of their log lines) and `logger`.
    """

    name = ""
    label = "provider"
    logger = logging.getLogger("generations.providers")

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        session: requests.Session | None = None,
        take_request: Callable[[], bool] | None = None,
        rate_wait_seconds: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._session = session
        self.take_request = take_request
        self.rate_wait_seconds = rate_wait_seconds

    @property
    def session(self) -> requests.Session:
        return self._session or shared_session()

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        creating: bool = False,
    ) -> tuple[requests.Response, float]:
        """Send one request, after taking it from our budget: (the response, its milliseconds).

        Whatever the response says is the caller's to read. A request that got no response
        raises a retryable ProviderError (on a create, `may_have_created` unless the
        connection was never made).
        """
        spend_request_budget(self.take_request, wait_seconds=self.rate_wait_seconds)
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.base_url + path, json=body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            error = errors.from_transport_error(exc, creating=creating)
            self.logger.warning(
                "%s %s %s failed after %.0f ms: %s (may_have_created=%s)",
                self.label,
                method,
                path,
                (time.monotonic() - started) * 1000,
                error.detail,
                error.may_have_created,
            )
            raise error from exc
        return response, (time.monotonic() - started) * 1000


def close_pooled_connections(session: requests.Session | None = None) -> None:
    """Close the session's idle keep-alive connections now.

    `Session.close()` alone leaves them to the garbage collector with urllib3 2, which
    keeps the peer's handler (and its database connection, for a live test server) busy.
    """
    session = session or shared_session()
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            continue
        for key in list(manager.pools.keys()):
            pool = manager.pools.get(key)
            if pool is not None:
                pool.close()
        manager.clear()
