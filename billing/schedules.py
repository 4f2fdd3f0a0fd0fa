"""Recurring tasks of the Stripe integration, created idempotently after every migrate."""

from __future__ import annotations

RECONCILE_SCHEDULE = "billing: reconcile Stripe checkouts"
RECONCILE_EVERY_MINUTES = 15


def ensure_stripe_schedules(sender=None, **kwargs) -> None:
    """post_migrate handler: one reconciliation schedule, found by name, never duplicated."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=RECONCILE_SCHEDULE,
        defaults={
            "func": "billing.tasks.reconcile_stripe",
            "schedule_type": Schedule.MINUTES,
            "minutes": RECONCILE_EVERY_MINUTES,
            "repeats": -1,
        },
    )
