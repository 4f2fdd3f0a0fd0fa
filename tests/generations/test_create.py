"""Create pages: choices from the capability table, the live price, upload checks next to
the field, one generation per form however often it is sent, and never a charge for
something that cannot be made."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import ledger
from billing.models import CreditAccount, LedgerEntry
from generations import services
from generations.models import Generation, Price, Status
from tests.generations.conftest import cleaned, make_image, upload

T2V = {
    "model_name": "kling-v2-6",
    "prompt": "A red fox trotting through fresh snow at dawn",
    "mode": "std",
    "duration": "5",
    "aspect_ratio": "16:9",
    "client_token": "token-1",
}


def field_errors(response, name: str) -> str:
    """The HTML of one field's block (label, input, errors) on a rendered form."""
    page = response.content.decode()
    start = page.index(f'id="field-{name}"')
    return page[
        start : page.index('<div class="field', start + 10)
        if '<div class="field' in page[start + 10 :]
        else None
    ]


def test_the_chooser_offers_the_three_kinds_with_a_starting_price(alice_client, db):
    page = alice_client.get("/generate/").content.decode()
    for slug in ("text-to-image", "text-to-video", "image-to-video"):
        assert f'href="/generate/{slug}/"' in page
    assert "From 1 credit per image" in page
    assert "From 15 credits per clip" in page  # kling-v2-5-turbo / 2.6 std 5 s
    assert alice_client.get("/generate/no-such-kind/").status_code == 404


def test_the_form_offers_what_the_default_model_supports(alice_client, db):
    page = alice_client.get("/generate/text-to-video/").content.decode()
    assert 'name="client_token"' in page
    assert '<option value="kling-v3" selected>Kling 3.0</option>' in page
    assert 'value="kling-v1"' not in page  # discontinued: switched off
    for seconds in range(3, 16):
        assert f'<option value="{seconds}"' in page
    assert 'value="4k"' in page
    assert 'name="sound"' in page
    assert 'name="cfg_scale"' not in page  # not on 2.x and later
    assert 'name="camera_control"' not in page
    assert 'id="price-preview"' in page and "credits" in page
    assert 'hx-get="/generate/text-to-video/options/"' in page


def test_changing_the_model_rerenders_its_choices(alice_client, db):
    page = alice_client.get(
        "/generate/text-to-video/options/",
        {"model_name": "kling-v2-master", "mode": "pro", "duration": "7", "prompt": "x"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert page.lstrip().startswith('<section id="gen-options"')
    assert 'name="mode"' not in page  # the master models take no mode
    assert '<option value="5" selected>5 seconds</option>' in page  # 7 s is not offered: back to 5
    assert '<option value="7"' not in page
    assert "100 credits" in page or ">100<" in page

    v16 = alice_client.get("/generate/text-to-video/options/", {"model_name": "kling-v1-6"}).content.decode()
    assert 'name="cfg_scale"' in v16 and 'name="sound"' not in v16


def test_the_price_preview_follows_every_option(alice_client, db):
    def price(**options) -> str:
        page = alice_client.get("/generate/text-to-video/options/", {**T2V, **options}).content.decode()
        start = page.index('id="price-credits">') + len('id="price-credits">')
        return page[start : page.index("<", start)]

    assert price(mode="std") == "15"
    assert price(mode="pro") == "25"
    assert price(mode="pro", sound="on") == "50"
    assert price(mode="pro", sound="on", duration="10") == "100"
    assert price(mode="std", sound="on") == "15"  # no sound in std: the box is not even there
    assert price(model_name="kling-v3", mode="std", duration="3") == "18"
    assert price(model_name="kling-v3", mode="4k", duration="15", sound="on") == "450"

    images = alice_client.get(
        "/generate/text-to-image/options/", {"model_name": "kling-v2-1", "n": "4"}
    ).content.decode()
    assert 'id="price-credits">4<' in images and "4 images x 1 credit" in images


def test_the_price_preview_says_when_a_combination_is_not_offered(alice_client, db):
    Price.objects.filter(model_name="kling-v2-6", mode="pro", duration=10).update(active=False)
    page = alice_client.get(
        "/generate/text-to-video/options/", {**T2V, "mode": "pro", "duration": "10"}
    ).content.decode()
    assert "Kling 2.6 Professional 10 s is not offered at the moment." in page
    assert "disabled" in page[page.index('type="submit"') - 80 :]


def test_the_preview_warns_when_credits_are_short(alice_client, alice):
    page = alice_client.get("/generate/text-to-video/options/", {**T2V, "mode": "pro"}).content.decode()
    assert "You need 25 more" in page and 'href="/credits/buy/"' in page


def test_creating_charges_saves_and_submits(rich_alice, alice_client, fake, commit):
    with commit():
        response = alice_client.post("/generate/text-to-video/", T2V)
    generation = Generation.objects.get()
    assert response["Location"] == f"/generations/{generation.pk}/"
    assert generation.status == Status.SUBMITTED
    assert (generation.model_name, generation.mode, generation.duration, generation.audio) == (
        "kling-v2-6",
        "std",
        5,
        False,
    )
    assert generation.cost == 15 and generation.product == "videos/text2video"
    assert generation.deadline_at is not None
    assert list(
        LedgerEntry.objects.filter(generation=generation).values_list("idempotency_key", "amount")
    ) == [(f"gen:{generation.pk}:charge", -15)]
    assert fake.count("submit") == 1


def test_a_double_click_creates_one_generation(rich_alice, alice_client, fake, commit):
    with commit():
        first = alice_client.post("/generate/text-to-video/", T2V)
        second = alice_client.post("/generate/text-to-video/", T2V)
    assert first["Location"] == second["Location"]
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert fake.count("submit") == 1
    assert ledger.balance_of(rich_alice) == 985


def test_a_create_post_reads_the_price_once_in_a_constant_number_of_queries(rich_alice, alice_client, commit):
    with commit():
        alice_client.post("/generate/text-to-video/", {**T2V, "client_token": "warm-up"})
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.post("/generate/text-to-video/", T2V)
    assert response.status_code == 302
    sql = [query["sql"] for query in queries.captured_queries]
    # The session and the user; the price; the token; the insert; the charge (its key, a
    # savepoint, the balance UPDATE and read, the entry, the release); the queue cap; the
    # transaction's savepoint and release (BEGIN and COMMIT outside a test).
    assert len(sql) == 14, "\n".join(sql)
    assert sum('FROM "generations_price"' in q for q in sql) == 1


def test_the_charge_is_the_price_the_form_quoted_and_an_edit_applies_next_time(
    rich_alice, alice_client, commit, monkeypatch
):
    measure_inputs = services.measure_inputs

    def staff_edits_the_price_meanwhile(kind, cleaned_data):
        # Lands between the form's quote and the charge of the same request.
        Price.objects.filter(model_name="kling-v2-6", mode="std", duration=5, active=True).update(credits=40)
        measure_inputs(kind, cleaned_data)

    monkeypatch.setattr(services, "measure_inputs", staff_edits_the_price_meanwhile)
    with commit():
        alice_client.post("/generate/text-to-video/", T2V)
    first = Generation.objects.get()
    assert first.cost == 15
    assert LedgerEntry.objects.get(generation=first).amount == -15
    monkeypatch.setattr(services, "measure_inputs", measure_inputs)
    with commit():
        alice_client.post("/generate/text-to-video/", {**T2V, "client_token": "token-2"})
    second = Generation.objects.exclude(pk=first.pk).get()
    assert second.cost == 40
    assert LedgerEntry.objects.get(generation=second).amount == -40
    assert ledger.balance_of(rich_alice) == 1000 - 15 - 40


def test_the_same_token_never_charges_twice_even_in_services(rich_alice, commit):
    with commit():
        one = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "same")
        two = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "same")
    assert one.pk == two.pk
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_too_few_credits_charges_and_sends_nothing(alice, alice_client, fake, commit):
    ledger.grant(alice, 10, key="few")
    with commit():
        response = alice_client.post("/generate/text-to-video/", T2V)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This needs <strong>15 credits</strong> and you have 10." in page
    assert 'href="/credits/buy/"' in page
    assert Generation.objects.count() == 0
    assert fake.calls == []
    assert ledger.balance_of(alice) == 10


def test_a_frozen_account_is_told_why(rich_alice, alice_client, fake, commit):
    CreditAccount.objects.filter(user=rich_alice).update(is_frozen=True, frozen_reason="open dispute")
    with commit():
        response = alice_client.post("/generate/text-to-video/", T2V)
    assert "Spending is paused on this account: open dispute" in response.content.decode()
    assert Generation.objects.count() == 0 and fake.calls == []


def test_a_prompt_over_the_model_limit_is_refused_before_any_charge(rich_alice, alice_client, fake, commit):
    with commit():
        response = alice_client.post("/generate/text-to-video/", {**T2V, "prompt": "x" * 2501})
    assert "Kling 2.6 accepts prompts of up to 2,500 characters; this one has 2,501." in field_errors(
        response, "prompt"
    )
    image = alice_client.post(
        "/generate/text-to-image/",
        {
            "model_name": "kling-v1-5",
            "prompt": "y" * 501,
            "n": "1",
            "aspect_ratio": "1:1",
            "client_token": "i",
        },
    )
    assert "up to 500 characters" in field_errors(image, "prompt")
    assert Generation.objects.count() == 0 and fake.calls == []
    assert LedgerEntry.objects.filter(kind="charge").count() == 0


def test_a_discontinued_model_is_refused_with_its_reason(rich_alice, alice_client, fake):
    with pytest.raises(Exception) as error:
        services.create_generation(
            rich_alice, "text2video", cleaned("text2video", model_name="kling-v1", mode="std"), ""
        )
    assert "discontinued" in str(error.value)
    response = alice_client.post("/generate/text-to-video/", {**T2V, "model_name": "kling-v1"})
    assert "This model is not offered" in field_errors(response, "model_name")
    assert Generation.objects.count() == 0


def test_a_price_switched_off_is_refused_next_to_the_field(rich_alice, alice_client, commit):
    Price.objects.filter(model_name="kling-v2-6", mode="std", duration=5).update(active=False)
    with commit():
        response = alice_client.post("/generate/text-to-video/", T2V)
    assert "is not offered at the moment" in field_errors(response, "duration")
    assert Generation.objects.count() == 0


def i2v(**extra) -> dict:
    data = {k: v for k, v in T2V.items() if k != "aspect_ratio"}
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (
            SimpleUploadedFile("a.gif", make_image(600, 600, "GIF"), "image/gif"),
            "Only JPEG and PNG pictures are accepted; this one is GIF.",
        ),
        (SimpleUploadedFile("a.png", make_image(299, 600), "image/png"), "each side needs at least 300 px"),
        (
            SimpleUploadedFile("a.png", make_image(1600, 600), "image/png"),
            "This picture is too wide (1600 x 600 px)",
        ),
        (SimpleUploadedFile("a.png", make_image(400, 1100), "image/png"), "This picture is too tall"),
        (
            SimpleUploadedFile("a.png", b"not a picture at all", "image/png"),
            "This file is not a picture we can read.",
        ),
        (
            SimpleUploadedFile("a.png", b"\x89PNG" + b"0" * (10 * 1024 * 1024), "image/png"),
            "pictures can be at most 10 MB",
        ),
    ],
    ids=["gif", "too-small", "too-wide", "too-tall", "not-an-image", "too-large"],
)
def test_uploads_are_checked_with_the_reason_next_to_the_field(file, message, rich_alice, alice_client, fake):
    response = alice_client.post("/generate/image-to-video/", i2v(image=file))
    assert response.status_code == 200
    assert message in field_errors(response, "image")
    assert Generation.objects.count() == 0 and fake.calls == []


def test_a_too_small_end_frame_is_explained_next_to_it(rich_alice, alice_client):
    response = alice_client.post(
        "/generate/image-to-video/",
        i2v(
            mode="pro",
            image=upload(),
            image_tail=SimpleUploadedFile("b.png", make_image(200, 200), "image/png"),
        ),
    )
    assert "200 x 200 px; each side needs at least 300 px" in field_errors(response, "image_tail")


def test_image_to_video_takes_an_upload_or_an_address(rich_alice, alice_client, fake, commit):
    missing = alice_client.post("/generate/image-to-video/", i2v())
    assert "Upload a start frame" in field_errors(missing, "image")
    both = alice_client.post(
        "/generate/image-to-video/", i2v(image=upload(), image_url="https://example.com/a.jpg")
    )
    assert "not both" in field_errors(both, "image_url")

    with commit():
        response = alice_client.post("/generate/image-to-video/", i2v(image_url="https://example.com/a.jpg"))
    assert response.status_code == 302
    (request,) = fake.requests
    assert request.params["image"] == "https://example.com/a.jpg"


def test_the_end_frame_is_offered_only_where_the_model_takes_one(rich_alice, alice_client, fake, commit):
    std = alice_client.get(
        "/generate/image-to-video/options/", {"model_name": "kling-v2-6", "mode": "std"}
    ).content.decode()
    assert 'name="image_tail"' not in std and "End frame: Professional mode, without sound." in std
    pro = alice_client.get(
        "/generate/image-to-video/options/", {"model_name": "kling-v2-6", "mode": "pro"}
    ).content.decode()
    assert 'name="image_tail"' in pro and 'hx-preserve="true"' in pro

    with commit():
        refused = alice_client.post(
            "/generate/image-to-video/",
            i2v(mode="pro", sound="on", image=upload(), image_tail=upload("end.png")),
        )
    assert Generation.objects.count() == 0
    assert "Kling 2.6 takes an end frame only in Professional mode, without sound." in field_errors(
        refused, "image_tail"
    )
    stale = alice_client.post("/generate/text-to-video/", {**T2V, "mode": "std", "sound": "on"})
    assert "Kling 2.6 makes sound only in Professional mode." in field_errors(stale, "sound")

    with commit():
        ok = alice_client.post(
            "/generate/image-to-video/", i2v(mode="pro", image=upload(), image_tail=upload("end.png"))
        )
    assert ok.status_code == 302
    (request,) = fake.requests
    assert request.params["image_tail"] and request.params["image"]


def test_camera_moves_where_the_table_allows_them(rich_alice, alice_client, fake, commit):
    options = alice_client.get(
        "/generate/image-to-video/options/", {"model_name": "kling-v1-5", "mode": "pro", "duration": "5"}
    ).content.decode()
    assert 'name="camera_control"' in options
    assert 'value="zoom_in"' in options and 'value="down_back"' not in options  # 1.5: simple moves only
    ten = alice_client.get(
        "/generate/image-to-video/options/", {"model_name": "kling-v1-5", "mode": "pro", "duration": "10"}
    ).content.decode()
    assert 'name="camera_control"' not in ten and "Camera control: Professional mode, 5 s." in ten

    base = i2v(model_name="kling-v1-5", mode="pro", duration="5")
    custom = alice_client.post(
        "/generate/image-to-video/",
        {**base, "image": upload(), "camera_control": "simple", "camera_axis": "roll"},
    )
    assert "Give a strength other than 0" in field_errors(custom, "camera_value")
    with commit():
        response = alice_client.post(
            "/generate/image-to-video/",
            {
                **base,
                "image": upload(),
                "camera_control": "simple",
                "camera_axis": "roll",
                "camera_value": "-3.5",
                "cfg_scale": "0.7",
            },
        )
    assert response.status_code == 302
    (request,) = fake.requests
    assert request.params["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0.0, "vertical": 0.0, "pan": 0.0, "tilt": 0.0, "roll": -3.5, "zoom": 0.0},
    }
    assert request.params["cfg_scale"] == 0.7


def test_text_to_video_camera_presets_with_kling_v1_switched_back_on(
    rich_alice, alice_client, fake, commit, settings
):
    settings.KLING_DISABLED_MODELS = []
    page = alice_client.get(
        "/generate/text-to-video/options/", {"model_name": "kling-v1", "mode": "std", "duration": "5"}
    ).content.decode()
    for preset in (
        "zoom_in",
        "zoom_out",
        "pan_left",
        "pan_right",
        "tilt_up",
        "tilt_down",
        "down_back",
        "forward_up",
        "right_turn_forward",
        "left_turn_forward",
        "simple",
    ):
        assert f'value="{preset}"' in page
    with commit():
        alice_client.post(
            "/generate/text-to-video/",
            {**T2V, "model_name": "kling-v1", "mode": "std", "camera_control": "forward_up"},
        )
    (request,) = fake.requests
    assert request.params["camera_control"] == {"type": "forward_up"}
    assert request.params["model_name"] == "kling-v1"
    assert Generation.objects.get().cost == 10


def test_text_to_image_with_a_reference_picture(rich_alice, alice_client, fake, commit):
    base = {
        "model_name": "kling-v1-5",
        "prompt": "Same cat, in space",
        "n": "2",
        "aspect_ratio": "1:1",
        "client_token": "r",
    }
    missing_type = alice_client.post("/generate/text-to-image/", {**base, "image": upload()})
    assert "subject or the face" in field_errors(missing_type, "image_reference")
    with commit():
        response = alice_client.post(
            "/generate/text-to-image/",
            {**base, "image": upload(), "image_reference": "subject", "image_fidelity": "0.8"},
        )
    assert response.status_code == 302
    (request,) = fake.requests
    assert request.params["image_reference"] == "subject" and request.params["image_fidelity"] == 0.8
    assert len(request.params["image"]) > 100 and request.params["n"] == 2
    assert Generation.objects.get().cost == 2


def test_remix_prefills_the_form_from_an_earlier_generation(rich_alice, alice_client, commit, bob, client):
    with commit():
        source = services.create_generation(
            rich_alice,
            "text2video",
            cleaned("text2video", model_name="kling-v1-6", mode="pro", duration=10, cfg_scale=0.3, aspect_ratio="1:1",
                    negative_prompt="blurry"),
            "src",
        )  # fmt: skip
    page = alice_client.get(f"/generate/text-to-video/?remix={source.pk}").content.decode()
    assert "A red fox trotting through fresh snow at dawn</textarea>" in page
    assert '<option value="kling-v1-6" selected>' in page
    assert '<option value="pro" selected>' in page and '<option value="10" selected>' in page
    assert '<option value="1:1" selected>' in page and 'value="0.3"' in page and "blurry</textarea>" in page
    assert 'name="client_token" value="' in page
    # The wrong kind's page sends you to the right one.
    assert alice_client.get(f"/generate/text-to-image/?remix={source.pk}")["Location"] == (
        f"/generate/text-to-video/?remix={source.pk}"
    )


def test_remix_reuses_the_start_frame_unless_replaced(rich_alice, alice_client, fake, commit):
    with commit():
        source = services.create_generation(rich_alice, "image2video", cleaned("image2video"), "src")
    page = alice_client.get(f"/generate/image-to-video/?remix={source.pk}").content.decode()
    assert f'name="image_from" value="{source.pk}" checked' in page
    with commit():
        response = alice_client.post(
            "/generate/image-to-video/", i2v(image_from=str(source.pk), client_token="again")
        )
    assert response.status_code == 302
    remix = Generation.objects.exclude(pk=source.pk).get()
    assert remix.input_image.name == Generation.objects.get(pk=source.pk).input_image.name
    assert fake.requests[-1].params["image"] == fake.requests[0].params["image"]


def test_nobody_can_remix_someone_else_s_picture(rich_alice, rich_bob, client, commit, fake):
    with commit():
        source = services.create_generation(rich_alice, "image2video", cleaned("image2video"), "src")
    client.force_login(rich_bob)
    response = client.post("/generate/image-to-video/", i2v(image_from=str(source.pk), client_token="steal"))
    assert "Upload a start frame" in field_errors(response, "image")
    assert Generation.objects.filter(owner=rich_bob).count() == 0


def test_garbled_hidden_fields_do_not_block_a_create(rich_alice, alice_client, commit):
    with commit():
        response = alice_client.post(
            "/generate/text-to-video/", {**T2V, "client_token": "x" * 300, "image_from": "not-a-number"}
        )
    assert response.status_code == 302
    assert Generation.objects.get().client_token == "x" * 64
