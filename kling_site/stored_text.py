"""Sentences kept in English on a row (a generation's error, a ledger memo) and put in the
reader's language when shown.

A row is written once, by a worker or a request in any language, and read later on a page,
in an email or over the API in the reader's language, so the row keeps the English
sentence and every reader translates it. A fixed sentence is its own catalogue entry
(marked with `gettext_noop` where it is written). A sentence with figures in it (minutes,
a model's name) is written from a template registered here with `template()`: `translated()`
recognises the English sentence, takes the figures back out and fills the translated
template with them.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext

_TEMPLATES: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = []
_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)s")


def template(english: str, *, known: tuple[str, ...] = ()) -> str:
    """Register `english` (with `%(name)s` placeholders, marked with `gettext_noop`) so
    `translated()` recognises sentences made from it. A sentence counts as made from it
    only when the values of the `known` placeholders are catalogue entries (a kind's name),
    so a loose template such as "%(kind)s with %(model)s" leaves other text alone.
    Returns `english` unchanged."""
    pattern = _PLACEHOLDER.sub(r"(?P<\1>.+?)", re.escape(english))
    _TEMPLATES.append((english, re.compile(pattern, re.DOTALL), known))
    # The most specific first: "Refund: %(kind)s failed" before "%(pack)s: %(amount)s",
    # which a refund's memo matches too.
    _TEMPLATES.sort(key=lambda entry: -len(re.sub(r"%\(\w+\)s", "", entry[0])))
    return english


def _value(text: str) -> str | None:
    """A figure taken out of a sentence, translated when it is a catalogue entry itself
    (a kind's name, also when it was written in lower case); None when it is not one."""
    capital = text[:1].upper() + text[1:]
    for candidate in (text, capital):
        translated = gettext(candidate)
        if translated != candidate:
            return translated
    return None


def translated(text: str) -> str:
    """`text` in the active language: its catalogue entry, else the translated template it
    was made from, else `text` as it is (a reason staff typed, a provider's own words)."""
    if not text:
        return text
    own = gettext(text)
    if own != text:
        return own
    for english, pattern, known in _TEMPLATES:
        match = pattern.fullmatch(text)
        if not match:
            continue
        values = {name: _value(value) for name, value in match.groupdict().items()}
        if any(values[name] is None for name in known):
            continue
        raw = match.groupdict()
        return gettext(english) % {name: value or raw[name] for name, value in values.items()}
    return text
