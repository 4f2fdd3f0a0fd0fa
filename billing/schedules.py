"""Recurring billing tasks, created by name after every migrate (see kling_site.schedules).

Connected to post_migrate (also sent by `flush`, so transactional tests keep their
schedules).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from kling_site.schedules import ensure_schedule

CHECK_LEDGER_SCHEDULE = "billing.check_ledger"
RECONCILE_SCHEDULE = "billing: reconcile Stripe checkouts"
RECONCILE_EVERY_MINUTES = 15
REQUEUE_EVENTS_SCHEDULE = "billing: requeue stuck Stripe events"
# Stripe refund and dispute events lost in our own queue come back within minutes, whatever
# the reconciler's listing of checkouts covers.
REQUEUE_EVERY_MINUTES = 5


def ensure_schedules(sender=None, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate handler: the hourly ledger check, the reconciler, the event requeue."""
    from django_q.models import Schedule

    ensure_schedule(CHECK_LEDGER_SCHEDULE, "billing.tasks.check_ledger", Schedule.HOURLY, using=using)
    ensure_schedule(
        RECONCILE_SCHEDULE,
        "billing.tasks.reconcile_stripe",
        Schedule.MINUTES,
        minutes=RECONCILE_EVERY_MINUTES,
        using=using,
    )
    ensure_schedule(
        REQUEUE_EVENTS_SCHEDULE,
        "billing.tasks.requeue_stripe_events",
        Schedule.MINUTES,
        minutes=REQUEUE_EVERY_MINUTES,
        using=using,
    )
