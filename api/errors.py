"""Every API error has one shape: `{"code": ..., "message": ..., "details": {...}}`.

`code` is stable (clients branch on it), `message` is a sentence for people, `details`
holds per-field messages (`{field: [message, ...]}`) for `validation_error`, and the
figures of `insufficient_credits` (`balance`, `price`). The codes:

| code | status |
|---|---|
| validation_error | 400 |
| authentication_failed | 401 |
| account_frozen, permission_denied | 403 |
| not_found | 404 |
| method_not_allowed | 405 |
| not_acceptable | 406 |
| idempotency_conflict | 409 |
| insufficient_credits | 402 |
| payload_too_large | 413 |
| unsupported_media_type | 415 |
| not_offered | 422 |
| too_many_queued, rate_limited | 429 |
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class APIError(exceptions.APIException):
    """An error of ours with a stable code and optional details."""

    def __init__(self, code: str, message: str, *, status_code: int, details: dict | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def insufficient_credits(balance: int, price: int) -> APIError:
    return APIError(
        "insufficient_credits",
        _("This needs %(price)s credits and the balance is %(balance)s. Nothing was charged.")
        % {"price": price, "balance": balance},
        status_code=status.HTTP_402_PAYMENT_REQUIRED,
        details={"balance": balance, "price": price},
    )


def validation_error(details: dict[str, list[str]], message: str = "") -> APIError:
    return APIError(
        "validation_error",
        message or _("The request is not valid; see details for each field."),
        status_code=status.HTTP_400_BAD_REQUEST,
        details=details,
    )


def not_found(what: str = "") -> APIError:
    return APIError("not_found", what or _("Not found."), status_code=status.HTTP_404_NOT_FOUND)


_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.NotAuthenticated, "authentication_failed"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
    (exceptions.ParseError, "validation_error"),
    (exceptions.ValidationError, "validation_error"),
]


def _field_details(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as flat `{field: [messages]}` (nested fields dotted)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_field_details(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_field_details(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: a real bug, Django's 500 handling takes it
    if isinstance(exc, APIError):
        response.data = body(exc.error_code, str(exc.detail), exc.details)
        return response
    code = next((code for cls, code in _CODES if isinstance(exc, cls)), "")
    if isinstance(exc, exceptions.PermissionDenied):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) and codes != "permission_denied" else "permission_denied"
    if isinstance(exc, exceptions.ValidationError):
        details = _field_details(exc.detail)
        message = _("The request is not valid; see details for each field.")
    else:
        details = {}
        message = str(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        message = (
            _("Too many requests; try again in %(seconds)d s.") % {"seconds": round(exc.wait)}
            if exc.wait
            else _("Too many requests.")
        )
    if not code and isinstance(exc.get_codes(), str):
        code = exc.get_codes()
    if response.status_code == 401 and not code:
        code = "authentication_failed"
    response.data = body(code or "error", message, details)
    return response
