"""Idempotency-Key (replays, conflicts, parallel requests), throttles and the long-poll."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry
from generations import services
from generations.models import Generation, Status
from tests.api.conftest import bearer

VIDEO = {"kind": "text2video", "model_name": "kling-v2-6", "prompt": "A red fox in fresh snow", "duration": 5}


def post(client, body, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(reverse("api:generations"), body, format="json", **headers)


def test_the_same_key_and_body_give_the_same_generation(api, rich_alice, subscriptions):
    first = post(api, VIDEO, "order-1")
    again = post(api, VIDEO, "order-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Generation.objects.filter(owner=rich_alice).count() == 1
    assert LedgerEntry.objects.filter(account__user=rich_alice, kind="charge").count() == 1
    assert len(subscriptions) == 1


def test_the_same_key_with_another_body_conflicts(api, rich_alice):
    assert post(api, VIDEO, "order-1").status_code == 201
    balance = ledger.balance_of(rich_alice)
    response = post(api, {**VIDEO, "prompt": "A grey wolf"}, "order-1")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert Generation.objects.filter(owner=rich_alice).count() == 1
    assert ledger.balance_of(rich_alice) == balance


def test_a_refused_request_may_be_retried_with_its_key(api, alice):
    assert post(api, VIDEO, "order-1").json()["code"] == "insufficient_credits"
    ledger.grant(alice, 500, key="top-up")
    assert post(api, VIDEO, "order-1").status_code == 201


def test_keys_are_per_person(api, rich_alice, bob):
    from accounts import api_keys

    ledger.grant(bob, 500, key="bob")
    bobs = bearer(api_keys.create_key(bob, "bob's")[1])
    assert post(api, VIDEO, "shared").status_code == 201
    assert post(bobs, {**VIDEO, "prompt": "Another"}, "shared").status_code == 201


def test_it_refuses_a_malformed_key(api, rich_alice):
    for key in ("", "x" * 201, "naïve"):
        response = post(api, VIDEO, key)
        assert response.status_code == 400 and "Idempotency-Key" in response.json()["details"]
    assert not Generation.objects.exists()


def _race(work, threads: int) -> list:
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    return results


def _parallel_identical_requests(alice, full_key: str) -> None:
    ledger.grant(alice, 1000, key="race-grant")
    results = _race(lambda i: post(bearer(full_key), VIDEO, "race-key"), threads=6)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 5 + [201], [getattr(r, "content", r) for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert Generation.objects.filter(owner=alice).count() == 1
    assert LedgerEntry.objects.filter(account__user=alice, kind="charge").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_identical_requests_create_one_generation_and_one_charge(alice, alice_key, subscriptions):
    _parallel_identical_requests(alice, alice_key[1])
    assert len(subscriptions) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_identical_requests_create_one_generation_on_postgres(alice, alice_key):
    _parallel_identical_requests(alice, alice_key[1])


# --- throttles -------------------------------------------------------------------------------


def test_it_limits_requests_per_key_with_retry_after(api, alice, settings):
    settings.API_RATE_PER_MINUTE = 3
    assert [api.get(reverse("api:credits")).status_code for _ in range(3)] == [200] * 3
    response = api.get(reverse("api:credits"))
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60
    # Another key of the same person has a count of its own.
    from accounts import api_keys

    assert bearer(api_keys.create_key(alice, "second")[1]).get(reverse("api:credits")).status_code == 200


def test_it_limits_creates_apart_from_reads(api, rich_alice, settings):
    settings.API_CREATE_RATE_PER_MINUTE = 1
    assert post(api, VIDEO).status_code == 201
    response = post(api, {**VIDEO, "prompt": "again"})
    assert response.status_code == 429 and response["Retry-After"]
    assert Generation.objects.filter(owner=rich_alice).count() == 1
    assert api.get(reverse("api:generations")).status_code == 200


def test_a_zero_rate_switches_the_limit_off(api, alice, settings):
    settings.API_RATE_PER_MINUTE = 0
    assert all(api.get(reverse("api:credits")).status_code == 200 for _ in range(5))


# --- long-poll -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_long_poll_answers_as_soon_as_it_finishes_and_holds_no_connection(alice, alice_key, monkeypatch):
    generation = Generation.objects.create(
        owner=alice, kind="text2image", provider="simulator", model_name="kling-v3", prompt="p", cost=0
    )
    sleeping_without_connection = []
    real_sleep = time.sleep

    def sleep(seconds):
        sleeping_without_connection.append(connection.connection is None)
        real_sleep(seconds)

    monkeypatch.setattr("api.views.time.sleep", sleep)

    def finish():
        real_sleep(1.5)
        services.transition(generation.pk, [Status.QUEUED], Status.SUCCEEDED)
        Generation.objects.filter(pk=generation.pk).update(assets_saved_at=timezone.now())
        connection.close()

    worker = threading.Thread(target=finish)
    started = time.monotonic()
    worker.start()
    response = bearer(alice_key[1]).get(reverse("api:generation", args=[generation.pk]), {"wait": 30})
    took = time.monotonic() - started
    worker.join()
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert response.json()["finished"] is True
    assert 1.0 < took < 6
    assert sleeping_without_connection and all(sleeping_without_connection)


def test_the_long_poll_gives_up_after_its_wait(api, alice, monkeypatch):
    generation = Generation.objects.create(
        owner=alice, kind="text2image", provider="simulator", model_name="kling-v3", prompt="p", cost=0
    )
    monkeypatch.setattr("api.views.WAIT_STEP", 0.05)
    started = time.monotonic()
    response = api.get(reverse("api:generation", args=[generation.pk]), {"wait": 1})
    assert 0.9 < time.monotonic() - started < 3
    assert response.json()["status"] == "queued" and response.json()["finished"] is False
