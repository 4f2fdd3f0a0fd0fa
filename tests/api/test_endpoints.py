"""Every endpoint through DRF's APIClient with a personal key: models, quote, create,
list, detail, delete, credits, signed file links; and the refusals, each with nothing
charged and nothing created."""

from __future__ import annotations

import base64

import pytest
import responses
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import api_keys
from billing import account_flags, ledger
from billing.models import LedgerEntry
from generations import pricing, services
from generations.models import Asset, Generation, Status
from tests.api.conftest import bearer, make_image
from tests.outbound_webhooks.resolver import fake_public_dns

VIDEO = {"kind": "text2video", "model_name": "kling-v2-6", "prompt": "A red fox in fresh snow", "duration": 5}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "details"}
    assert body["message"]
    return body


def assert_nothing_happened(user, balance: int) -> None:
    assert ledger.balance_of(user) == balance
    assert not Generation.objects.filter(owner=user).exists()


def finished(owner, *, images: int = 1, **fields) -> Generation:
    fields = {"status": Status.SUCCEEDED, "assets_saved_at": timezone.now(), **fields}
    generation = Generation.objects.create(
        owner=owner,
        kind="text2image",
        provider="simulator",
        model_name="kling-v3",
        prompt="A lighthouse at dusk",
        params={"n": images},
        cost=2,
        finished_at=timezone.now(),
        **fields,
    )
    for index in range(images):
        asset = Asset(generation=generation, kind=Asset.Kind.IMAGE, index=index, content_type="image/png")
        asset.file.save(f"out-{index}.png", ContentFile(make_image(320, 320)), save=False)
        asset.size = asset.file.size
        asset.save()
    return generation


# --- authentication ---------------------------------------------------------------------


def test_it_refuses_requests_without_a_key(anon_api, db):
    response = anon_api.get(reverse("api:models"))
    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_an_unknown_key(alice, db):
    assert_error(bearer("ks_live_abcdefgh.nope").get(reverse("api:models")), 401, "authentication_failed")
    assert_error(bearer("something-else").get(reverse("api:models")), 401, "authentication_failed")


def test_it_refuses_a_revoked_key_at_once(api, alice, alice_key):
    assert api.get(reverse("api:credits")).status_code == 200
    api_keys.revoke_key(alice, alice_key[0].pk)
    assert_error(api.get(reverse("api:credits")), 401, "authentication_failed")


def test_it_accepts_the_api_key_keyword_too(alice_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {alice_key[1]}")
    assert client.get(reverse("api:credits")).status_code == 200


def test_it_refuses_the_keys_of_a_deactivated_person(api, alice):
    alice.is_active = False
    alice.save()
    assert_error(api.get(reverse("api:credits")), 401, "authentication_failed")


def test_it_refuses_every_request_of_a_frozen_account(api, rich_alice):
    account_flags.freeze_for_dispute(rich_alice, "dp_1")
    assert_error(api.get(reverse("api:credits")), 403, "account_frozen")
    assert_error(api.post(reverse("api:generations"), VIDEO, format="json"), 403, "account_frozen")
    assert_nothing_happened(rich_alice, 1000)


def test_a_frozen_account_is_refused_in_the_browser_too(client, rich_alice):
    account_flags.freeze_for_dispute(rich_alice, "dp_1")
    client.force_login(rich_alice)
    assert_error(client.get(reverse("api:credits")), 403, "account_frozen")


def test_the_browser_session_works_and_needs_csrf_to_post(rich_alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rich_alice)
    assert client.get(reverse("api:credits")).json()["balance"] == 1000
    response = client.post(reverse("api:generations"), VIDEO, format="json")
    assert response.status_code == 403
    assert_nothing_happened(rich_alice, 1000)


# --- models and quote -------------------------------------------------------------------


def test_it_lists_models_with_their_prices(api, alice):
    kinds = {k["kind"]: k for k in api.get(reverse("api:models")).json()["kinds"]}
    assert {"text2image", "text2video", "image2video"} <= set(kinds)
    v26 = next(m for m in kinds["text2video"]["models"] if m["name"] == "kling-v2-6")
    assert v26["modes"] == ["std", "pro"] and v26["durations"] == [5, 10]
    assert v26["options"]["sound"]["modes"] == ["pro"]
    price = next(p for p in v26["prices"] if p["mode"] == "pro" and p["duration"] == 10 and p["sound"])
    expected = pricing.quote(
        "text2video", {"model_name": "kling-v2-6", "mode": "pro", "duration": 10, "sound": True}
    )
    assert price["credits"] == expected.credits and price["per"] == "clip"
    assert "kling-v1" not in [m["name"] for m in kinds["text2video"]["models"]]  # discontinued
    assert "prompt" in kinds["text2video"]["request_fields"]


def test_it_quotes_without_creating_anything(api, rich_alice):
    body = {**VIDEO, "mode": "pro", "duration": 10, "sound": True}
    response = api.post(reverse("api:quote"), body, format="json")
    assert response.status_code == 200
    expected = pricing.quote(
        "text2video", {"model_name": "kling-v2-6", "mode": "pro", "duration": 10, "sound": True}
    )
    assert response.json()["credits"] == expected.credits
    assert response.json()["balance"] == 1000 and response.json()["affordable"] is True
    assert_nothing_happened(rich_alice, 1000)


def test_a_quote_refuses_what_create_refuses(api, rich_alice):
    body = {**VIDEO, "mode": "std", "sound": True}  # 2.6 makes sound in pro only
    details = assert_error(api.post(reverse("api:quote"), body, format="json"), 400, "validation_error")[
        "details"
    ]
    assert "sound" in details


# --- create ------------------------------------------------------------------------------


def test_it_creates_and_charges_a_generation(api, rich_alice, subscriptions):
    response = api.post(reverse("api:generations"), VIDEO, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    generation = Generation.objects.get(owner=rich_alice)
    assert body["id"] == generation.pk and body["status"] == "queued"
    assert response["Location"] == reverse("api:generation", args=[generation.pk])
    assert generation.model_name == "kling-v2-6" and generation.duration == 5
    # The page's defaults fill what was left out: Standard mode, the first aspect ratio.
    assert generation.mode == "std" and generation.params["aspect_ratio"] == "16:9"
    assert ledger.balance_of(rich_alice) == 1000 - generation.cost
    assert body["cost"] == generation.cost
    assert subscriptions == [(generation.pk, None)]


def test_it_hands_the_webhook_url_over(api, rich_alice, subscriptions):
    body = {**VIDEO, "webhook_url": "https://hooks.example.com/kling"}
    response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201
    assert subscriptions == [(response.json()["id"], "https://hooks.example.com/kling")]


def test_it_names_unknown_fields(api, rich_alice):
    body = {**VIDEO, "colour": "red", "fps": 60}
    details = assert_error(
        api.post(reverse("api:generations"), body, format="json"), 400, "validation_error"
    )["details"]
    assert set(details) == {"colour", "fps"}
    assert_nothing_happened(rich_alice, 1000)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": ["a", "list"]}, "prompt"),
        ({"duration": "five"}, "duration"),
        ({"duration": 7}, "duration"),  # not a length 2.6 makes
        ({"sound": "loud"}, "sound"),
        ({"mode": "ultra"}, "mode"),
        ({"model_name": "kling-v9"}, "model_name"),
        ({"prompt": "x" * 2600}, "prompt"),
        ({"cfg_scale": 0.5}, "cfg_scale"),  # 2.6 takes no prompt strength
        ({"kind": "hologram"}, "kind"),
    ],
)
def test_it_refuses_bad_values_by_field(api, rich_alice, change, field):
    response = api.post(reverse("api:generations"), {**VIDEO, **change}, format="json")
    details = assert_error(response, 400, "validation_error")["details"]
    assert field in details, details
    assert_nothing_happened(rich_alice, 1000)


def test_it_refuses_an_out_of_range_prompt_strength(api, rich_alice):
    body = {**VIDEO, "model_name": "kling-v1-6", "cfg_scale": 5}
    details = assert_error(
        api.post(reverse("api:generations"), body, format="json"), 400, "validation_error"
    )["details"]
    assert "cfg_scale" in details
    assert_nothing_happened(rich_alice, 1000)


def test_it_refuses_a_body_that_is_not_an_object_or_not_json(api, rich_alice):
    assert_error(api.post(reverse("api:generations"), [1, 2], format="json"), 400, "validation_error")
    response = api.generic("POST", reverse("api:generations"), "{not json", content_type="application/json")
    assert_error(response, 400, "validation_error")
    response = api.generic("POST", reverse("api:generations"), '{"a": NaN}', content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert_nothing_happened(rich_alice, 1000)


def test_it_refuses_an_oversized_body(api, rich_alice, settings):
    settings.API_MAX_BODY_BYTES = 2048
    body = {**VIDEO, "prompt": "x" * 4000}
    body = assert_error(api.post(reverse("api:generations"), body, format="json"), 413, "payload_too_large")
    assert "2,048" in body["message"]
    assert_nothing_happened(rich_alice, 1000)


def test_it_refuses_when_credits_are_short_and_says_by_how_much(api, alice):
    ledger.grant(alice, 3, key="small")
    body = assert_error(
        api.post(reverse("api:generations"), VIDEO, format="json"), 402, "insufficient_credits"
    )
    price = pricing.quote("text2video", {"model_name": "kling-v2-6", "mode": "std", "duration": 5}).credits
    assert body["details"] == {"balance": 3, "price": price}
    assert_nothing_happened(alice, 3)


# --- images: base64 and URLs ---------------------------------------------------------------

FRAME = make_image(640, 400)


def image_body(image: str) -> dict:
    return {"kind": "image2video", "model_name": "kling-v2-6", "image": image, "prompt": "She turns"}


def test_it_takes_a_start_frame_as_base64(api, rich_alice):
    response = api.post(
        reverse("api:generations"), image_body(base64.b64encode(FRAME).decode()), format="json"
    )
    assert response.status_code == 201, response.json()
    generation = Generation.objects.get(owner=rich_alice)
    assert generation.input_image.read() == FRAME


def test_it_takes_a_start_frame_as_a_data_uri(api, rich_alice):
    uri = "data:image/png;base64," + base64.b64encode(FRAME).decode()
    assert api.post(reverse("api:generations"), image_body(uri), format="json").status_code == 201


@pytest.mark.parametrize(
    "image",
    [
        "not base64 at all!",
        base64.b64encode(b"GIF89a not a picture").decode(),
        base64.b64encode(make_image(200, 200)).decode(),  # too small for Kling
    ],
)
def test_it_refuses_a_bad_start_frame(api, rich_alice, image):
    details = assert_error(
        api.post(reverse("api:generations"), image_body(image), format="json"), 400, "validation_error"
    )["details"]
    assert "image" in details
    assert_nothing_happened(rich_alice, 1000)


@responses.activate
def test_it_fetches_a_start_frame_from_a_public_url(api, rich_alice):
    # images.example.com resolves to a public address (the autouse fake DNS).
    responses.get("https://images.example.com/frame.png", body=FRAME, content_type="image/png")
    response = api.post(
        reverse("api:generations"), image_body("https://images.example.com/frame.png"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert Generation.objects.get(owner=rich_alice).input_image.read() == FRAME


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/frame.png",
        "https://localhost/frame.png",
        "https://[::1]/frame.png",
        "https://10.1.2.3/frame.png",
        "https://169.254.169.254/latest/meta-data",
        "http://images.example.com/frame.png",
        "https://user:pw@images.example.com/frame.png",
    ],
)
def test_it_refuses_private_and_unsafe_image_urls(api, rich_alice, url):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        details = assert_error(
            api.post(reverse("api:generations"), image_body(url), format="json"), 400, "validation_error"
        )["details"]
        assert not mock.calls  # refused before any request
    assert "image" in details
    assert_nothing_happened(rich_alice, 1000)


@responses.activate
def test_it_refuses_a_redirect_to_a_private_address(api, rich_alice, monkeypatch):
    fake_public_dns(monkeypatch, {"internal.example.com": ["10.0.0.5"]})
    responses.get(
        "https://images.example.com/frame.png",
        status=302,
        headers={"Location": "https://internal.example.com/x"},
    )
    response = api.post(
        reverse("api:generations"), image_body("https://images.example.com/frame.png"), format="json"
    )
    assert "private" in assert_error(response, 400, "validation_error")["details"]["image"][0]
    assert_nothing_happened(rich_alice, 1000)


@responses.activate
def test_it_refuses_an_unreachable_or_oversized_image_url(api, rich_alice, monkeypatch):
    monkeypatch.setattr("api.inputs.IMAGE_MAX_BYTES", 1024)
    responses.get("https://big.example.com/frame.png", body=b"x" * 4096)
    # images.example.com is not registered: responses raises ConnectionError for it.
    for url in ("https://images.example.com/frame.png", "https://big.example.com/frame.png"):
        response = api.post(reverse("api:generations"), image_body(url), format="json")
        assert "image" in assert_error(response, 400, "validation_error")["details"]
    assert_nothing_happened(rich_alice, 1000)


# --- list, detail, delete ------------------------------------------------------------------


def test_it_lists_own_generations_newest_first_with_a_cursor(api, alice, bob):
    mine = [finished(alice) for _ in range(3)]
    finished(bob)
    first = api.get(reverse("api:generations"), {"page_size": 2}).json()
    assert [g["id"] for g in first["results"]] == [mine[2].pk, mine[1].pk]
    second = api.get(first["next"]).json()
    assert [g["id"] for g in second["results"]] == [mine[0].pk]
    assert second["next"] is None


def test_it_filters_the_list_by_kind_and_status(api, alice):
    image = finished(alice)
    failed = finished(alice, images=0, status=Status.FAILED)
    Generation.objects.filter(pk=failed.pk).update(kind="text2video")
    ids = lambda **q: [g["id"] for g in api.get(reverse("api:generations"), q).json()["results"]]  # noqa: E731
    assert ids(kind="text2image") == [image.pk]
    assert ids(status="failed") == [failed.pk]
    assert ids(kind="text2image", status="failed") == []
    details = assert_error(api.get(reverse("api:generations"), {"status": "done"}), 400, "validation_error")
    assert "status" in details["details"]


def test_it_shows_a_generation_with_signed_file_links(api, alice):
    generation = finished(alice, images=2)
    body = api.get(reverse("api:generation", args=[generation.pk])).json()
    assert body["status"] == "succeeded" and body["finished"] is True
    assert body["finished_at"] and body["results_saved_at"] and body["created_at"]
    assert len(body["outputs"]) == 2
    url = body["outputs"][0]["url"]
    response = APIClient().get(url)  # no key, no session: the signature is the pass
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == generation.assets.get(index=0).file.open("rb").read()


def test_file_links_refuse_forgery_expiry_and_deleted_generations(api, alice):
    generation = finished(alice)
    url = api.get(reverse("api:generation", args=[generation.pk])).json()["outputs"][0]["url"]
    anyone = APIClient()
    assert_error(anyone.get(url[:-2] + "xx"), 404, "not_found")
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        assert_error(anyone.get(url), 403, "link_expired")
    services.delete_generation(alice, generation.pk)
    assert_error(anyone.get(url), 404, "not_found")


def test_a_failed_generation_says_why_and_what_was_refunded(api, alice):
    generation = finished(
        alice, images=0, status=Status.FAILED, error_code="content_refused", error_message="No."
    )
    body = api.get(reverse("api:generation", args=[generation.pk])).json()
    assert body["error"] == {"code": "content_refused", "message": "No."}
    assert body["refunded"] == generation.cost


def test_someone_elses_generation_is_not_found(api, bob):
    theirs = finished(bob)
    assert_error(api.get(reverse("api:generation", args=[theirs.pk])), 404, "not_found")
    assert_error(api.delete(reverse("api:generation", args=[theirs.pk])), 404, "not_found")
    assert Generation.objects.get(pk=theirs.pk).deleted_at is None
    assert_error(api.get(reverse("api:generation", args=[99999999])), 404, "not_found")


def test_it_deletes_a_generation(api, alice):
    generation = finished(alice)
    assert api.delete(reverse("api:generation", args=[generation.pk])).status_code == 204
    assert_error(api.get(reverse("api:generation", args=[generation.pk])), 404, "not_found")
    assert api.get(reverse("api:generations")).json()["results"] == []


def test_it_refuses_a_bad_wait(api, alice):
    generation = finished(alice)
    for wait in ("soon", "-1", "1.5"):
        response = api.get(reverse("api:generation", args=[generation.pk]), {"wait": wait})
        assert "wait" in assert_error(response, 400, "validation_error")["details"]


def test_a_long_wait_on_a_finished_generation_answers_at_once(api, alice, monkeypatch):
    monkeypatch.setattr("api.views.time.sleep", lambda s: pytest.fail("slept on a finished generation"))
    generation = finished(alice)
    response = api.get(reverse("api:generation", args=[generation.pk]), {"wait": 9999})
    assert response.status_code == 200


# --- credits -----------------------------------------------------------------------------


def test_it_shows_the_balance_and_own_history(api, alice, bob):
    ledger.grant(alice, 40, key="a1")
    ledger.grant(alice, 2, key="a2")
    ledger.grant(bob, 7, key="b1")
    body = api.get(reverse("api:credits"), {"page_size": 1}).json()
    assert body["balance"] == 42
    assert [e["amount"] for e in body["results"]] == [2]
    rest = api.get(body["next"]).json()
    assert [e["amount"] for e in rest["results"]] == [40]
    assert LedgerEntry.objects.filter(account__user=bob).count() == 1


# --- other errors ----------------------------------------------------------------------------


def test_it_answers_unknown_methods_in_the_error_shape(api, alice):
    assert_error(api.put(reverse("api:credits"), {}, format="json"), 405, "method_not_allowed")
