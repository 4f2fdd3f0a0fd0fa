"""Reading the environment, for settings.py and gunicorn.conf.py.

A value that cannot be what its variable means stops the start with one line naming the
variable (manage.py and gunicorn.conf.py print it without a traceback), rather than a bare
ValueError from deep inside a worker, or a limit that quietly means something else.

Only `django.core.exceptions` is imported, so gunicorn's master can use this before
Django is set up.
"""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def envstr(name: str, default: str = "") -> str:
    return os.getenv(name, default).strip()


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def envbool(name: str, default: bool) -> bool:
    value = envstr(name)
    if value == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {value!r}")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number; `minimum` refuses values that make no sense (a negative credit grant,
    no worker processes) instead of letting them act as some other setting."""
    value = envstr(name)
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value!r}")
    return number


def envfloat(name: str, default: float, *, minimum: float | None = None, positive: bool = False) -> float:
    """A finite number; `positive` for timeouts, where 0 would mean "fail at once"."""
    value = envstr(name)
    if value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}")
    if positive and number <= 0:
        raise ImproperlyConfigured(f"{name} must be more than 0, got {value!r}")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, got {value!r}")
    return number


def envrate(name: str, default: str) -> tuple[int, int]:
    """`5/hour` as (5, 3600); `0` switches the limit off."""
    value = envstr(name, default) or default
    count, _, unit = value.partition("/")
    try:
        limit = int(count)
    except ValueError:
        limit = -1
    if limit < 0:
        raise ImproperlyConfigured(f"{name} must be a rate such as 5/hour, or 0 for none, got {value!r}")
    if limit == 0:
        return 0, 1
    if unit not in _RATE_UNITS:
        raise ImproperlyConfigured(f"{name}={value!r}: the period is one of second, minute, hour, day")
    return limit, _RATE_UNITS[unit]
