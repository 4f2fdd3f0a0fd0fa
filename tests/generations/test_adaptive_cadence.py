"""5,000 generations in flight within KLING_MAX_QPM=60: the poll clock slows to what the
request budget allows (and says so in the log and the admin), every generation is still
looked at within two minutes, and a finish is visible within a minute, polling only.

On a fake clock: `clock.tick()` runs every simulated second, as `poll_clock` would, and
runs its passes there, as it does in that process. Requests are counted per minute where
they leave for the provider, through the real limiter (its database window)."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from generations import clock, follow, services
from generations import limiter as real_limiter
from generations.models import Generation, Status
from tests.generations.conftest import in_flight_at_provider

IN_FLIGHT = 5000
take_from_the_real_budget = real_limiter.try_take_request


@pytest.fixture
def crowd(alice, fake, settings, monkeypatch):
    """5,000 text-to-video generations at the provider, submitted over the last minute."""
    settings.KLING_MAX_QPM = 60
    settings.GENERATION_POLL_SECONDS = 12
    settings.LIMITER_KEY_PREFIX = f"cadence-test:{uuid.uuid4().hex}"
    settings.REDIS_URL = ""  # the database window, so nothing is shared with other runs
    monkeypatch.setattr("generations.limiter.try_take_request", take_from_the_real_budget)
    # Copies and emails are other workers' business (and their own queues).
    monkeypatch.setattr("generations.queue.fetch_results", lambda pk: None)
    monkeypatch.setattr("generations.queue.notify_finished", lambda pk: None)
    now = timezone.now()
    in_flight_at_provider(
        fake,
        alice,
        IN_FLIGHT,
        submitted_from=now - timedelta(seconds=60),
        spacing=timedelta(milliseconds=12),
        deadline_at=now + timedelta(hours=2),
    )
    return now


def test_5000_in_flight_are_each_looked_at_within_two_minutes_inside_60_requests_a_minute(
    crowd, fake, monkeypatch, caplog
):
    looked: dict[int, list[float]] = {}
    visible: dict[str, float] = {}
    real_apply = follow.apply_task

    def apply_task(generation, task):
        at = timezone.now().timestamp()
        looked.setdefault(generation.pk, []).append(at)
        if task.is_terminal:
            visible.setdefault(task.task_id, at)
        return real_apply(generation, task)

    real_succeed_many = services.succeed_many

    def succeed_many(results, from_statuses):
        # A batch of finishes the list showed: looked at (and visible) like apply_task's.
        at = timezone.now().timestamp()
        for generation, _ in results:
            looked.setdefault(generation.pk, []).append(at)
            visible.setdefault(generation.task_id, at)
        return real_succeed_many(results, from_statuses)

    monkeypatch.setattr(follow, "apply_task", apply_task)
    monkeypatch.setattr(services, "succeed_many", succeed_many)
    sent: Counter[int] = Counter()  # provider requests per minute of the clock
    for name in ("list_tasks", "get"):
        real = getattr(fake, name)

        def counted(*args, _real=real, **kwargs):
            sent[int(timezone.now().timestamp() // 60)] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(fake, name, counted)

    start = crowd.timestamp()
    finished_at: dict[str, float] = {}
    ids = list(Generation.objects.order_by("pk").values_list("task_id", flat=True))
    caplog.set_level(logging.INFO, logger="generations.clock")
    with time_machine.travel(crowd, tick=False) as traveller:
        for second in range(240):
            if second == 110:
                # A fifth of them finish at once, half-way through.
                for task_id in ids[::5]:
                    fake.succeed(task_id)
                    finished_at[task_id] = timezone.now().timestamp()
            clock.tick()
            traveller.shift(timedelta(seconds=1))
        end = timezone.now().timestamp()

    pace = clock.cadence()
    assert pace.budget_bound and 20 <= pace.seconds <= 40, pace
    assert any(
        "a pass every" in r.getMessage() and "KLING_MAX_QPM=60" in r.getMessage() for r in caplog.records
    )
    # Within the budget in every minute, with room left for creates.
    assert max(sent.values()) <= 60 * clock.SWEEP_BUDGET_SHARE + 5, sent
    # Nobody starved: from the start, no generation waited more than two minutes for a look.
    still_in_flight = set(
        Generation.objects.filter(status__in=[Status.SUBMITTED, Status.PROCESSING]).values_list(
            "pk", flat=True
        )
    )
    assert len(looked) == IN_FLIGHT
    worst = 0.0
    for pk, times in looked.items():
        moments = [start, *times] + ([end] if pk in still_in_flight else [])
        worst = max(worst, max(b - a for a, b in itertools.pairwise(moments)))
    assert worst <= 120, worst
    print(f"longest wait for a look {worst:.0f} s; requests a minute {sorted(sent.values())}")
    # Finished work is visible within a minute (p95), polling only.
    latencies = sorted(visible[t] - finished_at[t] for t in finished_at)
    assert len(latencies) == len(finished_at) == IN_FLIGHT // 5
    assert latencies[int(len(latencies) * 0.95) - 1] < 60
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == IN_FLIGHT // 5


def test_the_admin_says_when_the_budget_sets_the_pace(crowd, admin_client):
    response = admin_client.get(reverse("admin:generations_generation_changelist"))
    text = response.content.decode()
    assert "The poll sweep runs every" in text and "KLING_MAX_QPM" in text


def test_under_the_budget_the_setting_is_the_cadence(settings, db, caplog):
    settings.KLING_MAX_QPM = 60
    settings.GENERATION_POLL_SECONDS = 12
    pace = clock.cadence()
    assert pace.seconds == 12 and not pace.budget_bound
