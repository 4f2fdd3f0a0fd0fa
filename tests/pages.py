"""Helpers for tests that read whole pages."""

from __future__ import annotations

import re

# The site-wide pulse poller every signed-in page carries (templates/_pulse_poller.html).
PULSE_POLLER = re.compile(r'<div id="pulse"[^>]*></div>')


def without_pulse(html: str) -> str:
    """The page without its site-wide poller, for tests about the page's own polling."""
    return PULSE_POLLER.sub("", html)
