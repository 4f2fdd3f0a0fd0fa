"""A batched confirmation writes its successes together (services.succeed_many) and spreads
a burst larger than a list page over the workers, without giving up what a single
transition guarantees: compare-and-set, slots freed, one result copy per finish, refunds
only where they belong."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from generations import follow, services
from generations.models import IN_FLIGHT_STATUSES, Generation, Status
from tests.generations.test_sweep import many as _many_from_the_sweep_tests

many = _many_from_the_sweep_tests


def success(url: str = "https://cdn.example/a.png") -> dict:
    media = [{"kind": "image", "index": 0, "url": url, "duration": None, "id": "1"}]
    return {"result_media": media, "units_charged": None, "provider_message": ""}


def test_a_batch_leaves_alone_a_row_another_worker_finished_and_frees_every_slot(
    many, slots, commit, monkeypatch
):
    first, second, third = many(3)
    copies: list[int] = []
    monkeypatch.setattr("generations.queue.fetch_results", copies.append)
    # A deadline, staff or a single lookup got to the second one first.
    assert services.fail(second.pk, code="deadline", message="late", from_statuses=IN_FLIGHT_STATUSES)
    refunds = LedgerEntry.objects.filter(kind="refund").count()
    with commit():
        moved = services.succeed_many([(g, success()) for g in (third, second, first)], IN_FLIGHT_STATUSES)
    assert moved == [first.pk, third.pk]
    assert Generation.objects.get(pk=second.pk).status == Status.FAILED
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 2
    assert LedgerEntry.objects.filter(kind="refund").count() == refunds  # no refund for a success
    assert sorted(copies) == [first.pk, third.pk]  # one copy each, after the commit
    assert not slots.holders
    row = Generation.objects.get(pk=first.pk)
    assert row.finished_at is not None and row.due_at is None and row.result_media[0]["url"]
    # Run again (a redelivered task): nothing moves twice.
    with commit():
        assert services.succeed_many([(first, success())], IN_FLIGHT_STATUSES) == []
    assert sorted(copies) == [first.pk, third.pk]


def test_a_success_that_may_give_credits_back_is_not_batched(many):
    (generation,) = many(1)
    generation.params = {**generation.params, "series_amount": "auto"}
    assert services.may_give_back(generation)
    with pytest.raises(ValueError):
        services.succeed_many([(generation, success())], IN_FLIGHT_STATUSES)
    assert Generation.objects.get(pk=generation.pk).status in IN_FLIGHT_STATUSES


def test_a_burst_larger_than_a_page_hands_the_next_page_to_another_worker(many, fake, commit, monkeypatch):
    generations = many(12)
    for generation in generations:
        fake.succeed(generation.task_id)
    Generation.objects.update(due_at=timezone.now())
    monkeypatch.setattr("generations.queue.fetch_results", lambda pk: None)
    handed: list[str] = []
    monkeypatch.setattr("generations.queue.confirm_hints", lambda product, not_before: handed.append(product))
    page = 5
    claim_due = follow.claim_due
    monkeypatch.setattr(follow, "LIST_PAGE_SIZE", page)
    monkeypatch.setattr(
        follow,
        "claim_due",
        lambda product, now, limit=page, due_by=None: claim_due(product, now, limit, due_by),
    )
    with commit():
        report = follow.confirm_hints(generations[0].product, 0)
    # Two full pages: each time another worker was asked to share what is left.
    assert handed == [generations[0].product] * 2
    assert report.polled == 12
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 12
