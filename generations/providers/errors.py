"""Everything that can go wrong talking to Kling, turned into one classified ProviderError,
and the sentence people read when Kling accepts a task and then fails it.

Decisions are made on Kling's business `code`, never on the HTTP status alone: HTTP 429
covers both transient answers (1302 rate, 1303 concurrency) and permanent ones (1100
account, 1101 arrears, 1102 empty resource pack, 1304 IP whitelist).

`may_have_created` matters only for creates. It is true when the task may exist (and be
paid for) even though we got no usable answer: read timeouts, dropped connections, 5000
and 5002 (and, conservatively, 5001), a proxy's HTTP 502/503/504 page, and any 2xx or 5xx
answer we could not read (`bad_response`). The caller then looks the task up by
`external_task_id` before trying again, so a retry never creates a second paid job.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.utils.translation import gettext_noop
from urllib3.exceptions import NewConnectionError

from generations.providers.base import ProviderError


@dataclass(frozen=True)
class CodeInfo:
    code: str  # our stable code
    http_status: int  # what Kling sends with it
    retryable: bool
    may_have_created: bool  # on a create
    user_message: str
    meaning: str


_CONFIG = gettext_noop(
    "Generation is not available right now because of a problem with our provider account. "
    "Please try again later."
)
_BUSY = gettext_noop("Kling is busy right now. Your request is waiting and will be retried shortly.")
_INVALID = gettext_noop(
    "Kling rejected one of the settings of this request. Please check the prompt, image and options "
    "and try again."
)
CONTENT_REFUSED_MESSAGE = gettext_noop(
    "Kling declined this request under its content rules. Please change the prompt or image and try again."
)

# The whole legacy code table (docs/kling.md section 7).
KLING_CODES: dict[int, CodeInfo] = {
    1000: CodeInfo("auth_failed", 401, False, False, _CONFIG, "authentication failed"),
    1001: CodeInfo("auth_failed", 401, False, False, _CONFIG, "Authorization header empty"),
    1002: CodeInfo("auth_failed", 401, False, False, _CONFIG, "Authorization invalid"),
    # The client re-signs and retries once by itself; if it still fails, later may work (clock skew).
    1003: CodeInfo("auth_expired", 401, True, False, _CONFIG, "token not yet valid"),
    1004: CodeInfo("auth_expired", 401, True, False, _CONFIG, "token expired"),
    1100: CodeInfo("account_blocked", 429, False, False, _CONFIG, "account abnormal"),
    1101: CodeInfo("account_in_arrears", 429, False, False, _CONFIG, "account in arrears"),
    1102: CodeInfo("quota_exhausted", 429, False, False, _CONFIG, "resource pack exhausted or expired"),
    1103: CodeInfo(
        "no_permission",
        403,
        False,
        False,
        gettext_noop(
            "This model or feature is not available on our provider account. Please choose another one."
        ),
        "no permission for the API or model",
    ),
    1200: CodeInfo("invalid_request", 400, False, False, _INVALID, "invalid request parameters"),
    1201: CodeInfo("invalid_request", 400, False, False, _INVALID, "invalid parameter value"),
    1202: CodeInfo("invalid_method", 404, False, False, _INVALID, "invalid method"),
    1203: CodeInfo(
        "not_found",
        404,
        False,
        False,
        gettext_noop(
            "Kling could not find the requested model or task. Please choose another model or try again."
        ),
        "resource not found",
    ),
    1300: CodeInfo(
        "policy_refused",
        400,
        False,
        False,
        gettext_noop(
            "Kling declined this request under its platform policy. Please change the prompt or image."
        ),
        "platform policy triggered",
    ),
    1301: CodeInfo("content_refused", 400, False, False, CONTENT_REFUSED_MESSAGE, "content security policy"),
    1302: CodeInfo("rate_limited", 429, True, False, _BUSY, "request rate limit exceeded"),
    1303: CodeInfo("concurrency_limited", 429, True, False, _BUSY, "concurrency over resource pack limit"),
    1304: CodeInfo("ip_not_allowed", 429, False, False, _CONFIG, "IP whitelist policy"),
    5000: CodeInfo(
        "provider_error",
        500,
        True,
        True,
        gettext_noop("Kling had an internal error. Your request will be retried shortly."),
        "internal error",
    ),
    # Maintenance most likely refused the create, but a lookup costs one GET and a duplicate costs money.
    5001: CodeInfo(
        "provider_unavailable",
        503,
        True,
        True,
        gettext_noop("Kling is briefly unavailable for maintenance. Your request will be retried shortly."),
        "temporarily unavailable",
    ),
    5002: CodeInfo(
        "provider_timeout",
        504,
        True,
        True,
        gettext_noop("Kling is overloaded. Your request will be retried shortly."),
        "internal timeout",
    ),
}

BAD_RESPONSE_MESSAGE = gettext_noop(
    "Kling sent an answer we could not read. Your request will be retried shortly."
)
TIMEOUT_MESSAGE = gettext_noop("Kling did not answer in time. Your request will be retried shortly.")
CONNECTION_MESSAGE = gettext_noop("We could not reach Kling. Your request will be retried shortly.")
LOCAL_RATE_MESSAGE = gettext_noop(
    "We are sending Kling as many requests as it allows; yours is waiting in line."
)
LOOKING_UP_MESSAGE = gettext_noop("Kling already has this request; we are looking it up.")
UNSUPPORTED_MESSAGE = gettext_noop("This kind of request is not supported by the configured provider.")


def from_kling_code(
    provider_code: int,
    *,
    http_status: int | None,
    message: str = "",
    request_id: str = "",
    creating: bool = False,
) -> ProviderError:
    """A non-zero Kling business code (with Kling's own message as the detail)."""
    info = KLING_CODES.get(provider_code)
    detail = f"Kling code {provider_code} (HTTP {http_status}): {message}".strip()
    if info is None:
        # Unknown code: fall back to what the HTTP status suggests.
        transient = http_status is not None and (http_status >= 500 or http_status == 429)
        server_side = http_status is None or http_status >= 500
        return ProviderError(
            "provider_error",
            gettext_noop("Kling answered with an error we do not know. Your request will be retried shortly.")
            if transient
            else _INVALID,
            provider_code=provider_code,
            http_status=http_status,
            retryable=transient,
            may_have_created=creating and server_side,
            detail=detail,
            request_id=request_id,
        )
    if creating and _names_existing_external_id(provider_code, message):
        # Our external_task_id is taken: the task from an earlier attempt exists (a lookup
        # just missed it). Never a permanent error to refund: look it up again.
        return ProviderError(
            "duplicate_external_id",
            LOOKING_UP_MESSAGE,
            provider_code=provider_code,
            http_status=http_status,
            retryable=True,
            may_have_created=True,
            detail=detail,
            request_id=request_id,
        )
    return ProviderError(
        info.code,
        info.user_message,
        provider_code=provider_code,
        http_status=http_status,
        retryable=info.retryable,
        may_have_created=creating and info.may_have_created,
        detail=detail,
        request_id=request_id,
    )


def _names_existing_external_id(provider_code: int, message: str) -> bool:
    text = message.lower()
    return (
        provider_code in (1200, 1201)
        and "external" in text
        and ("exist" in text or "duplicate" in text or "already" in text)
    )


def from_http_status(
    http_status: int, *, detail: str = "", request_id: str = "", creating: bool = False
) -> ProviderError:
    """An HTTP error without a business code (an HTML error page, a gateway's own error)."""
    if http_status in (401, 403):
        code, retryable, message = "auth_failed", False, _CONFIG
    elif http_status == 404:
        code, retryable, message = "not_found", False, KLING_CODES[1203].user_message
    elif http_status == 429:
        code, retryable, message = "rate_limited", True, _BUSY
    elif http_status >= 500:
        code, retryable, message = "provider_error", True, KLING_CODES[5000].user_message
    else:
        code, retryable, message = "invalid_request", False, _INVALID
    return ProviderError(
        code,
        message,
        http_status=http_status,
        retryable=retryable,
        may_have_created=creating and http_status >= 500,
        detail=detail or f"HTTP {http_status}",
        request_id=request_id,
    )


def bad_response(
    detail: str, *, http_status: int | None = None, request_id: str = "", creating: bool = False
) -> ProviderError:
    """An answer we cannot read: not JSON, empty, an HTML error page, missing fields, unknown status.

    The HTTP status still tells what probably happened. A 2xx or 5xx (a proxy's 502 page)
    may stand for a created task and is worth retrying; a 4xx page (a wrong path, a login
    redirect) is not, except 429.
    """
    success_or_server = http_status is None or 200 <= http_status < 300 or http_status >= 500
    return ProviderError(
        "bad_response",
        BAD_RESPONSE_MESSAGE,
        http_status=http_status,
        retryable=success_or_server or http_status == 429,
        may_have_created=creating and success_or_server,
        detail=detail,
        request_id=request_id,
    )


def _never_sent(exc: BaseException) -> bool:
    """True when the connection was never established, so the request cannot have arrived."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError):
            return True
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False


def from_transport_error(exc: requests.RequestException, *, creating: bool = False) -> ProviderError:
    """Timeouts, refused or dropped connections, broken bodies."""
    created = creating and not _never_sent(exc)
    if isinstance(exc, requests.exceptions.Timeout):
        code, message = "timeout", TIMEOUT_MESSAGE
    else:
        code, message = "connection_error", CONNECTION_MESSAGE
    return ProviderError(
        code,
        message,
        retryable=True,
        may_have_created=created,
        detail=f"{type(exc).__name__}: {exc}",
    )


def local_rate_limited() -> ProviderError:
    return ProviderError(
        "local_rate_limited",
        LOCAL_RATE_MESSAGE,
        retryable=True,
        may_have_created=False,
        detail="our own KLING_MAX_QPM budget for this minute is spent",
    )


def unsupported(what: str) -> ProviderError:
    return ProviderError("unsupported", UNSUPPORTED_MESSAGE, retryable=False, detail=what)


def is_not_found(error: ProviderError) -> bool:
    """Did the API itself answer "no such task"? (No dedicated code: 1203, or 1200/1201 saying so.)

    Only a Kling-coded answer counts: a bare HTML 404 from a misrouted proxy proves nothing,
    and treating it as "absent" would let a caller resubmit a task that may exist.
    """
    if error.provider_code == 1203:
        return True
    text = error.detail.lower()
    return error.provider_code in (1200, 1201) and ("not found" in text or "not exist" in text)


# --- Tasks Kling accepted and then failed ---------------------------------------------------
#
# Such a task comes back as `task_status: failed` with only Kling's own words in
# `task_status_msg` (free text, English or Chinese). People read one of the sentences below
# instead, chosen by those words; the raw words stay with the generation for staff.

_CONTENT_WORDS = (
    "risk",
    "safety",
    "sensitive",
    "moderat",
    "violat",
    "policy",
    "inappropriate",
    "prohibit",
    "nsfw",
    "content",
    "审核",
    "风控",
    "敏感",
    "违规",
)
_BUSY_WORDS = ("timeout", "timed out", "busy", "overload")
_IMAGE_WORDS = ("image", "pixel", "resolution", "aspect", "face", "picture", "图片", "图像")

BUSY_FAILURE_MESSAGE = gettext_noop("Kling was too busy to finish this one. Please try again.")
IMAGE_PROBLEM_MESSAGE = gettext_noop(
    "Kling could not use the image you gave. Use a JPG or PNG at least 300 pixels on each side, "
    "with an aspect ratio between 1:2.5 and 2.5:1."
)
GENERIC_FAILURE_MESSAGE = gettext_noop("Kling could not complete this generation. Please try again.")

# Generation kinds (`generations.models.Kind` values) whose request always carries a picture
# the person gave. Only for these can "image" in Kling's words be about their input: for text
# to image it is the picture being made, and text to video has no picture at all.
KINDS_WITH_INPUT_IMAGE = frozenset({"image2video"})

# (words, sentence, only for these kinds or None for all), first match wins: a refusal that
# mentions the image is still a refusal, and a timeout is never the input's fault.
_FAILURE_RULES: tuple[tuple[tuple[str, ...], str, frozenset[str] | None], ...] = (
    (_CONTENT_WORDS, CONTENT_REFUSED_MESSAGE, None),
    (_BUSY_WORDS, BUSY_FAILURE_MESSAGE, None),
    (_IMAGE_WORDS, IMAGE_PROBLEM_MESSAGE, KINDS_WITH_INPUT_IMAGE),
)


def failed_task_user_message(task_status_msg: str, *, kind: str) -> str:
    """The sentence a person reads for a task of this generation `kind` that Kling accepted
    and then failed, chosen by the words of Kling's `task_status_msg`."""
    text = (task_status_msg or "").lower()
    for words, sentence, kinds in _FAILURE_RULES:
        if (kinds is None or kind in kinds) and any(word in text for word in words):
            return sentence
    return GENERIC_FAILURE_MESSAGE
