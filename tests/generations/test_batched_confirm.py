"""Confirming at one provider request per generation: unsigned callbacks are confirmed in
batches by the list endpoint, a signed callback body is itself the confirmation, and the
sweep reads every page of the list."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from billing import ledger
from generations import follow
from generations.models import Generation, Status
from generations.providers import webhook_signature
from tests.generations.fakes import MEDIA_BASE, FakeTask, record_finishes
from tests.generations.test_callbacks import SECRET, post
from tests.generations.test_sweep import many as _many_from_the_sweep_tests

many = _many_from_the_sweep_tests  # the same fixture: people with many jobs at once


def newer_tasks_at_kling(fake, count: int = 1000) -> None:
    """Tasks made elsewhere on the account after ours: they fill the list's first pages."""
    for n in range(count):
        serial = fake._serial + 1 + n
        fake.tasks[str(serial)] = FakeTask(
            task_id=str(serial), product="videos/text2video", external_id="", params={}, serial=serial
        )


def test_a_burst_of_300_callbacks_is_confirmed_with_one_list_call_per_product(
    many, fake, commit, client, monkeypatch, rich_alice
):
    ledger.grant(rich_alice, 20_000, key="burst:grant")
    videos = many(200)
    images = many(100, "text2image")
    fake.calls.clear()
    finished = record_finishes(monkeypatch)
    # Copying results is not what this counts (and is the slow part).
    monkeypatch.setattr("generations.queue.fetch_results", lambda pk: None)
    monkeypatch.setattr("generations.queue.notify_finished", lambda pk: None)
    for generation in videos + images:
        fake.succeed(generation.task_id)
    # One debounce window: every hint is recorded before the first confirmation runs.
    with commit():
        for generation in videos + images:
            body = {"task_id": generation.task_id, "task_status": "succeed"}
            assert post(client, generation.callback_path(), body).status_code == 200
    assert fake.count("list") == 2 and fake.count("get") == 0
    assert sorted(finished) == sorted(g.pk for g in videos + images)  # each exactly once
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 300


def test_a_hinted_task_the_list_does_not_show_is_looked_up_alone(many, fake, commit, client):
    (generation,) = many(1)
    fake.hide_from_list(generation.task_id)
    fake.succeed(generation.task_id)
    fake.calls.clear()
    with commit():
        post(client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"})
    assert fake.count("list") == 1 and fake.count("get") == 1
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def test_a_failed_confirmation_never_fails_the_job_and_leaves_it_due(many, fake, commit, client):
    from tests.generations.fakes import server_timeout

    (generation,) = many(1)
    fake.succeed(generation.task_id)
    fake.fail_next_list(server_timeout())
    fake.fail_next_get(server_timeout())
    with commit():
        post(client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"})
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert generation.due_at is not None


def test_without_the_cache_each_hint_is_confirmed_alone(many, fake, commit, client, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from generations import callbacks

    def cache_down(*args, **kwargs):
        raise RedisConnectionError("Connection refused.")

    monkeypatch.setattr(callbacks.cache, "add", cache_down)
    (generation,) = many(1)
    fake.succeed(generation.task_id)
    fake.calls.clear()
    with commit():
        post(client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"})
    assert fake.count("get") == 1
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def kling_body(generation: Generation, status: str = "succeed") -> bytes:
    body = {
        "task_id": generation.task_id,
        "task_status": status,
        "task_status_msg": "" if status == "succeed" else "Failure to pass the risk control system",
        "final_unit_deduction": "2.5",
        "task_result": {"videos": [{"id": "v1", "url": f"{MEDIA_BASE}/v1.mp4", "duration": "5"}]}
        if status == "succeed"
        else {},
    }
    return json.dumps(body).encode()


def test_a_signed_callback_needs_no_lookup(many, fake, commit, client, settings):
    settings.KLING_WEBHOOK_SECRET = SECRET
    done, failed = many(2)
    fake.calls.clear()
    with commit():
        for generation, status in ((done, "succeed"), (failed, "failed")):
            body = kling_body(generation, status)
            headers = webhook_signature.headers(SECRET, f"msg-{generation.pk}", body)
            assert post(client, generation.callback_path(), body, **headers).status_code == 200
    assert fake.request_count == 0
    done.refresh_from_db()
    failed.refresh_from_db()
    assert done.status == Status.SUCCEEDED and done.assets_saved_at is not None
    assert failed.status == Status.FAILED


def test_a_forged_signed_callback_changes_nothing(many, fake, commit, client, settings):
    settings.KLING_WEBHOOK_SECRET = SECRET
    (generation,) = many(1)
    fake.calls.clear()
    body = kling_body(generation)
    with commit():
        forged = webhook_signature.headers(SECRET + "x", "msg-forged", body)
        assert post(client, generation.callback_path(), body, **forged).status_code == 400
    assert Generation.objects.get(pk=generation.pk).status == Status.SUBMITTED
    assert fake.request_count == 0


def test_a_signed_body_for_another_task_is_not_applied(many, fake, commit, client, settings):
    settings.KLING_WEBHOOK_SECRET = SECRET
    mine, other = many(2)
    body = kling_body(other)
    with commit():
        post(client, mine.callback_path(), body, **webhook_signature.headers(SECRET, "msg-x", body))
    assert Generation.objects.get(pk=mine.pk).status == Status.SUBMITTED


def test_the_sweep_walks_every_page_of_the_list(many, fake, commit, clock):
    ours = many(5)
    for generation in ours:
        fake.succeed(generation.task_id)
    # 1,000 newer tasks at Kling (made elsewhere on the account) push ours to page 3.
    newer_tasks_at_kling(fake)
    fake.calls.clear()
    clock.shift(timedelta(seconds=15))
    with commit():
        report = follow.sweep()
    assert [c[2] for c in fake.calls if c[0] == "list"] == [1, 2, 3]
    assert report.list_calls == 3 and fake.count("get") == 0
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 5


def test_the_page_walk_stops_when_the_budget_is_spent(many, fake, commit, clock, slots):
    ours = many(2)
    newer_tasks_at_kling(fake)
    slots.requests = 1
    fake.calls.clear()
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    assert fake.request_count == 1  # the budget, counted at the provider seam
    assert all(Generation.objects.get(pk=g.pk).status == Status.SUBMITTED for g in ours)


def test_a_confirmation_that_waited_in_the_queue_past_its_window_does_not_sleep(monkeypatch, db):
    import time

    import django_q.conf

    slept: list[float] = []
    monkeypatch.setattr(django_q.conf.Conf, "SYNC", False)
    monkeypatch.setattr(follow.time, "sleep", slept.append)
    follow.confirm_hints("videos/text2video", not_before=time.time() - 5)  # queued 6 s ago
    assert slept == []
    follow.confirm_hints("videos/text2video", not_before=time.time() + 0.6)  # just enqueued
    assert len(slept) == 1 and 0 < slept[0] <= follow.CONFIRM_DEBOUNCE_SECONDS


def hint_all(client, commit, generations: list[Generation]) -> None:
    with commit():
        for generation in generations:
            body = {"task_id": generation.task_id, "task_status": "succeed"}
            assert post(client, generation.callback_path(), body).status_code == 200


@pytest.fixture
def clock_keeps_time(monkeypatch, settings, db):
    """A clock process keeps time, so callbacks leave their confirmation to it; it has
    confirmed nothing yet."""
    from django.utils import timezone

    from generations import clock
    from generations.models import SweepClock

    settings.GENERATION_POLL_SECONDS = 12
    # The next pass is far off: these tests are about the confirmations between passes.
    SweepClock.objects.update_or_create(
        pk=1, defaults={"started_at": timezone.now(), "next_pass_at": timezone.now() + timedelta(hours=1)}
    )
    # No queue hop: a confirmation in a worker waited behind every submit queued before it.
    monkeypatch.setattr("generations.queue.confirm_hints", lambda *a: pytest.fail("confirmed in the queue"))
    monkeypatch.setattr(clock, "_confirmed", {})
    return clock


def later(seconds: float):
    from django.utils import timezone

    return timezone.now() + timedelta(seconds=seconds)


def test_the_confirmation_wait_grows_with_the_stream_and_never_passes_the_bound():
    from generations.clock import CONFIRM_BATCH, CONFIRM_MAX_WAIT, CONFIRM_MIN_WAIT, LastConfirmation
    from generations.clock import confirm_at as at

    t = 1_000_000.0
    # A hint that comes alone, first or after a quiet spell: only the minimum wait.
    assert at(t, 1, None) == t + CONFIRM_MIN_WAIT
    assert at(t, 1, LastConfirmation(at=t - 60, rows=300)) == t + CONFIRM_MIN_WAIT
    # Hints keep coming: the more the last call covered, the longer the next one waits.
    assert at(t, 1, LastConfirmation(at=t - 0.2, rows=1)) == t + CONFIRM_MIN_WAIT
    assert at(t, 1, LastConfirmation(at=t - 0.2, rows=3)) == t + 3 * CONFIRM_MIN_WAIT
    assert at(t, 1, LastConfirmation(at=t - 0.2, rows=200)) == t + CONFIRM_MAX_WAIT
    # Enough waiting to make a call worth it: at once.
    assert at(t, CONFIRM_BATCH, LastConfirmation(at=t - 0.2, rows=200)) == t
    assert CONFIRM_MAX_WAIT <= 2
    for waiting in (0, 1, 2, 10, 24, 25, 1000):
        for last in (None, LastConfirmation(at=t - 0.1, rows=0), LastConfirmation(at=t - 1, rows=10**6)):
            assert t <= at(t, waiting, last) <= t + CONFIRM_MAX_WAIT


def test_while_a_clock_keeps_time_a_burst_of_300_hints_shares_one_list_call_per_product_and_window(
    many, fake, commit, client, monkeypatch, clock_keeps_time, rich_alice
):
    clock = clock_keeps_time
    ledger.grant(rich_alice, 20_000, key="burst:grant")
    videos = many(220)
    images = many(100, "text2image")
    # Only the hints make rows due, however long creating 320 took.
    Generation.objects.update(due_at=later(3600))
    finished = record_finishes(monkeypatch)
    monkeypatch.setattr("generations.queue.fetch_results", lambda pk: None)
    monkeypatch.setattr("generations.queue.notify_finished", lambda pk: None)
    fake.calls.clear()
    for generation in videos + images:
        fake.succeed(generation.task_id)
    hint_all(client, commit, videos[:200] + images)
    assert clock.confirm_hints().polled == 300  # enough waiting: no wait at all
    assert fake.count("list") == 2 and fake.count("get") == 0
    assert sorted(finished) == sorted(g.pk for g in videos[:200] + images)  # each exactly once
    # The stream goes on: the next hints wait for the window (two seconds at most) ...
    hint_all(client, commit, videos[200:])
    waited = clock.confirm_hints()
    assert waited.polled == 0 and fake.count("list") == 2
    assert 1.5 < waited.next_in <= clock.CONFIRM_MAX_WAIT
    assert clock.confirm_hints(later(1.5)).polled == 0
    # ... and then share one call.
    assert clock.confirm_hints(later(clock.CONFIRM_MAX_WAIT + 0.05)).polled == 20
    assert fake.count("list") == 3 and fake.count("get") == 0
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 320
    assert len(finished) == 320


def test_while_a_clock_keeps_time_a_lone_hint_is_confirmed_within_the_minimum_wait(
    many, fake, commit, client, clock_keeps_time
):
    clock = clock_keeps_time
    (generation,) = many(1)
    fake.succeed(generation.task_id)
    fake.calls.clear()
    hint_all(client, commit, [generation])
    first = clock.confirm_hints()
    assert first.polled == 0 and 0 < first.next_in <= clock.CONFIRM_MIN_WAIT
    with commit():
        assert clock.confirm_hints(later(clock.CONFIRM_MIN_WAIT)).polled == 1
    assert fake.count("list") == 1 and fake.count("get") == 0
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def test_a_pass_due_within_the_window_is_brought_forward_to_confirm_the_hints(
    many, fake, commit, client, clock_keeps_time
):
    from django.utils import timezone

    from generations.models import SweepClock

    clock = clock_keeps_time
    videos = many(30)
    images = many(30, "text2image")
    for generation in videos + images:
        fake.succeed(generation.task_id)
    hint_all(client, commit, videos[:5] + images[:5])
    soon = timezone.now() + timedelta(seconds=1)
    SweepClock.objects.filter(pk=1).update(next_pass_at=soon)
    fake.calls.clear()
    with commit():
        assert clock.confirm_hints(later(clock.CONFIRM_MIN_WAIT)).polled == 10
    # One list call per product in all: the pass's, which looked at the hinted rows too.
    assert fake.count("list") == 2 and fake.count("get") == 0
    assert SweepClock.objects.get(pk=1).next_pass_at > soon
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 60
