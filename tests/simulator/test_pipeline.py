"""The site's own generation pipeline (create page, submit, callbacks, polling, result copies,
refunds) against the simulator through the official client, with the real limiter: nothing
faked but time."""

import base64

import pytest

from billing import ledger
from generations import follow
from generations.models import Generation, Status
from generations.simulator.models import SimCallback, SimTask


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice, django_capture_on_commit_callbacks):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 1000, key="pipeline:grant")
    return kling_simulator


def _create(client, capture, prompt="A red fox trotting through fresh snow at dawn") -> Generation:
    form = {
        "model_name": "kling-v2-6",
        "prompt": prompt,
        "mode": "pro",
        "duration": "5",
        "sound": "on",
        "aspect_ratio": "9:16",
        "client_token": prompt[:20],
    }
    with capture(execute=True):
        response = client.post("/generate/text-to-video/", form)
    assert response.status_code == 302, response.content.decode()[:1000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def test_it_runs_a_generation_on_the_simulator_with_callbacks(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = _create(alice_client, django_capture_on_commit_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.task_id == generation.task_id
    assert (task.model_name, task.mode, task.duration, task.sound) == ("kling-v2-6", "pro", "5", "on")
    assert task.callback_url.endswith(generation.callback_path())

    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.deliver_callbacks() == 3  # to the site's own callback view
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert str(generation.units_charged) in ("5", "5.000")
    (asset,) = generation.assets.all()
    assert asset.content_type == "video/mp4"
    assert (asset.width, asset.height) == (270, 480)
    assert asset.duration == pytest.approx(5.0, abs=0.2)  # as long as asked
    assert ledger.find_drifts() == []


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_" + base64.b64encode(b"testsecret" * 3 + b"12").decode(),  # Kling's test vector secret
        "not base64: a plain-text passphrase!",
    ],
)
def test_it_follows_signed_callbacks_end_to_end(
    pipeline, alice_client, settings, django_capture_on_commit_callbacks, secret
):
    settings.KLING_WEBHOOK_SECRET = secret
    generation = _create(alice_client, django_capture_on_commit_callbacks)
    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.deliver_callbacks() == 3  # signed by the simulator, accepted by the site
    assert set(SimCallback.objects.values_list("response_status", flat=True)) == {200}
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_it_follows_by_polling_when_every_callback_is_lost(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    pipeline.set_faults(rate_callback_lost=1)
    generation = _create(alice_client, django_capture_on_commit_callbacks)
    pipeline.advance(60)
    with django_capture_on_commit_callbacks(execute=True):
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.assets.count() == 1


def test_it_recovers_a_task_created_behind_a_5002_without_paying_twice(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    pipeline.set_faults(rate_5002_after_create=1)
    generation = _create(alice_client, django_capture_on_commit_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.maybe_created
    pipeline.set_faults(rate_5002_after_create=0)
    pipeline.advance(60)
    with django_capture_on_commit_callbacks(execute=True):
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status != Status.QUEUED
    assert SimTask.objects.count() == 1  # found by external id, never created twice


def test_it_refunds_a_task_the_simulator_fails(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = _create(alice_client, django_capture_on_commit_callbacks, prompt="A storm [sim:fail]")
    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.deliver_callbacks()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "content rules" in generation.error_message
    assert ledger.balance_of(alice) == 1000
