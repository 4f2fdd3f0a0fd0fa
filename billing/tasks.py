"""django-q2 tasks of billing. Thin: they call billing.ledger and report."""

from __future__ import annotations

import logging

from billing import ledger

logger = logging.getLogger(__name__)


def check_ledger() -> int:
    """Hourly reconciliation: every balance against the sum of its entries.

    Read-only, so a second delivery is harmless. Returns the number of problems, which
    the admin's task list shows.
    """
    problems = ledger.reconcile()
    for problem in problems:
        logger.error("Ledger %s", problem)
    return len(problems)
