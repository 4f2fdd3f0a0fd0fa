"""Copying results has its own queue (settings.RESULTS_QUEUE): a backlog of slow downloads
waits for the results cluster, and a status change enqueued after it is the next task the
main cluster takes."""

from __future__ import annotations

import django_q.conf
import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from generations import queue, services
from generations.models import Status
from tests.generations.test_sweep import many as _many_from_the_sweep_tests

many = _many_from_the_sweep_tests


@pytest.fixture
def brokers(settings, monkeypatch):
    """The real broker: `go()` leaves sync mode (after the jobs were created and sent) and
    returns the main and the results queue, emptied."""
    settings.RESULTS_QUEUE = "results-test"
    main, results = get_broker(), get_broker("results-test")

    def go():
        monkeypatch.setattr(django_q.conf.Conf, "SYNC", False)
        for broker in (main, results):
            broker.purge_queue()
        return main, results

    yield go
    for broker in (main, results):
        broker.purge_queue()


def queued_functions(broker) -> list[str]:
    return [SignedPackage.loads(payload)["func"] for _, payload in broker.dequeue() or []]


def test_a_backlog_of_result_copies_does_not_wait_in_front_of_a_status_change(brokers, many, fake):
    done, waiting = many(2)
    fake.succeed(done.task_id)
    main, results = brokers()
    # Fifty copies are waiting (a slow CDN), then a callback asks for a status check.
    for _ in range(50):
        queue.fetch_results(done.pk)
    queue.refresh(waiting.pk)
    assert results.queue_size() == 50
    assert main.queue_size() == 1
    assert queued_functions(main) == ["generations.tasks.check_generation"]


def test_a_finish_sends_its_copy_to_the_results_queue_and_its_email_to_the_main_one(
    brokers, many, django_capture_on_commit_callbacks
):
    (generation,) = many(1)
    main, results = brokers()
    media = [{"kind": "image", "index": 0, "url": "https://cdn.example/x.png", "duration": None, "id": "1"}]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.transition(generation.pk, [Status.SUBMITTED], Status.SUCCEEDED, result_media=media)
    assert queued_functions(results) == ["generations.tasks.fetch_results"]
    assert "generations.tasks.fetch_results" not in queued_functions(main)


def test_without_a_results_queue_everything_shares_the_main_one(settings, monkeypatch):
    settings.RESULTS_QUEUE = ""
    monkeypatch.setattr(django_q.conf.Conf, "SYNC", False)
    sent = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: sent.append(kwargs.get("cluster")))
    queue.fetch_results(1)
    assert sent == [None]
