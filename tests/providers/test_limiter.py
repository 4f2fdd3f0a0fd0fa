"""The limiter shared by all workers: in-flight slots and the per-minute request budget."""

import threading
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, transaction

from generations import limiter
from generations.models import LimiterSlot
from generations.providers import errors
from generations.providers.base import ProviderError
from generations.providers.http import spend_request_budget
from generations.providers.kling import KlingClient
from tests.providers import examples
from tests.providers.conftest import ACCESS_KEY, BASE, SECRET_KEY

MID_MINUTE = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)


def _in_threads(count, work):
    """Run work(i) in `count` threads started together; each closes its own connection."""
    barrier = threading.Barrier(count)
    results, failures = [None] * count, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # surfaced below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    return results


@pytest.fixture(params=["database", "redis"])
def budget_backend(request, settings):
    if request.param == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("REDIS_URL is not set")
    else:
        settings.REDIS_URL = ""
    return request.param


# --- slots ------------------------------------------------------------------------------


def test_it_hands_out_at_most_the_configured_slots(settings, db):
    settings.KLING_MAX_CONCURRENCY = 2
    assert limiter.try_acquire_slot(1)
    assert limiter.try_acquire_slot(2)
    assert not limiter.try_acquire_slot(3)
    assert LimiterSlot.objects.count() == 2


def test_it_is_idempotent_per_generation(settings, db):
    settings.KLING_MAX_CONCURRENCY = 1
    assert limiter.try_acquire_slot(1)
    assert limiter.try_acquire_slot(1)
    assert LimiterSlot.objects.count() == 1


def test_it_frees_a_slot_on_release_and_release_is_idempotent(settings, db):
    settings.KLING_MAX_CONCURRENCY = 1
    limiter.try_acquire_slot(1)
    limiter.release_slot(1)
    limiter.release_slot(1)
    assert limiter.try_acquire_slot(2)
    assert list(LimiterSlot.objects.values_list("generation_id", "slot")) == [(2, 0)]


def test_it_has_no_slot_limit_when_configured_to_zero(settings, db):
    settings.KLING_MAX_CONCURRENCY = 0
    assert all(limiter.try_acquire_slot(n) for n in range(20))


def test_it_gives_back_the_slot_when_the_callers_transaction_rolls_back(settings, db):
    settings.KLING_MAX_CONCURRENCY = 1
    with pytest.raises(RuntimeError), transaction.atomic():
        assert limiter.try_acquire_slot(1)
        raise RuntimeError("submit failed")
    assert LimiterSlot.objects.count() == 0


def test_it_releases_slots_of_finished_or_missing_generations(settings, alice):
    from generations.models import Generation

    def generation(status):
        return Generation.objects.create(
            owner=alice, kind="text2video", provider="simulator", model_name="m", cost=1, status=status
        )

    live, done = generation("processing"), generation("failed")
    for gid in (live.id, done.id, 999_999):
        limiter.try_acquire_slot(gid)
    assert limiter.release_finished_slots() == 2
    assert list(LimiterSlot.objects.values_list("generation_id", flat=True)) == [live.id]


@pytest.mark.django_db(transaction=True)
def test_it_never_hands_out_more_slots_than_the_limit_to_concurrent_workers(settings):
    settings.KLING_MAX_CONCURRENCY = 5
    granted = _in_threads(12, lambda i: limiter.try_acquire_slot(100 + i))
    assert granted.count(True) == 5
    assert sorted(LimiterSlot.objects.values_list("slot", flat=True)) == [0, 1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_it_gives_one_slot_to_concurrent_deliveries_of_the_same_job(settings):
    settings.KLING_MAX_CONCURRENCY = 5
    assert all(_in_threads(8, lambda i: limiter.try_acquire_slot(7)))
    assert LimiterSlot.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_stays_under_the_limit_while_workers_acquire_and_release(settings):
    settings.KLING_MAX_CONCURRENCY = 3
    peaks = []

    def churn(worker):
        held = 0
        for round_ in range(15):
            gid = worker * 1000 + round_
            if limiter.try_acquire_slot(gid):
                held += 1
                peaks.append(LimiterSlot.objects.count())
                limiter.release_slot(gid)
        return held

    held = _in_threads(6, churn)
    assert sum(held) > 0
    assert max(peaks) <= 3
    assert LimiterSlot.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not django_settings.USING_POSTGRES, reason="needs DATABASE_URL pointing at PostgreSQL")
def test_it_waits_for_an_uncommitted_claim_of_the_same_slot_on_postgres(settings):
    settings.KLING_MAX_CONCURRENCY = 1
    claimed, release = threading.Event(), threading.Event()

    def holder(_):
        with transaction.atomic():
            assert limiter.try_acquire_slot(1)
            claimed.set()
            release.wait(10)  # keep the insert uncommitted while the other worker tries
        return True

    def contender(_):
        claimed.wait(10)
        timer = threading.Timer(0.5, release.set)
        timer.start()
        started = time.monotonic()
        result = limiter.try_acquire_slot(2)
        return result, time.monotonic() - started

    results = _in_threads(2, lambda i: holder(i) if i == 0 else contender(i))
    granted, waited = results[1]
    assert granted is False
    assert waited >= 0.3  # it blocked on the uncommitted unique key instead of slipping past it
    assert list(LimiterSlot.objects.values_list("generation_id", flat=True)) == [1]


# --- requests per minute ------------------------------------------------------------------


def test_it_counts_requests_per_minute(settings, db, budget_backend):
    settings.KLING_MAX_QPM = 3
    with time_machine.travel(MID_MINUTE, tick=False) as clock:
        assert [limiter.try_take_request() for _ in range(4)] == [True, True, True, False]
        clock.shift(60)
        assert limiter.try_take_request()


def test_it_has_no_request_budget_when_configured_to_zero(settings, db, budget_backend):
    settings.KLING_MAX_QPM = 0
    assert all(limiter.try_take_request() for _ in range(50))


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_concurrent_workers_exceed_the_budget(settings, budget_backend):
    settings.KLING_MAX_QPM = 7
    with time_machine.travel(MID_MINUTE, tick=False):
        taken = _in_threads(10, lambda i: sum(limiter.try_take_request() for _ in range(3)))
    assert sum(taken) == 7


def test_it_falls_back_to_the_database_when_redis_is_down(settings, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.KLING_MAX_QPM = 1
    with time_machine.travel(MID_MINUTE, tick=False):
        assert limiter.try_take_request()
        assert not limiter.try_take_request()


# --- the client spends the budget ---------------------------------------------------------


@pytest.fixture
def limited_client(settings, db):
    settings.KLING_API_BASE = BASE
    settings.KLING_ACCESS_KEY, settings.KLING_SECRET_KEY, settings.KLING_API_KEY = ACCESS_KEY, SECRET_KEY, ""
    client = KlingClient.from_settings()
    client.rate_wait_seconds = 0
    return client


def test_it_spends_one_request_per_http_call(settings, limited_client, mocked):
    settings.KLING_MAX_QPM = 3
    mocked.get(f"{BASE}/v1/videos/text2video/1", json=examples.SUCCEEDED_VIDEO)
    with time_machine.travel(MID_MINUTE, tick=False):
        for _ in range(3):
            limited_client.get("videos/text2video", "1")
        with pytest.raises(ProviderError) as caught:
            limited_client.get("videos/text2video", "1")
    assert len(mocked.calls) == 3
    assert (caught.value.code, caught.value.retryable, caught.value.may_have_created) == (
        "local_rate_limited",
        True,
        False,
    )


def test_it_uses_the_unit_a_caller_already_took(settings, limited_client, mocked):
    settings.KLING_MAX_QPM = 2
    mocked.get(f"{BASE}/v1/videos/text2video/1", json=examples.SUCCEEDED_VIDEO)
    with time_machine.travel(MID_MINUTE, tick=False):
        assert limiter.try_take_request()  # the caller checks the budget first (generations.follow)
        limited_client.get("videos/text2video", "1")  # uses that unit
        limited_client.get("videos/text2video", "1")  # takes the second
        with pytest.raises(ProviderError) as caught:
            limited_client.get("videos/text2video", "1")
    assert len(mocked.calls) == 2
    assert caught.value.code == "local_rate_limited"


def test_it_holds_at_most_one_prepaid_unit_per_thread(settings, db):
    settings.KLING_MAX_QPM = 3
    settings.REDIS_URL = ""
    with time_machine.travel(MID_MINUTE, tick=False):
        assert limiter.try_take_request() and limiter.try_take_request()
        assert limiter.take_for_http_request()  # the prepaid one
        assert limiter.take_for_http_request()  # the third unit
        assert not limiter.take_for_http_request()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_prepaid_units_to_their_own_thread(settings):
    settings.KLING_MAX_QPM = 1
    settings.REDIS_URL = ""
    with time_machine.travel(MID_MINUTE, tick=False):
        assert limiter.try_take_request()
        # Another worker thread has no prepaid unit and the budget is spent.
        assert _in_threads(1, lambda i: limiter.take_for_http_request()) == [False]
        assert limiter.take_for_http_request()


def test_it_spends_a_request_on_the_re_signed_retry_too(settings, limited_client, mocked):
    settings.KLING_MAX_QPM = 2
    mocked.get(f"{BASE}/v1/videos/text2video/1", status=401, json={"code": 1004, "message": "expired"})
    mocked.get(f"{BASE}/v1/videos/text2video/1", json=examples.SUCCEEDED_VIDEO)
    with time_machine.travel(MID_MINUTE, tick=False):
        limited_client.get("videos/text2video", "1")
        with pytest.raises(ProviderError) as caught:
            limited_client.get("videos/text2video", "1")
    assert caught.value.code == "local_rate_limited"


def test_it_waits_briefly_for_the_budget_before_giving_up():
    answers = iter([False, False, True])
    started = time.monotonic()
    spend_request_budget(lambda: next(answers), wait_seconds=2, step_seconds=0.05)
    assert time.monotonic() - started < 1

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        spend_request_budget(lambda: False, wait_seconds=0.2, step_seconds=0.05)
    assert 0.2 <= time.monotonic() - started < 1
    assert caught.value.code == errors.local_rate_limited().code
