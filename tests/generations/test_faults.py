"""Every way the provider can misbehave ends right: no second paid job, no double charge,
a refund exactly once on failure, results stored on success."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, media, services
from generations.models import MAX_FETCH_ATTEMPTS, Generation, Status, WaitReason
from tests.generations import fakes
from tests.generations.conftest import cleaned


@pytest.fixture
def create(rich_alice, commit):
    def make(kind: str = "text2video", token: str = "t", **overrides) -> Generation:
        with commit():
            generation = services.create_generation(rich_alice, kind, cleaned(kind, **overrides), token)
        generation.refresh_from_db()
        return generation

    return make


def entries(generation: Generation) -> list[tuple[str, int]]:
    return sorted(LedgerEntry.objects.filter(generation=generation).values_list("kind", "amount"))


def retry_submit(commit, generation: Generation, clock) -> Generation:
    """Let the backoff pass and the sweep send it again."""
    clock.shift(timedelta(minutes=6))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    return generation


def test_it_waits_and_retries_after_1303(create, fake, commit, clock, slots):
    fake.fail_next_submit(fakes.rate_limited())
    generation = create()
    assert generation.status == Status.QUEUED
    assert generation.wait_reason == WaitReason.RETRY
    assert generation.due_at > timezone.now()
    assert not generation.maybe_created  # 1303 means nothing was created
    assert generation.pk not in slots.holders  # our slot went back while we wait

    # Nothing happens before the backoff is over.
    with commit():
        follow.sweep()
    assert fake.count("submit") == 1

    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.SUBMITTED
    assert generation.attempts == 2
    assert fake.count("submit") == 2 and fake.count("find") == 0
    assert len(fake.jobs_for(generation)) == 1
    assert entries(generation) == [("charge", -25)]


@pytest.mark.parametrize(
    "error",
    [fakes.timed_out, fakes.server_timeout, fakes.malformed_create],
    ids=["timeout", "5002", "malformed"],
)
def test_it_finds_the_task_a_lost_answer_created(error, create, fake, commit, clock):
    fake.fail_next_submit(error(), created=True)
    generation = create()
    assert generation.status == Status.QUEUED and generation.maybe_created
    assert len(fake.jobs_for(generation)) == 1

    generation = retry_submit(commit, generation, clock)
    # Found by our external_task_id: adopted, never sent twice.
    assert generation.status == Status.SUBMITTED
    assert generation.task_id == fake.task_for(generation).task_id
    assert fake.count("submit") == 1 and fake.count("find") == 1
    assert len(fake.jobs_for(generation)) == 1
    assert not generation.maybe_created

    fake.succeed(generation.task_id)
    with commit():
        follow.refresh(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.assets.count() == 1
    assert entries(generation) == [("charge", -25)]


def test_it_sends_again_when_the_lost_answer_created_nothing(create, fake, commit, clock):
    fake.fail_next_submit(fakes.timed_out(), created=False)
    generation = create()
    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.SUBMITTED
    assert fake.count("find") == 1 and fake.count("submit") == 2
    assert len(fake.jobs_for(generation)) == 1


def test_it_looks_first_after_a_worker_died_mid_submit(create, fake, commit, clock):
    # A worker claimed the row, marked it, sent the request, and died before recording the
    # answer: the task exists, the row is still queued with its lease running out.
    generation = create()
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.QUEUED, task_id="", submitted_at=None, maybe_created=True, due_at=timezone.now()
    )
    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.SUBMITTED
    assert fake.count("submit") == 1 and fake.count("find") == 1
    assert len(fake.jobs_for(generation)) == 1


def test_it_keeps_looking_when_the_lookup_itself_fails(create, fake, commit, clock):
    fake.fail_next_submit(fakes.timed_out(), created=True)
    fake.fail_next_find(fakes.malformed())
    generation = create()
    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.QUEUED  # still unsure: never send blind
    assert fake.count("submit") == 1
    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.SUBMITTED
    assert fake.count("submit") == 1 and len(fake.jobs_for(generation)) == 1


def test_a_taken_external_id_after_a_lookup_miss_is_looked_up_again_never_refunded(
    create, fake, commit, clock, slots
):
    fake.fail_next_submit(fakes.timed_out(), created=True)
    generation = create()
    # The lookup lags behind the create and misses the task; sent again, Kling answers
    # 1201 "external_task_id ... already exists": our task is there after all.
    fake.miss_next_find()
    fake.fail_next_submit(fakes.external_id_taken(str(generation.external_task_id)))
    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.QUEUED
    assert generation.maybe_created and generation.wait_reason == WaitReason.RETRY
    assert generation.pk in slots.holders  # the task holds a Kling slot, so it keeps ours
    assert entries(generation) == [("charge", -25)]

    generation = retry_submit(commit, generation, clock)
    assert generation.status == Status.SUBMITTED
    assert generation.task_id == fake.task_for(generation).task_id
    assert fake.count("submit") == 2 and fake.count("find") == 2
    assert len(fake.jobs_for(generation)) == 1
    assert entries(generation) == [("charge", -25)]


def test_a_provider_that_cannot_look_up_frees_the_slot_of_a_lost_create_at_once(
    create, fake, commit, clock, slots, rich_alice
):
    from generations.providers import errors

    fake.fail_next_submit(fakes.timed_out(), created=True)
    generation = create()
    fake.fail_next_find(errors.unsupported("the gateway cannot look a task up by our external id"))
    clock.shift(timedelta(seconds=30))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    # Not an hour holding a slot until the deadline: failed, refunded, slot free.
    assert generation.status == Status.FAILED and generation.error_code == "unconfirmed"
    assert generation.pk not in slots.holders
    assert entries(generation) == [("charge", -25), ("refund", 25)]
    assert ledger.balance_of(rich_alice) == 1000


def test_it_fails_and_refunds_a_permanent_submit_error(create, fake, commit, rich_alice):
    fake.fail_next_submit(fakes.content_refused())
    generation = create()
    assert generation.status == Status.FAILED
    assert generation.error_code == "content_refused"
    assert (
        generation.error_message
        == "Kling refused this prompt under its content rules. Please change it and try again."
    )
    assert entries(generation) == [("charge", -25), ("refund", 25)]
    assert ledger.balance_of(rich_alice) == 1000


def test_it_shrugs_off_a_malformed_answer_while_polling(create, fake, commit, clock):
    generation = create()
    fake.succeed(fake.task_for(generation).task_id)
    fake.fail_next_list(fakes.malformed())
    fake.fail_next_get(fakes.malformed())
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED  # no answer yet, no harm

    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.assets_saved_at is not None


def test_it_finishes_by_polling_when_callbacks_are_lost(create, fake, commit, clock):
    generation = create()
    fake.succeed(fake.task_for(generation).task_id)  # Kling's callback never arrives
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.assets.count() == 1


def test_it_acts_once_on_duplicated_callbacks(create, fake, commit, client, cdn):
    generation = create()
    fake.succeed(fake.task_for(generation).task_id)
    body = {"task_id": generation.task_id, "task_status": "succeed"}
    for _ in range(3):
        with commit():
            response = client.post(generation.callback_path(), body, content_type="application/json")
        assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.assets.count() == 1
    assert len([c for c in cdn.calls if c.request.url.endswith(".mp4")]) == 1  # copied once
    assert (
        fake.count("list") == 1 and fake.count("get") == 0
    )  # later callbacks found it finished and asked nobody


def test_it_refunds_success_without_any_result(create, fake, commit, rich_alice):
    generation = create()
    fake.succeed(fake.task_for(generation).task_id, urls=[])
    with commit():
        follow.refresh(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and generation.error_code == "no_result"
    assert entries(generation) == [("charge", -25), ("refund", 25)]


def test_a_failed_copy_is_retried_and_never_refunded(create, fake, commit, cdn, clock, rich_alice, mp4_bytes):
    generation = create()
    task = fake.task_for(generation)
    broken = f"https://cdn.klingai.com/broken/{task.task_id}.mp4"
    cdn.add("GET", broken, status=503)
    fake.succeed(task.task_id, urls=[broken])
    with commit():
        follow.refresh(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.assets_saved_at is None
    assert "503" in generation.fetch_error
    assert generation.is_live  # its page keeps waiting for the copy

    # The CDN recovers; the sweep retries the copy.
    cdn.replace("GET", broken, body=mp4_bytes, status=200, content_type="video/mp4")
    clock.shift(timedelta(minutes=1))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.assets_saved_at is not None and generation.assets.count() == 1
    assert generation.fetch_error == ""
    assert entries(generation) == [("charge", -25)]
    assert ledger.balance_of(rich_alice) == 975


def test_a_copy_gives_up_after_its_attempts_and_staff_can_restart_it(
    create, fake, commit, cdn, clock, mp4_bytes
):
    generation = create()
    task = fake.task_for(generation)
    broken = f"https://cdn.klingai.com/gone/{task.task_id}.mp4"
    cdn.add("GET", broken, status=404)
    fake.succeed(task.task_id, urls=[broken])
    with commit():
        follow.refresh(generation.pk)
    for _ in range(MAX_FETCH_ATTEMPTS + 2):
        clock.shift(timedelta(minutes=6))
        with commit():
            follow.sweep()
    generation.refresh_from_db()
    assert generation.fetch_attempts == MAX_FETCH_ATTEMPTS
    assert generation.due_at is None and not generation.is_live
    assert generation.status == Status.SUCCEEDED
    assert entries(generation) == [("charge", -25)]

    cdn.replace("GET", broken, body=mp4_bytes, status=200, content_type="video/mp4")
    with commit():
        assert media.copy_again(generation.pk)
    generation.refresh_from_db()
    assert generation.assets_saved_at is not None and generation.assets.count() == 1


def test_it_never_refunds_twice_when_everything_races(create, fake, commit, rich_alice):
    generation = create()
    fake.fail(fake.task_for(generation).task_id)
    with commit():
        follow.refresh(generation.pk)
        follow.refresh(generation.pk)
        services.fail(generation.pk, code="x", message="again")
        services.fail_by_staff(generation.pk, "and again", None)
    assert entries(generation) == [("charge", -25), ("refund", 25)]
    assert ledger.balance_of(rich_alice) == 1000
    assert ledger.find_drifts() == []
