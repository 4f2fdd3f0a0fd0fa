"""django-q2 task entry points: thin, id in, one function call. Each function they call
claims its row first and is safe to run twice (delivery is at least once)."""

from __future__ import annotations

from generations import clock, follow, media, notifications, services
from outbound_webhooks import delivery as webhooks


def submit_generation(generation_id: int) -> None:
    follow.submit(generation_id)


def check_generation(generation_id: int) -> None:
    follow.refresh(generation_id)


def confirm_hints(product: str, not_before: float | None = None) -> str:
    return _summary(follow.confirm_hints(product, not_before))


def fetch_results(generation_id: int) -> None:
    media.store_results(generation_id)


def notify_finished(generation_id: int) -> None:
    # The developer's webhook first: a failing mail server must not hold it up.
    webhooks.generation_finished(generation_id)
    notifications.notify_finished(generation_id)


def refresh_estimates() -> str:
    estimates = services.refresh_estimates()
    return f"{len(estimates)} estimates stored"


def sweep_pass() -> str:
    # The clock runs its passes itself now; this serves passes enqueued by an older one.
    return _summary(clock.run_pass())


def poll_sweep() -> str:
    report = clock.fallback_pass()
    return _summary(report) if report else "skipped: the poll clock is sweeping"


def _summary(report: follow.SweepReport) -> str:
    return (
        f"{report.polled} polled with {report.list_calls} list and {report.get_calls} single lookups, "
        f"{report.expired} past deadline, {report.resubmitted} sent again"
    )
