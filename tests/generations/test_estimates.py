"""Time estimates on live cards: a schedule computes them from a bounded window of recent
history and pages only read the cache (the static table when it has nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from generations import services, tasks
from generations.apps import ESTIMATES_SCHEDULE, create_schedules
from generations.models import Generation, Status

HTMX = {"HX-Request": "true"}


def finished_run(
    owner,
    seconds: float,
    *,
    model_name: str = "kling-v2-6",
    mode: str = "pro",
    status: str = Status.SUCCEEDED,
    ago: timedelta = timedelta(0),
) -> Generation:
    finished_at = timezone.now() - ago
    return Generation.objects.create(
        owner=owner, kind="text2video", provider="fake", model_name=model_name, mode=mode, cost=0,
        status=status, created_at=finished_at - timedelta(seconds=seconds), finished_at=finished_at,
    )  # fmt: skip


def live_run(owner, *, mode: str = "pro", started: float = 50) -> Generation:
    return Generation.objects.create(
        owner=owner, kind="text2video", provider="fake", model_name="kling-v2-6", mode=mode, cost=0,
        status=Status.PROCESSING, created_at=timezone.now() - timedelta(seconds=started),
    )  # fmt: skip


def generation_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "generations_generation" in q["sql"]]


@pytest.mark.parametrize("page", ["gallery", "detail", "status", "card"])
def test_it_renders_live_work_without_reading_finished_history(
    page, alice, bob, client, django_assert_max_num_queries
):
    for seconds in (100, 200, 400):
        finished_run(bob, seconds)
    running = live_run(alice)
    client.force_login(alice)
    url = {
        "gallery": "/generations/",
        "detail": f"/generations/{running.pk}/",
        "status": f"/generations/{running.pk}/status/",
        "card": f"/generations/{running.pk}/status/?view=card",
    }[page]
    cache.clear()
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="progress-bar"' in body
    # Only alice's own rows are read: nothing over everyone's finished work.
    sql = generation_queries(queries)
    assert sql, "the page reads the generation"
    for statement in sql:
        assert "owner_id" in statement, statement
        assert "ROW_NUMBER" not in statement.upper() and "OVER (" not in statement.upper(), statement
    # With nothing cached, the estimate is Kling's published average.
    assert (
        services.progress_for([running])[running.pk].estimate_seconds
        == services.TYPICAL_SECONDS["text2video"]
    )


def test_it_shows_the_history_once_the_schedule_has_run(alice, bob):
    for seconds in (100, 200, 400):
        finished_run(bob, seconds)
    running = live_run(alice)
    assert (
        services.progress_for([running])[running.pk].estimate_seconds
        == services.TYPICAL_SECONDS["text2video"]
    )

    assert tasks.refresh_estimates().endswith("estimates stored")

    progress = services.progress_for([running])[running.pk]
    assert progress.estimate_seconds == 200  # the median of the three
    assert progress.percent == 25
    other_mode = live_run(alice, mode="std")
    assert (
        services.progress_for([other_mode])[other_mode.pk].estimate_seconds
        == (services.TYPICAL_SECONDS["text2video"])
    )


def test_it_uses_only_a_recent_bounded_sample(alice):
    for _ in range(services.ESTIMATE_SAMPLE):
        finished_run(alice, 60, ago=timedelta(minutes=5))
    for _ in range(services.ESTIMATE_SAMPLE):
        finished_run(alice, 600, ago=timedelta(hours=1))  # older than the newest sample
    finished_run(alice, 5000, ago=services.ESTIMATE_WINDOW + timedelta(hours=1), mode="std")

    estimates = services.refresh_estimates()

    assert estimates[("text2video", "kling-v2-6", "pro")] == 60
    # Past the window: as if there were no history.
    assert estimates[("text2video", "kling-v2-6", "std")] == services.TYPICAL_SECONDS["text2video"]


def test_it_ignores_failures_and_other_models(alice):
    finished_run(alice, 900, status=Status.FAILED)
    finished_run(alice, 77, model_name="kling-v1", mode="std")
    estimates = services.refresh_estimates()
    assert estimates[("text2video", "kling-v2-6", "pro")] == services.TYPICAL_SECONDS["text2video"]
    assert estimates[("text2video", "kling-v1", "std")] == 77


def test_it_costs_one_small_query_per_model_and_mode_whatever_the_history(alice):
    for seconds in range(1, 60):
        finished_run(alice, seconds)
    with CaptureQueriesContext(connection) as queries:
        services.refresh_estimates()
    assert len(queries) == len(services.estimate_keys())
    for statement in generation_queries(queries):
        assert f"LIMIT {services.ESTIMATE_SAMPLE}" in statement, statement
        assert "finished_at" in statement and ">=" in statement, statement


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_it_reads_the_sample_through_its_index(alice):
    query = (
        Generation.objects.filter(
            kind="text2video",
            model_name="kling-v2-6",
            mode="pro",
            status=Status.SUCCEEDED,
            finished_at__gte=timezone.now(),
        )
        .order_by("-finished_at")
        .values_list("created_at", "finished_at")[:20]
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "generation_estimate_sample" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order


def test_it_is_scheduled_and_an_operators_pause_survives_migrate(db):
    create_schedules(sender=None)
    schedule = Schedule.objects.get(name=ESTIMATES_SCHEDULE)
    assert schedule.func == "generations.tasks.refresh_estimates"
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.minutes == services.ESTIMATE_REFRESH_MINUTES
    # Long enough that one late run does not drop the estimates back to the table.
    assert services.ESTIMATE_CACHE_SECONDS > 2 * 60 * services.ESTIMATE_REFRESH_MINUTES

    Schedule.objects.filter(pk=schedule.pk).update(repeats=0)
    create_schedules(sender=None)
    assert Schedule.objects.filter(name=ESTIMATES_SCHEDULE).count() == 1
    assert Schedule.objects.get(name=ESTIMATES_SCHEDULE).repeats == 0


def test_it_shows_a_live_card_while_the_cache_is_down(alice, client, monkeypatch):
    # Redis restarting must not turn every poll of a live card into a 500: the estimate
    # falls back to Kling's published average.
    from redis.exceptions import ConnectionError as RedisConnectionError

    def cache_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    running = live_run(alice)
    client.force_login(alice)
    monkeypatch.setattr(services.cache, "get_many", cache_down)
    response = client.get(f"/generations/{running.pk}/status/", headers=HTMX)
    assert response.status_code == 200
    assert 'class="progress-bar"' in response.content.decode()
    estimate = services.estimates_for([("text2video", "kling-v2-6", "pro")])
    assert estimate == {("text2video", "kling-v2-6", "pro"): services.TYPICAL_SECONDS["text2video"]}
