"""Events for finished generations: signed per Standard Webhooks, retried with backoff for a
day, each attempt recorded, sent once however often the task runs."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import responses
import time_machine
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from generations import follow
from generations.models import Generation, Status
from outbound_webhooks import delivery, subscriptions
from outbound_webhooks.models import Delivery

HOOK = "https://hooks.example.com/kling"
VIDEO = {"kind": "text2video", "model_name": "kling-v2-6", "prompt": "A red fox in fresh snow", "duration": 5}


@pytest.fixture
def receiver(cdn):
    """The developer's server: records each POST; answers with the next queued status."""
    answers: list[int] = []
    seen: list = []

    def answer(request):
        seen.append(request)
        return (answers.pop(0) if answers else 200), {}, "ok"

    cdn.add_callback(responses.POST, HOOK, callback=answer)
    cdn.answers = answers
    cdn.seen = seen
    return cdn


def create_over_api(api, commit, body: dict) -> Generation:
    with commit():
        response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.content
    return Generation.objects.get(pk=response.json()["id"])


def finish(fake, commit, generation: Generation, *, fail: bool = False) -> None:
    task = fake.task_for(generation)
    if fail:
        fake.fail(task.task_id)
    else:
        fake.succeed(task.task_id)
    with commit():
        follow.refresh(generation.pk)


def secret_of(user) -> str:
    return subscriptions.endpoint_for(user).secret


def test_it_posts_a_signed_event_when_an_api_generation_succeeds(api, rich_alice, fake, commit, receiver):
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    assert Delivery.objects.get().status == Delivery.Status.WAITING
    assert receiver.seen == []

    finish(fake, commit, generation)

    (request,) = receiver.seen
    headers = dict(request.headers)
    body = Webhook(secret_of(rich_alice)).verify(request.body, headers)
    assert body["type"] == "generation.succeeded"
    data = body["data"]
    assert data["id"] == generation.pk and data["status"] == "succeeded" and data["error"] is None
    assert data["cost"] == generation.cost and data["refunded"] == 0
    assert data["outputs"] == 1 and data["results_saved_at"]
    assert data["url"] == "http://127.0.0.1:8000" + reverse("api:generation", args=[generation.pk])
    assert headers["webhook-id"].startswith("msg_")
    sent = Delivery.objects.get()
    assert sent.status == Delivery.Status.DELIVERED and sent.attempts == 1
    (attempt,) = sent.attempt_log.all()
    assert attempt.status_code == 200 and attempt.response_excerpt == "ok"

    # A forged copy does not verify with the secret.
    with pytest.raises(WebhookVerificationError):
        Webhook(subscriptions.new_secret()).verify(request.body, headers)


def test_it_tells_of_a_failure_and_its_refund(api, rich_alice, fake, commit, receiver):
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    finish(fake, commit, generation, fail=True)
    (request,) = receiver.seen
    body = json.loads(request.body)
    assert body["type"] == "generation.failed"
    assert body["data"]["refunded"] == generation.cost
    assert body["data"]["error"]["message"]


def test_it_uses_the_default_url_and_sends_nothing_without_one(api, rich_alice, fake, commit, receiver):
    quiet = create_over_api(api, commit, VIDEO)
    assert not Delivery.objects.exists()
    subscriptions.set_default_url(rich_alice, HOOK)
    heard = create_over_api(api, commit, {**VIDEO, "prompt": "A grey wolf"})
    finish(fake, commit, quiet)
    finish(fake, commit, heard)
    assert len(receiver.seen) == 1
    assert json.loads(receiver.seen[0].body)["data"]["id"] == heard.pk


def test_it_retries_on_the_schedule_then_gives_up_after_a_day(api, rich_alice, fake, commit, receiver):
    receiver.answers.extend([500] * 20)
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        finish(fake, commit, generation)
        item = Delivery.objects.get()
        assert item.attempts == 1 and item.status == Delivery.Status.PENDING
        first = item.first_attempt_at
        expected = [60, 300, 1800, 7200, 18000, 36000, 86400]
        for offset in expected:
            item.refresh_from_db()
            assert item.next_attempt_at == first + timedelta(seconds=offset)
            clock.move_to(item.next_attempt_at - timedelta(seconds=1))
            assert delivery.send(item.pk) == "nothing due"  # not yet
            clock.move_to(item.next_attempt_at)
            with commit():
                assert delivery.send_due() == 1
        item.refresh_from_db()
    assert item.status == Delivery.Status.GAVE_UP and item.attempts == 8
    assert item.attempt_log.count() == 8 == len(receiver.seen)
    assert {a.status_code for a in item.attempt_log.all()} == {500}
    # Every attempt is signed afresh with its own timestamp, under the same event id.
    assert len({r.headers["webhook-id"] for r in receiver.seen}) == 1
    assert len({r.headers["webhook-timestamp"] for r in receiver.seen}) == 8


def test_it_stops_at_once_on_410_gone(api, rich_alice, fake, commit, receiver):
    receiver.answers.append(410)
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    finish(fake, commit, generation)
    item = Delivery.objects.get()
    assert item.status == Delivery.Status.GAVE_UP and item.attempts == 1


def test_it_sends_once_when_the_task_runs_twice(api, rich_alice, fake, commit, receiver):
    receiver.answers.append(503)
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    finish(fake, commit, generation)
    item = Delivery.objects.get()
    # The broker redelivers, the sweep runs, the finish task runs again: nothing more is due.
    assert delivery.send(item.pk) == "nothing due"
    assert delivery.generation_finished(generation.pk) is False
    assert delivery.send_due() == 0
    assert len(receiver.seen) == 1


def test_it_starts_events_whose_finish_task_was_lost(api, rich_alice, commit, receiver):
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now() - timedelta(hours=1)
    )
    with commit():
        delivery.send_due()
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    assert len(receiver.seen) == 1


def test_it_records_a_timeout_and_retries(api, rich_alice, fake, commit, cdn):
    import requests

    cdn.add(responses.POST, HOOK, body=requests.ConnectTimeout("slow"))
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    finish(fake, commit, generation)
    item = Delivery.objects.get()
    assert item.status == Delivery.Status.PENDING
    assert item.attempt_log.get().error == "timed out"


def test_a_new_secret_signs_events_not_yet_sent(api, rich_alice, fake, commit, receiver):
    generation = create_over_api(api, commit, {**VIDEO, "webhook_url": HOOK})
    old = secret_of(rich_alice)
    new = subscriptions.rotate_secret(rich_alice).secret
    assert new != old and new.startswith("whsec_")
    finish(fake, commit, generation)
    (request,) = receiver.seen
    Webhook(new).verify(request.body, dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, dict(request.headers))


class _Hook(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_a_name_that_rebinds_to_this_machine_is_refused_on_the_socket(
    rich_alice, cdn, local_server, monkeypatch, settings
):
    """The name resolved to a public address when it was saved; when the event goes out it
    resolves to 127.0.0.1. The check on the connected socket refuses it."""
    cdn.passthru_prefixes = ("http://rebind.example.com",)
    real = socket.getaddrinfo

    def rebound(host, port, *args, **kwargs):
        if host == "rebind.example.com":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    url = f"http://rebind.example.com:{local_server}/hook"
    settings.DEBUG = True  # plain http, to reach the local server; private still refused
    assert subscriptions.check_webhook_url(url) == url  # public at save time (fake DNS)
    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    item = Delivery.objects.create(
        owner=rich_alice,
        event_id=subscriptions.new_event_id(),
        url=url,
        secret=subscriptions.new_secret(),
        payload={"type": "webhook.test"},
        status=Delivery.Status.PENDING,
        next_attempt_at=timezone.now(),
    )
    delivery.send(item.pk)
    assert _Hook.hits == 0
    assert "private network" in item.attempt_log.get().error

    # The same server is reachable when private addresses are allowed (demo mode's switch),
    # so the refusal above is the check, not a broken connection.
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    delivery.redeliver(item)
    delivery.send(item.pk)
    assert _Hook.hits == 1
