"""Creating the site's django-q2 schedules after every migrate, by name.

`Schedule.name` is not unique in django-q2, so each schedule is found by its name and
corrected, never added twice. Only the function and timing are corrected: `repeats`
is set when the schedule is created and left alone afterwards, so an operator who paused
a schedule in admin (repeats = 0) keeps it paused through the next deploy.
"""

from __future__ import annotations

from datetime import datetime

from django.db import DEFAULT_DB_ALIAS


def ensure_schedule(
    name: str,
    func: str,
    schedule_type: str,
    *,
    minutes: int | None = None,
    first_run: datetime | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """`first_run` (e.g. the coming night for a daily job) is used only when the schedule
    is created: after that django-q2 moves `next_run` on by itself."""
    from django_q.models import Schedule

    timing = {"func": func, "schedule_type": schedule_type, "minutes": minutes}
    created = {**timing, "repeats": -1, **({"next_run": first_run} if first_run else {})}
    Schedule.objects.using(using).update_or_create(name=name, defaults=timing, create_defaults=created)
