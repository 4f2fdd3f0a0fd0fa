"""Callbacks: the bare task object on each status change, optionally signed, and the
lost / duplicated / reordered faults."""

import base64

import pytest
import time_machine

from generations.providers import webhook_signature
from generations.providers.base import GenerationRequest
from generations.providers.kling import parse_task
from generations.simulator.models import SimCallback

# The official Standard-Webhooks test vector (https://www.standardwebhooks.com/, docs/kling.md section 6).
# (built from its plain bytes so it never looks like a real committed secret)
VECTOR_SECRET = "whsec_" + base64.b64encode(b"testsecret" * 3 + b"12").decode()
VECTOR_ID = "9876543210"
VECTOR_TIMESTAMP = 1781080794
VECTOR_BODY = b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151}'
VECTOR_SIGNATURE = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="


def _submit(sim, name="cb"):
    request = GenerationRequest(
        "videos/text2video",
        {"model_name": "kling-v2-6", "prompt": "a kite over dunes"},
        external_task_id=f"ext-{name}",
        callback_url=sim.receiver_url(name),
    )
    return sim.client().submit(request)


VECTOR_HEADERS = {
    "webhook-id": VECTOR_ID,
    "webhook-timestamp": str(VECTOR_TIMESTAMP),
    "webhook-signature": VECTOR_SIGNATURE,
}
PLAIN_SECRET = "not base64: a plain-text passphrase!"


def _verify_at(now, secret, headers, body):
    with time_machine.travel(now, tick=False):
        return webhook_signature.verify(secret, headers, body)


def test_it_signs_with_the_official_test_vector():
    assert webhook_signature.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert _verify_at(VECTOR_TIMESTAMP + 10, VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY)


def test_it_reads_the_secret_with_or_without_its_prefix_and_padding():
    bare = VECTOR_SECRET.removeprefix("whsec_")
    for secret in (bare, bare.rstrip("="), "whsec_" + bare.rstrip("="), f"  {VECTOR_SECRET}\n"):
        assert webhook_signature.sign(secret, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
        assert _verify_at(VECTOR_TIMESTAMP, secret, VECTOR_HEADERS, VECTOR_BODY)


def test_a_plain_text_secret_signs_and_verifies_alike():
    import hashlib
    import hmac

    headers = webhook_signature.headers(PLAIN_SECRET, "msg_plain", VECTOR_BODY, timestamp=VECTOR_TIMESTAMP)
    # The key is the secret's own bytes, as any other Standard Webhooks sender would use them.
    expected = hmac.new(
        PLAIN_SECRET.encode(), f"msg_plain.{VECTOR_TIMESTAMP}.".encode() + VECTOR_BODY, hashlib.sha256
    ).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert _verify_at(VECTOR_TIMESTAMP, PLAIN_SECRET, headers, VECTOR_BODY)
    assert not _verify_at(VECTOR_TIMESTAMP, PLAIN_SECRET + "x", headers, VECTOR_BODY)


@pytest.mark.parametrize(
    ("headers", "body", "now"),
    [
        ({"webhook-signature": ""}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": VECTOR_SIGNATURE}, VECTOR_BODY + b" ", VECTOR_TIMESTAMP),
        ({"webhook-signature": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_TIMESTAMP + 301),
        ({"webhook-signature": "v1,AAAA"}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": "v2," + VECTOR_SIGNATURE[3:]}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_TIMESTAMP - 301),
        ({"webhook-signature": "v1"}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": "v1,not base64!"}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": VECTOR_SIGNATURE, "webhook-timestamp": "soon"}, VECTOR_BODY, VECTOR_TIMESTAMP),
        ({"webhook-signature": VECTOR_SIGNATURE}, b"\xff\xfe not utf-8", VECTOR_TIMESTAMP),
    ],
)
def test_it_rejects_tampered_stale_or_foreign_signatures(headers, body, now):
    full = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP), **headers}
    assert not _verify_at(now, VECTOR_SECRET, full, body)


def test_it_accepts_any_signature_of_a_rotation_list():
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": f"v1,b2xkc2lnbmF0dXJl {VECTOR_SIGNATURE}",
    }
    assert _verify_at(VECTOR_TIMESTAMP, VECTOR_SECRET, headers, VECTOR_BODY)


def test_it_posts_the_bare_task_object_on_each_status_change(sim):
    task = _submit(sim)
    assert sim.deliver_callbacks() == 1
    sim.advance(1.1)
    assert sim.deliver_callbacks() == 1
    assert sim.deliver_callbacks() == 0  # nothing else is due yet
    sim.finish()
    assert sim.deliver_callbacks() == 1

    bodies = [received.json for received in sim.received]
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert all("code" not in b and "data" not in b for b in bodies)
    assert {b["task_id"] for b in bodies} == {task.task_id}
    assert bodies[0]["task_info"] == {"external_task_id": "ext-cb"}
    final = parse_task(bodies[-1], "videos/text2video")
    assert final.media and final.units_charged is not None
    assert sim.received[0].headers["Content-Type"] == "application/json; charset=utf-8"
    assert "webhook-signature" not in {k.lower() for k in sim.received[0].headers}


@pytest.mark.parametrize("secret", [VECTOR_SECRET, PLAIN_SECRET])
def test_it_signs_callbacks_when_a_webhook_secret_is_configured(sim, settings, secret):
    settings.KLING_WEBHOOK_SECRET = secret
    _submit(sim)
    sim.deliver_callbacks()
    (received,) = sim.received
    assert webhook_signature.verify(secret, received.headers, received.body)


def test_it_loses_callbacks_on_request(sim):
    sim.set_faults(rate_callback_lost=1)
    _submit(sim)
    sim.finish()
    assert sim.deliver_callbacks() == 0
    assert sim.received == []


def test_it_duplicates_callbacks_on_request(sim):
    sim.set_faults(rate_callback_duplicate=1)
    _submit(sim)
    sim.finish()
    sim.deliver_callbacks()
    statuses = [r.json["task_status"] for r in sim.received]
    assert statuses == ["submitted", "submitted", "processing", "processing", "succeed", "succeed"]


def test_it_reorders_callbacks_on_request(sim):
    sim.set_faults(rate_callback_reordered=1)
    _submit(sim)
    sim.finish()
    sim.deliver_callbacks()
    statuses = [r.json["task_status"] for r in sim.received]
    assert statuses == ["submitted", "succeed", "processing"]
    # The late one still tells the truth of its own moment.
    assert sim.received[2].json["updated_at"] < sim.received[1].json["updated_at"]


def test_it_retries_a_failed_delivery_and_then_gives_up(sim):
    sim.set_timings(10, 30)
    sim.receiver_status = 500
    _submit(sim)
    assert sim.deliver_callbacks() == 0
    callback = SimCallback.objects.get(status="submitted")
    assert (callback.attempts, callback.done, callback.response_status) == (1, False, 500)

    sim.receiver_status = 200
    sim.advance(2.5)
    sim.deliver_callbacks()
    callback.refresh_from_db()
    assert (callback.attempts, callback.done) == (2, True)

    sim.receiver_status = 503
    sim.advance(8)  # processing is due
    for _ in range(3):
        sim.deliver_callbacks()
        sim.advance(10)
    gave_up = SimCallback.objects.get(status="processing")
    assert (gave_up.attempts, gave_up.done, gave_up.delivered_ms) == (3, True, None)


def test_it_never_sends_a_claimed_callback_twice(sim):
    from generations.simulator.engine import deliver_due_callbacks

    _submit(sim)
    SimCallback.objects.update(claimed_ms=10**13)  # claimed by another process just now
    assert deliver_due_callbacks() == 0
    assert sim.received == []


def test_it_reaches_the_sites_own_urls_in_process(sim, settings):
    # A callback under SITE_URL goes through Django like any request would (here: a 404 page),
    # proving the route from the simulator to the site's callback view.
    request = GenerationRequest(
        "videos/text2video",
        {"model_name": "kling-v2-6", "prompt": "p"},
        external_task_id="site",
        callback_url=f"{settings.SITE_URL}/no-such-callback/",
    )
    sim.client().submit(request)
    sim.deliver_callbacks()
    assert SimCallback.objects.get(status="submitted").response_status == 404


@pytest.mark.django_db(transaction=True)
def test_several_senders_deliver_each_due_callback_once(sim):
    from generations.simulator.engine import deliver_due_callbacks

    sim.set_timings(600, 600)  # only the "submitted" callbacks fall due, however slow the machine
    tasks = [_submit(sim, f"many-{i}") for i in range(8)]
    assert deliver_due_callbacks(senders=4) == 8
    assert deliver_due_callbacks(senders=4) == 0
    assert sorted(r.json["task_id"] for r in sim.received) == sorted(t.task_id for t in tasks)
    assert SimCallback.objects.filter(done=True, delivered_ms__isnull=False).count() == 8


@pytest.mark.django_db(transaction=True)
def test_a_slow_answer_does_not_hold_back_the_callbacks_behind_it(sim, monkeypatch):
    # Each sender takes the next callback as soon as it is free: while one waits on a slow
    # receiver, the other sends everything else (no share of the batch is stuck behind it).
    import threading

    from generations.simulator.engine import deliver_due_callbacks
    from tests.fixtures.simulator import ReceiverAdapter

    sim.set_timings(600, 600)
    _submit(sim, "slow")
    fast = [_submit(sim, f"fast-{i}") for i in range(6)]
    others_arrived = threading.Event()
    held_until_others_arrived = []
    send = ReceiverAdapter.send

    def receive(self, request, **kwargs):
        if request.url.endswith("/slow"):
            held_until_others_arrived.append(others_arrived.wait(10))
        response = send(self, request, **kwargs)
        if sum(not r.url.endswith("/slow") for r in sim.received) == len(fast):
            others_arrived.set()
        return response

    monkeypatch.setattr(ReceiverAdapter, "send", receive)
    assert deliver_due_callbacks(senders=2) == 7
    assert held_until_others_arrived == [True]
    assert sim.received[-1].url.endswith("/slow")
