"""Kling's callbacks: authenticated by the URL token (and a Standard Webhooks signature when
a secret is set), a hint only, answered fast; forgeries and replays change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import time_machine
from django.test import Client

from generations import services
from generations.models import Generation, Status
from generations.providers import webhook_signature
from tests.generations.conftest import cleaned

SECRET = "whsec_" + base64.b64encode(b"a-webhook-secret-for-tests-32byt").decode()


@pytest.fixture
def generation(rich_alice, commit) -> Generation:
    with commit():
        made = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "cb")
    made.refresh_from_db()
    return made


def post(client, path: str, body: dict | bytes, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, data, content_type="application/json", headers=headers)


def signed_headers(
    body: bytes, *, msg_id: str = "msg_1", at: int | None = None, secret: str = SECRET
) -> dict:
    at = int(time.time()) if at is None else at
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = base64.b64encode(
        hmac.new(key, f"{msg_id}.{at}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(at), "webhook-signature": f"v1,{signature}"}


def test_it_checks_kling_s_official_signature_test_vector():
    body = b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151}'
    headers = {
        "webhook-id": "9876543210",
        "webhook-timestamp": "1781080794",
        "webhook-signature": "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=",
    }
    # Kling's published test vector (https://www.standardwebhooks.com/, docs/kling.md section 6), built from its plain bytes.
    secret = "whsec_" + base64.b64encode(b"testsecret" * 3 + b"12").decode()
    rotated = {**headers, "webhook-signature": "v1,bm90IGl0 " + headers["webhook-signature"]}
    with time_machine.travel(1781080794, tick=False):
        assert webhook_signature.verify(secret, headers, body)
        assert not webhook_signature.verify(secret, headers, body + b" ")
        assert webhook_signature.verify(secret, rotated, body)
    with time_machine.travel(1781080794 + 301, tick=False):
        assert not webhook_signature.verify(secret, headers, body)  # too old: a replay


def test_it_answers_404_to_a_wrong_token_and_changes_nothing(generation, fake, commit):
    client = Client(enforce_csrf_checks=True)
    fake.succeed(generation.task_id)
    body = {"task_id": generation.task_id, "task_status": "succeed"}
    with commit():
        assert post(client, f"/callbacks/kling/{generation.pk}/not-the-token/", body).status_code == 404
        assert (
            post(
                client, f"/callbacks/kling/{generation.pk + 1}/{generation.callback_token}/", body
            ).status_code
            == 404
        )
    assert Generation.objects.get(pk=generation.pk).status == Status.SUBMITTED
    assert fake.count("get") == 0


def test_it_takes_posts_only_without_csrf_and_without_redirects(generation, fake, commit):
    client = Client(enforce_csrf_checks=True)
    path = generation.callback_path()
    assert client.get(path).status_code == 405
    fake.start(generation.task_id)
    with commit():
        response = post(
            client, path.rstrip("/"), {"task_id": generation.task_id, "task_status": "processing"}
        )
    assert response.status_code == 200  # no slash, no redirect
    assert Generation.objects.get(pk=generation.pk).status == Status.PROCESSING


def test_a_forged_success_is_checked_with_kling_first(generation, fake, commit, client):
    fake.start(generation.task_id)  # Kling says: still working
    with commit():
        response = post(
            client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"}
        )
    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING  # what Kling said, not what the body said
    assert generation.assets.count() == 0
    assert fake.count("list") == 1 and fake.count("get") == 0


def test_a_callback_for_another_task_is_ignored(generation, fake, commit, client):
    fake.succeed(generation.task_id)
    with commit():
        post(client, generation.callback_path(), {"task_id": "someone-else", "task_status": "succeed"})
    assert Generation.objects.get(pk=generation.pk).status == Status.SUBMITTED
    assert fake.count("get") == 0


def test_callbacks_for_a_finished_generation_change_nothing(generation, fake, commit, client):
    fake.succeed(generation.task_id)
    with commit():
        post(client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"})
    generation.refresh_from_db()
    finished_at = generation.finished_at
    calls = fake.request_count
    with commit():
        for status in ("failed", "processing", "succeed"):
            assert (
                post(
                    client, generation.callback_path(), {"task_id": generation.task_id, "task_status": status}
                ).status_code
                == 200
            )
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.finished_at == finished_at
    assert fake.request_count == calls


def test_a_body_that_is_not_json_is_only_a_reason_to_look(generation, fake, commit, client):
    fake.fail(generation.task_id, "Image pixel is invalid")
    with commit():
        response = post(client, generation.callback_path(), b"<html>not json")
    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "could not complete this generation" in generation.error_message


def test_it_requires_a_valid_fresh_signature_when_a_secret_is_set(generation, fake, commit, client, settings):
    settings.KLING_WEBHOOK_SECRET = SECRET
    fake.succeed(generation.task_id)
    body = json.dumps({"task_id": generation.task_id, "task_status": "succeed"}).encode()
    path = generation.callback_path()
    with commit():
        assert post(client, path, body).status_code == 400  # unsigned
        assert (
            post(
                client,
                path,
                body,
                **signed_headers(body, secret="whsec_" + base64.b64encode(b"x" * 32).decode()),
            ).status_code
            == 400
        )
        assert post(client, path, body, **signed_headers(body, at=int(time.time()) - 600)).status_code == 400
    assert Generation.objects.get(pk=generation.pk).status == Status.SUBMITTED
    assert fake.count("get") == 0

    with commit():
        assert post(client, path, body, **signed_headers(body, msg_id="msg_ok")).status_code == 200
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED
    # A signed success without its results is only a hint: looked up (one list call).
    assert fake.count("list") == 1


def test_a_replayed_signed_delivery_is_not_handled_twice(generation, fake, commit, client, settings):
    settings.KLING_WEBHOOK_SECRET = SECRET
    fake.start(generation.task_id)
    body = json.dumps({"task_id": generation.task_id, "task_status": "succeed"}).encode()
    headers = signed_headers(body, msg_id="msg_same")
    with commit():
        assert post(client, generation.callback_path(), body, **headers).status_code == 200
        assert post(client, generation.callback_path(), body, **headers).status_code == 200
    assert fake.count("list") == 1


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        SECRET.removeprefix("whsec_"),  # pasted without its prefix
        "not base64: a plain-text passphrase!",
        "plain-text",  # looks nearly like base64, but is not
    ],
)
def test_it_accepts_callbacks_signed_by_the_simulator_s_signer(
    generation, fake, commit, client, settings, secret
):
    # One function signs (the simulator) and verifies (this view): whatever the secret looks
    # like, a delivery signed with it is accepted and one signed with another is not.
    settings.KLING_WEBHOOK_SECRET = secret
    fake.succeed(generation.task_id)
    body = json.dumps({"task_id": generation.task_id, "task_status": "succeed"}).encode()
    path = generation.callback_path()
    with commit():
        forged = webhook_signature.headers(secret + "x", "msg_forged", body)
        assert post(client, path, body, **forged).status_code == 400
        assert (
            post(client, path, body, **webhook_signature.headers(secret, "msg_ok", body)).status_code == 200
        )
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def test_it_handles_a_signed_callback_while_the_cache_is_down(
    generation, fake, commit, client, settings, monkeypatch
):
    # Redis restarting must not turn Kling's callback into a 500 (and a retry storm):
    # without the replay marker the hint is simply handled.
    from redis.exceptions import ConnectionError as RedisConnectionError

    from generations import callbacks

    def cache_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    settings.KLING_WEBHOOK_SECRET = SECRET
    monkeypatch.setattr(callbacks.cache, "add", cache_down)
    fake.succeed(generation.task_id)
    body = json.dumps({"task_id": generation.task_id, "task_status": "succeed"}).encode()
    with commit():
        response = post(client, generation.callback_path(), body, **signed_headers(body, msg_id="msg_down"))
    assert response.status_code == 200
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


def test_a_terminal_hint_while_the_broker_is_down_is_answered_200_and_left_to_the_sweep(
    generation, fake, commit, client, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def broker_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("generations.queue.async_task", broker_down)
    fake.succeed(generation.task_id)
    with commit():
        response = post(
            client, generation.callback_path(), {"task_id": generation.task_id, "task_status": "succeed"}
        )
    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED  # nothing looked up yet: the sweep will
    assert fake.count("get") == 0
