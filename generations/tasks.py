"""django-q2 task entry points: thin, id in, one function call. Each function they call
claims its row first and is safe to run twice (delivery is at least once)."""

from __future__ import annotations

from generations import follow, media, notifications


def submit_generation(generation_id: int) -> None:
    follow.submit(generation_id)


def check_generation(generation_id: int) -> None:
    follow.check(generation_id)


def fetch_results(generation_id: int) -> None:
    media.store_results(generation_id)


def notify_finished(generation_id: int) -> None:
    notifications.notify_finished(generation_id)


def poll_sweep() -> str:
    reports = follow.sweep_cycle()
    return (
        f"{len(reports)} pass(es): {sum(r.polled for r in reports)} polled with "
        f"{sum(r.list_calls for r in reports)} list and {sum(r.get_calls for r in reports)} single lookups, "
        f"{sum(r.expired for r in reports)} past deadline"
    )
