"""The queue is fair: one person's pile of jobs cannot starve another's single job, each
person has a cap on unfinished work, and an image task takes one of Kling's slots per
image. Real limiter, real simulator, real ledger; the PostgreSQL pass runs them again."""

import pytest

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, services
from generations.models import Generation, LimiterSlot, Status, WaitReason
from tests.simulator.pipeline import form


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice, bob, settings):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    settings.KLING_MAX_CONCURRENCY = 5
    ledger.grant(alice, 100_000, key="fair:alice")
    ledger.grant(bob, 1000, key="fair:bob")
    return kling_simulator


def _video(user, commit, token: str) -> Generation:
    data = form("text2video", f"A fox, take {token}", token=token)
    data["duration"] = "5"
    with commit(execute=True):
        generation = services.create_generation(user, "text2video", _cleaned(data), token)
    generation.refresh_from_db()
    return generation


def _cleaned(data: dict, kind: str = "text2video") -> dict:
    from generations.forms import FORMS

    bound = FORMS[kind](data)
    assert bound.is_valid(), bound.errors
    return bound.cleaned_data


def test_one_persons_200_jobs_do_not_starve_anothers_one(
    pipeline, alice, bob, django_capture_on_commit_callbacks, settings
):
    commit = django_capture_on_commit_callbacks
    settings.MAX_QUEUED_PER_USER = 200
    piles = [_video(alice, commit, f"alice-{i}") for i in range(200)]
    single = _video(bob, commit, "bob-0")
    assert Generation.objects.filter(owner=alice, status=Status.SUBMITTED).count() == 5
    assert single.status == Status.QUEUED and single.wait_reason == WaitReason.SLOT

    for _ in range(20):
        pipeline.advance(follow.poll_base_seconds())
        with commit(execute=True):
            pipeline.deliver_callbacks()
            follow.sweep()
        single.refresh_from_db()
        if single.status != Status.QUEUED:
            break
    assert single.status in (Status.SUBMITTED, Status.PROCESSING, Status.SUCCEEDED)
    # Sent in the first turnover: only alice's first five had finished by then.
    assert Generation.objects.filter(owner=alice, status=Status.SUCCEEDED).count() <= 5
    assert Generation.objects.filter(pk__in=[g.pk for g in piles], submitted_at__isnull=False).count() <= 9
    assert LimiterSlot.objects.count() <= settings.KLING_MAX_CONCURRENCY


def test_over_the_cap_the_create_page_says_so_and_charges_nothing(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, settings
):
    commit = django_capture_on_commit_callbacks
    settings.MAX_QUEUED_PER_USER = 3
    for i in range(3):
        _video(alice, commit, f"capped-{i}")
    balance = ledger.balance_of(alice)
    entries = LedgerEntry.objects.count()

    with commit(execute=True):
        response = alice_client.post(
            "/generate/text-to-video/", form("text2video", "One too many", token="over")
        )
    assert response.status_code == 200
    page = response.content.decode()
    assert "You already have 3 generations waiting or in progress" in page
    assert "nothing was charged" in page
    assert ledger.balance_of(alice) == balance
    assert LedgerEntry.objects.count() == entries
    assert Generation.objects.filter(owner=alice).count() == 3


def test_an_image_task_takes_one_slot_per_image(pipeline, alice, bob, django_capture_on_commit_callbacks):
    commit = django_capture_on_commit_callbacks
    data = form("text2image", "Four lighthouses")  # n = 4
    with commit(execute=True):
        images = services.create_generation(alice, "text2image", _cleaned(data, "text2image"), "img")
    images.refresh_from_db()
    assert images.slot_count == 4 and images.status == Status.SUBMITTED
    assert LimiterSlot.objects.filter(generation_id=images.pk).count() == 4

    first = _video(bob, commit, "bob-a")
    second = _video(bob, commit, "bob-b")
    assert first.status == Status.SUBMITTED
    assert second.status == Status.QUEUED and second.wait_reason == WaitReason.SLOT
    assert LimiterSlot.objects.count() == 5
