"""django-q2 tasks of billing. Thin: each takes ids and calls one function."""

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


# -- Stripe payments -----------------------------------------------------------------------
# Enqueued on commit through billing.queue; scheduled by billing.schedules. Each one
# is safe to run twice (delivery is at least once).


def process_stripe_event(event_pk: int) -> str:
    from billing import webhooks

    return webhooks.process_event(event_pk)


def reconcile_stripe() -> dict:
    from billing import payments

    return payments.reconcile().as_dict()


def requeue_stripe_events() -> int:
    from billing import webhooks

    return webhooks.requeue_stuck_events()


def deliver_demo_event(session_id: str, event_type: str) -> int:
    from billing import demo_checkout

    return demo_checkout.deliver_event(session_id, event_type)


def settle_demo_payment(session_id: str) -> bool:
    from billing import demo_checkout

    return demo_checkout.settle_delayed_payment(session_id)
