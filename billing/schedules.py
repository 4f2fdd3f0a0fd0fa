"""Recurring billing tasks, created idempotently by name after every migrate.

`Schedule.name` is not unique in django-q2, so each schedule is found by name and
updated, never added twice. Connected to post_migrate (also sent by `flush`, so
transactional tests keep their schedules).
"""

from __future__ import annotations

CHECK_LEDGER_SCHEDULE = "billing.check_ledger"
RECONCILE_SCHEDULE = "billing: reconcile Stripe checkouts"
RECONCILE_EVERY_MINUTES = 15


def ensure_schedules(sender=None, **kwargs) -> None:
    """post_migrate handler: the hourly ledger check and the Stripe reconciler."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=CHECK_LEDGER_SCHEDULE,
        defaults={"func": "billing.tasks.check_ledger", "schedule_type": Schedule.HOURLY, "repeats": -1},
    )
    Schedule.objects.update_or_create(
        name=RECONCILE_SCHEDULE,
        defaults={
            "func": "billing.tasks.reconcile_stripe",
            "schedule_type": Schedule.MINUTES,
            "minutes": RECONCILE_EVERY_MINUTES,
            "repeats": -1,
        },
    )
