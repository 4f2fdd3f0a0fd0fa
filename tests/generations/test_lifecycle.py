"""The whole life of a generation, per kind: created from the page, submitted, followed by
callbacks or by polling alone, results copied into our storage, shown to its owner."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, services
from generations.models import Asset, Generation, Status
from generations.providers.errors import failed_task_user_message
from tests.generations.conftest import cleaned, make_image

KINDS = ["text2image", "text2video", "image2video"]


def form_data(kind: str) -> dict:
    if kind == "text2image":
        return {
            "model_name": "kling-v2-1",
            "prompt": "A lighthouse on a cliff in a storm, oil painting",
            "n": "3",
            "aspect_ratio": "1:1",
            "resolution": "2k",
            "client_token": f"tok-{kind}",
        }
    data = {
        "model_name": "kling-v2-6",
        "prompt": "A red fox trotting through fresh snow at dawn",
        "mode": "pro",
        "duration": "5",
        "sound": "on",
        "client_token": f"tok-{kind}",
    }
    if kind == "text2video":
        data["aspect_ratio"] = "9:16"
    else:
        from django.core.files.uploadedfile import SimpleUploadedFile

        data["image"] = SimpleUploadedFile(
            "start.jpg", make_image(1024, 576, "JPEG"), content_type="image/jpeg"
        )
    return data


SLUGS = {"text2image": "text-to-image", "text2video": "text-to-video", "image2video": "image-to-video"}


def create_from_page(client, commit, kind: str) -> Generation:
    with commit():
        response = client.post(f"/generate/{SLUGS[kind]}/", form_data(kind))
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get()
    assert response["Location"] == f"/generations/{generation.pk}/"
    return generation


def callback(client, commit, generation: Generation, status: str):
    body = {
        "task_id": generation.task_id,
        "task_status": status,
        "task_status_msg": "",
        "task_info": {"external_task_id": str(generation.external_task_id)},
    }
    with commit():
        return client.post(generation.callback_path(), json.dumps(body), content_type="application/json")


def assert_results_stored(generation: Generation, expected: int) -> None:
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.assets_saved_at is not None
    assert generation.units_charged is not None
    assets = list(generation.assets.order_by("index"))
    assert len(assets) == expected
    for asset in assets:
        assert asset.file.storage.exists(asset.file.name)
        assert asset.thumbnail.storage.exists(asset.thumbnail.name)
        assert asset.size > 0 and asset.width and asset.height
        if generation.is_video:
            assert asset.kind == Asset.Kind.VIDEO
            assert asset.content_type == "video/mp4"
            assert (asset.width, asset.height) == (320, 180)
            assert asset.duration == pytest.approx(2.0, abs=0.2)
        else:
            assert asset.kind == Asset.Kind.IMAGE
            assert asset.content_type == "image/png"


@pytest.mark.parametrize("kind", KINDS)
def test_it_runs_a_generation_end_to_end_with_callbacks(kind, rich_alice, alice_client, fake, commit):
    generation = create_from_page(alice_client, commit, kind)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    expected_cost = 3 if kind == "text2image" else 50  # 3 images x 1; kling-v2-6 pro 5 s with sound
    assert generation.cost == expected_cost
    assert ledger.balance_of(rich_alice) == 1000 - expected_cost

    # What went to Kling: our external id, the callback URL, Kling's field names.
    (request,) = fake.requests
    assert request.external_task_id == str(generation.external_task_id)
    assert (
        request.callback_url
        == f"http://127.0.0.1:8000/callbacks/kling/{generation.pk}/{generation.callback_token}/"
    )
    if kind == "text2image":
        assert request.product == "images/generations"
        assert request.params == {
            "model_name": "kling-v2-1",
            "prompt": "A lighthouse on a cliff in a storm, oil painting",
            "n": 3,
            "aspect_ratio": "1:1",
            "resolution": "2k",
        }
    else:
        assert request.params["mode"] == "pro" and request.params["duration"] == "5"
        assert request.params["sound"] == "on"
    if kind == "image2video":
        assert request.product == "videos/image2video"
        assert "aspect_ratio" not in request.params
        assert not request.params["image"].startswith("data:")
        assert len(request.params["image"]) > 1000  # the upload, as raw Base64

    task = fake.task_for(generation)
    fake.start(task.task_id)
    assert callback(alice_client, commit, generation, "processing").status_code == 200
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING
    assert fake.count("get") == 0  # a processing hint is taken without a lookup

    fake.succeed(task.task_id, units="5")
    assert callback(alice_client, commit, generation, "succeed").status_code == 200
    assert fake.count("list") == 1 and fake.count("get") == 0  # the terminal hint was confirmed with Kling
    assert_results_stored(generation, 3 if kind == "text2image" else 1)
    assert fake.count("submit") == 1

    page = alice_client.get(f"/generations/{generation.pk}/")
    assert page.status_code == 200
    asset = generation.assets.first()
    assert f"/generations/{generation.pk}/files/{asset.pk}/" in page.content.decode()
    assert ledger.find_drifts() == []


@pytest.mark.parametrize("kind", KINDS)
def test_it_runs_a_generation_end_to_end_by_polling_alone(
    kind, rich_alice, alice_client, fake, commit, clock
):
    generation = create_from_page(alice_client, commit, kind)
    task = fake.task_for(generation)

    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert fake.count("list") == 1 and fake.count("get") == 0

    fake.start(task.task_id)
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    generation.refresh_from_db()
    assert generation.status == Status.PROCESSING

    fake.succeed(task.task_id)
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
    assert_results_stored(generation, 3 if kind == "text2image" else 1)
    # Every lookup went through the list endpoint: one request per pass.
    assert fake.count("list") == 3 and fake.count("get") == 0 and fake.count("submit") == 1


@pytest.mark.parametrize("kind", KINDS)
def test_it_refunds_a_failed_generation_exactly_once(kind, rich_alice, alice_client, fake, commit, clock):
    generation = create_from_page(alice_client, commit, kind)
    task = fake.task_for(generation)
    fake.fail(task.task_id, "Failure to pass the risk control system")

    # The callback and the sweep both see the failure; only one of them acts on it.
    callback(alice_client, commit, generation, "failed")
    clock.shift(timedelta(seconds=15))
    with commit():
        follow.sweep()
        follow.refresh(generation.pk)

    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_message == failed_task_user_message("risk control", kind=kind)
    assert "content rules" in generation.error_message
    assert generation.provider_message == "Failure to pass the risk control system"
    refunds = LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.REFUND)
    assert [r.amount for r in refunds] == [generation.cost]
    assert ledger.balance_of(rich_alice) == 1000

    page = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert "content rules" in page
    assert f"Your {generation.cost} credits were refunded." in page


@pytest.mark.parametrize(
    ("kind", "reason", "expected"),
    [
        # A timeout is never blamed on a picture, whatever the kind.
        ("text2image", "image generation timed out", "too busy to finish"),
        ("image2video", "image processing timed out", "too busy to finish"),
        # Only image to video has a picture the person gave.
        ("text2image", "Image pixel is invalid", "could not complete this generation"),
        ("text2video", "Image pixel is invalid", "could not complete this generation"),
        ("image2video", "Image pixel is invalid", "could not use the image you gave"),
    ],
)
def test_it_explains_a_failure_in_words_that_fit_the_kind(
    kind, reason, expected, rich_alice, alice_client, fake, commit
):
    generation = create_from_page(alice_client, commit, kind)
    fake.fail(fake.task_for(generation).task_id, reason)
    with commit():
        follow.refresh(generation.pk)

    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert expected in generation.error_message
    assert generation.provider_message == reason


def test_it_frees_the_slot_and_starts_the_next_waiting_generation(rich_alice, fake, slots, commit):
    slots.slots = 1
    with commit():
        first = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "a")
        second = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "b")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.SUBMITTED
    assert second.status == Status.QUEUED and second.wait_reason == "slot"
    assert fake.count("submit") == 1

    fake.succeed(fake.task_for(first).task_id)
    with commit():
        follow.refresh(first.pk)
    second.refresh_from_db()
    assert first.pk in slots.released
    assert second.status == Status.SUBMITTED
    assert set(slots.holders) == {second.pk}


def test_it_emails_the_owner_when_a_long_generation_finishes(rich_alice, fake, commit, clock):
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "long")
    clock.shift(timedelta(minutes=3))
    fake.succeed(fake.task_for(generation).task_id)
    with commit():
        follow.refresh(generation.pk)
        follow.refresh(generation.pk)  # a duplicate check never sends a second email

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "Your text to video is ready"
    assert f"http://127.0.0.1:8000/generations/{generation.pk}/" in message.body


def test_it_emails_a_failure_with_the_refund(rich_alice, fake, commit, clock):
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "long")
    clock.shift(timedelta(minutes=2))
    fake.fail(fake.task_for(generation).task_id, "Image pixel is invalid")
    with commit():
        follow.refresh(generation.pk)
    (message,) = mail.outbox
    assert message.subject == "Your text to video could not be made"
    assert "Your 25 credits were refunded." in message.body


def test_it_sends_no_email_when_quick_or_turned_off(rich_alice, fake, commit, clock):
    with commit():
        quick = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "quick")
    fake.succeed(fake.task_for(quick).task_id)
    with commit():
        follow.refresh(quick.pk)
    assert Generation.objects.get(pk=quick.pk).status == Status.SUCCEEDED

    rich_alice.notify_on_finish = False
    rich_alice.save()
    with commit():
        slow = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "slow")
    clock.shift(timedelta(minutes=5))
    fake.succeed(fake.task_for(slow).task_id)
    with commit():
        follow.refresh(slow.pk)
    assert Generation.objects.get(pk=slow.pk).assets_saved_at is not None
    assert mail.outbox == []
