"""Whose queued generation goes to Kling next: round-robin across owners, oldest first
within one owner.

Kling's concurrency is shared by everyone on the site. A slot that comes free goes to the
waiting person with the fewest slots in use at Kling, so one person's 200 queued jobs hold
back another person's single job for at most one slot turnover. The wakers (a freed slot,
the sweep) pick in this order, and `may_take_slot` keeps a job that arrives at the same
moment from jumping ahead of people with fewer jobs running.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from generations import limiter
from generations.models import IN_FLIGHT_STATUSES, UNFINISHED_STATUSES, Generation, Status, WaitReason


def waiting_for_slot() -> QuerySet[Generation]:
    """Queued work that holds no slot and is only waiting for one (not for a retry time)."""
    return Generation.objects.filter(
        status=Status.QUEUED, maybe_created=False, wait_reason__in=("", WaitReason.SLOT)
    )


def slots_in_use_by_owner(owner_ids) -> dict[int, int]:
    rows = (
        Generation.objects.filter(owner_id__in=owner_ids, status__in=IN_FLIGHT_STATUSES)
        .values("owner_id")
        .annotate(used=Sum("slot_count"))
        .order_by()
    )
    return {row["owner_id"]: row["used"] or 0 for row in rows}


def in_turn(queryset: QuerySet[Generation], limit: int) -> list[tuple[int, datetime | None]]:
    """Up to `limit` (pk, due_at) of `queryset` in fair order.

    Each owner's k-th oldest job ranks as k plus the slots that owner already uses, so
    turns alternate between people and whoever has least running goes first.
    """
    if limit <= 0:
        return []
    ranked = (
        queryset.annotate(
            turn=Window(
                RowNumber(), partition_by=[F("owner_id")], order_by=[F("created_at").asc(), F("pk").asc()]
            )
        )
        .filter(turn__lte=limit)
        .values_list("pk", "owner_id", "created_at", "due_at", "turn")
    )
    rows = list(ranked)
    used = slots_in_use_by_owner({row[1] for row in rows})
    rows.sort(key=lambda row: (row[4] + used.get(row[1], 0), row[2], row[0]))
    return [(pk, due) for pk, _owner, _created, due, _turn in rows[:limit]]


def may_take_slot(generation: Generation) -> bool:
    """May this generation take free slots now, or is it someone else's turn?

    The slots the next job of each other waiting person needs are kept for them when that
    person uses fewer slots than this generation's owner: so a job needing several slots
    (an image task making four) is not starved by single slots being taken one by one.
    """
    free = limiter.free_slots()
    if free is None:
        return True
    mine = slots_in_use_by_owner([generation.owner_id]).get(generation.owner_id, 0)
    if mine == 0:
        return True
    next_of_others = list(
        waiting_for_slot()
        .exclude(owner_id=generation.owner_id)
        .annotate(
            turn=Window(
                RowNumber(), partition_by=[F("owner_id")], order_by=[F("created_at").asc(), F("pk").asc()]
            )
        )
        .filter(turn=1)
        .values_list("owner_id", "slot_count")
    )
    if not next_of_others:
        return True
    used = slots_in_use_by_owner([owner_id for owner_id, _ in next_of_others])
    kept = sum(count for owner_id, count in next_of_others if used.get(owner_id, 0) < mine)
    return free > kept


def unfinished_count(owner_id: int) -> int:
    return Generation.objects.filter(owner_id=owner_id, status__in=UNFINISHED_STATUSES).count()
