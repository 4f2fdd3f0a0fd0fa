"""The image kinds beyond text to image (Kling's `images/...` endpoints other than
`generations`): each through the page, the simulator and back, its exact create body, the
rules refused before any charge, its prices, and the simulator's own checks."""

import base64
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, pricing
from generations.models import Generation, Kind, Price, Status
from generations.providers import get_provider
from generations.providers.kling import legacy_body
from generations.simulator.models import SimTask
from tests.simulator.pipeline import assert_ended_right, created, drive, png, post_page

MULTI = "/_sim/kling/v1/images/multi-image2image"


@pytest.fixture
def pipeline(funded_pipeline):
    return funded_pipeline


def _picture(name: str, width: int = 800, height: int = 450) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(width, height), content_type="image/png")


def _png_b64(width: int = 400, height: int = 400) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 20, 20)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _default_rows(kind: str) -> dict:
    return {
        (r["model_name"], r["mode"]): r["credits"] for r in pricing.default_price_rows() if r["kind"] == kind
    }


def _run(pipeline, commit, generation: Generation, by_callbacks: bool) -> None:
    if by_callbacks:
        pipeline.finish()
        with commit(execute=True):
            pipeline.deliver_callbacks()
    else:
        drive(pipeline, commit, generation, callbacks=False)


# --- multi-image to image -----------------------------------------------------------------


def multi_form(subjects: int = 2, **changes) -> dict:
    data = {
        "model_name": "kling-v2-1",
        "prompt": "The two of them sharing a picnic by a lake",
        "n": "2",
        "aspect_ratio": "3:2",
        "subject_image_list": [_picture(f"s{i}.png") for i in range(subjects)],
        "scene_image": _picture("lake.png"),
        "client_token": f"multi-{subjects}-{sorted(changes, key=str)}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_prices_multi_image_to_image_at_16_units_a_picture():
    rows = _default_rows(Kind.MULTI_IMAGE2IMAGE)
    assert rows == {("kling-v2-1", ""): 4, ("kling-v2", ""): 4}  # 16 image units = 4 credits
    assert Price.objects.filter(kind=Kind.MULTI_IMAGE2IMAGE).count() == 2  # seeded by migration
    quote = pricing.quote(Kind.MULTI_IMAGE2IMAGE, {"model_name": "kling-v2-1", "n": 3})
    assert (quote.credits, quote.count) == (12, 3)


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_multi_image_to_image_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = created(
        post_page(alice_client, django_capture_on_commit_callbacks, "multi-image-to-image", multi_form(2))
    )
    assert generation.cost == 8 and generation.slot_count == 2
    assert ledger.balance_of(alice) == 1992
    body = legacy_body(follow.build_request(generation))
    assert set(body) == {
        "model_name",
        "prompt",
        "n",
        "aspect_ratio",
        "subject_image_list",
        "scene_image",
        "external_task_id",
        "callback_url",
    }
    assert (body["model_name"], body["n"], body["aspect_ratio"]) == ("kling-v2-1", 2, "3:2")
    assert [set(item) for item in body["subject_image_list"]] == [{"subject_image"}] * 2
    assert base64.b64decode(body["scene_image"]).startswith(b"\x89PNG")
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.n) == ("images/multi-image2image", 2)
    _run(pipeline, django_capture_on_commit_callbacks, generation, by_callbacks)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=2)
    task.refresh_from_db()
    assert task.units == 32
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "Subject 2" in page and "Scene" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"subject_image_list": []}, "subject_image_list", "Upload at least one subject picture."),
        (
            {"subject_image_list": [_picture(f"s{i}.png") for i in range(5)]},
            "subject_image_list",
            "Give at most 4 subject pictures; you gave 5.",
        ),
        (
            {"subject_image_list": [_picture("ok.png"), _picture("tiny.png", 200, 200)]},
            "subject_image_list",
            "Picture 2 (tiny.png)",
        ),
        ({"style_image": _picture("thin.png", 1200, 300)}, "style_image", "too wide"),
        ({"n": "10"}, "n", "Select a valid choice"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio", "Select a valid choice"),
        ({"prompt": ""}, "prompt", "This field is required"),
    ],
)
def test_it_refuses_bad_multi_image_input_before_charging(
    changes, field, message, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = post_page(
        alice_client, django_capture_on_commit_callbacks, "multi-image-to-image", multi_form(1, **changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert ledger.balance_of(alice) == 2000 and not Generation.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "Two friends"}, "subject_image_list is required"),
        (
            {"prompt": "Two friends", "subject_image_list": [{"image": "x"}]},
            "subject_image_list[0].subject_image",
        ),
        ({"prompt": "Two friends", "subject_image_list": [{"subject_image": "x"}] * 5}, "at most 4 items"),
        (
            {"prompt": "Two", "subject_image_list": [{"subject_image": "https://a.b/c.png"}], "n": 10},
            "n must be",
        ),
        (
            {
                "prompt": "Two",
                "subject_image_list": [{"subject_image": "https://a.b/c.png"}],
                "model_name": "kling-v3",
            },
            "not found",
        ),
    ],
)
def test_the_simulator_answers_bad_multi_image_fields(post, body, message):
    status, answer = post(MULTI, body)
    assert (status, answer["code"]) in ((400, 1201), (404, 1203)), answer
    assert message in answer["message"]


def test_the_simulator_makes_n_pictures_from_subjects(post):
    status, answer = post(
        MULTI, {"prompt": "Two", "n": 3, "subject_image_list": [{"subject_image": _png_b64()}]}
    )
    assert (status, answer["code"]) == (200, 0), answer
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert (task.model_name, task.n, task.slots) == ("kling-v2", 3, 3)


# --- omni image -----------------------------------------------------------------------------

OMNI_IMAGE = "/_sim/kling/v1/images/omni-image"


def omni_image_form(count: int = 2, **changes) -> dict:
    data = {
        "model_name": "kling-v3-omni",
        "prompt": "<<<image_1>>> wearing the hat from <<<image_2>>>, studio light",
        "result_type": "single",
        "n": "1",
        "aspect_ratio": "auto",
        "resolution": "2k",
        "image_list": [_picture(f"r{i}.png") for i in range(count)],
        "client_token": f"omni-image-{count}-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_prices_omni_image_per_picture_and_4k_double():
    assert _default_rows(Kind.OMNI_IMAGE) == {
        ("kling-image-o1", ""): 2,  # 8 image units
        ("kling-v3-omni", ""): 2,
        ("kling-v3-omni", "4k"): 4,  # 16 image units
    }
    assert Price.objects.filter(kind=Kind.OMNI_IMAGE).count() == 3  # seeded by migration
    four_k = {"model_name": "kling-v3-omni", "n": 3, "resolution": "4k"}
    assert pricing.quote(Kind.OMNI_IMAGE, four_k).credits == 12
    assert pricing.quote(Kind.OMNI_IMAGE, {**four_k, "resolution": "2k"}).credits == 6


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_an_omni_image_series_and_shows_it_as_a_strip(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    form = omni_image_form(2, result_type="series", series_amount="4", resolution="4k")
    del form["n"]
    generation = created(post_page(alice_client, django_capture_on_commit_callbacks, "omni-image", form))
    assert generation.cost == 16 and generation.slot_count == 4  # 4 pictures at 4K
    body = legacy_body(follow.build_request(generation))
    assert {
        k: body[k] for k in ("model_name", "n", "result_type", "series_amount", "resolution", "aspect_ratio")
    } == {
        "model_name": "kling-v3-omni",
        "n": 1,
        "result_type": "series",
        "series_amount": 4,
        "resolution": "4k",
        "aspect_ratio": "auto",
    }
    assert [set(item) for item in body["image_list"]] == [{"image"}] * 2
    assert "negative_prompt" not in body
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.n, task.resolution) == ("images/omni-image", 4, "4k")
    _run(pipeline, django_capture_on_commit_callbacks, generation, by_callbacks)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=4)
    task.refresh_from_db()
    assert task.units == 64
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert 'class="series-strip"' in page and "A series of 4 pictures" in page
    assert "image_1" in page and "image_2" in page


def test_an_auto_series_is_charged_for_nine_and_gives_back_what_kling_did_not_make(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    # Kling's series_amount "auto" lets it decide how many (the simulator makes 3): the
    # price is not known before the charge, so the most a series may have (9) is charged.
    form = omni_image_form(1, prompt="<<<image_1>>> through the seasons", result_type="series")
    form["series_amount"] = "auto"
    del form["n"]
    generation = created(post_page(alice_client, django_capture_on_commit_callbacks, "omni-image", form))
    assert generation.cost == 18 and generation.slot_count == 9  # 9 pictures at 2 credits
    body = legacy_body(follow.build_request(generation))
    assert (body["result_type"], body["series_amount"], body["n"]) == ("series", "auto", 1)
    assert ledger.balance_of(alice) == 2000 - 18
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.assets.count() == 3
    refund = LedgerEntry.objects.get(generation=generation, kind=LedgerEntry.Kind.REFUND)
    assert (refund.amount, refund.idempotency_key) == (12, f"gen:{generation.pk}:unmade")
    assert ledger.balance_of(alice) == 2000 - 6
    assert generation.refunded_credits == generation.unmade_credits == 12
    # Polled again, or a late callback: the refund is not given twice.
    follow.apply_task(generation, get_provider().get(generation.product, generation.task_id))
    assert LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.REFUND).count() == 1
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "A series of 3 pictures" in page and "As many as Kling chose" in page
    assert "12 credits given back for the pictures Kling did not make" in page


def test_the_omni_image_page_prices_an_auto_series_as_nine(pipeline, alice_client):
    page = alice_client.get(
        "/generate/omni-image/options/",
        {"model_name": "kling-v3-omni", "result_type": "series", "series_amount": "auto", "resolution": "1k"},
    ).content.decode()
    assert '<option value="auto" selected>As many as Kling chooses</option>' in page
    assert "18 credits" in page


def test_it_makes_single_omni_images_at_2k(pipeline, alice, alice_client, django_capture_on_commit_callbacks):
    form = omni_image_form(1, prompt="A teapot like <<<image_1>>> in the snow", n="3")
    generation = created(post_page(alice_client, django_capture_on_commit_callbacks, "omni-image", form))
    assert generation.cost == 6
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=3)
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert 'class="gallery-grid" id="result-images"' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt": "<<<image_3>>> on a boat"}, "image_list", "refers to <<<image_3>>> but only 2"),
        ({"image_list": [], "prompt": "<<<image_1>>> waves"}, "prompt", "no reference pictures were given"),
        (
            {"image_list": [_picture(f"r{i}.png") for i in range(11)]},
            "image_list",
            "Give at most 10 reference pictures; you gave 11.",
        ),
        ({"model_name": "kling-image-o1", "resolution": "4k"}, "resolution", "Select a valid choice"),
        ({"result_type": "series", "series_amount": "10"}, "series_amount", "Select a valid choice"),
        ({"result_type": "film"}, "result_type", "Select a valid choice"),
        ({"prompt": "A <<<video_1>>> remake"}, "prompt", "refers to a video this page does not take"),
    ],
)
def test_it_refuses_bad_omni_image_input_before_charging(
    changes, field, message, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = post_page(
        alice_client, django_capture_on_commit_callbacks, "omni-image", omni_image_form(2, **changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert ledger.balance_of(alice) == 2000 and not Generation.objects.exists()


@pytest.mark.django_db
def test_the_omni_image_rules_hold_without_the_form():
    from generations import capabilities

    base = {
        "model_name": "kling-v3-omni",
        "prompt": "A cat",
        "n": 4,
        "aspect_ratio": "1:1",
        "resolution": "1k",
    }
    assert capabilities.validate(Kind.OMNI_IMAGE, base) == {}
    series = {**base, "result_type": "series", "series_amount": 4, "requested_n": 2}
    auto = {**series, "series_amount": "auto", "requested_n": 1}
    assert capabilities.validate(Kind.OMNI_IMAGE, auto) == {}
    assert capabilities.series_pictures_charged("kling-v3-omni", "auto") == 9
    assert capabilities.validate(Kind.OMNI_IMAGE, series) == {"n": "A series is made one at a time."}
    assert "series_amount" in capabilities.validate(Kind.OMNI_IMAGE, {**series, "series_amount": 1})
    too_many = {**base, "image_list": 7, "element_list": 4}
    assert (
        "10 reference pictures and subjects in all"
        in capabilities.validate(Kind.OMNI_IMAGE, too_many)["image_list"]
    )
    four_k = {**base, "model_name": "kling-image-o1", "resolution": "4k"}
    assert capabilities.validate(Kind.OMNI_IMAGE, four_k) == {
        "resolution": "Kling Image O1 renders at 1K or 2K."
    }


def test_the_omni_image_page_offers_the_series_count_only_for_a_series(pipeline, alice_client):
    single = alice_client.get("/generate/omni-image/").content.decode()
    assert 'name="n"' in single and 'name="series_amount"' not in single
    assert 'data-tokens-for="id_image_list"' in single
    series = alice_client.get(
        "/generate/omni-image/options/", {"model_name": "kling-v3-omni", "result_type": "series"}
    )
    text = series.content.decode()
    assert 'name="series_amount"' in text and 'name="n"' not in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "A cat", "resolution": "4k"}, "resolution 4k is not supported by kling-image-o1"),
        ({"prompt": "A cat", "result_type": "series", "series_amount": 12}, "series_amount must be"),
        ({"prompt": "A cat", "series_amount": 3}, "only for result_type series"),
        ({"prompt": "<<<image_2>>>", "image_list": [{"image": "https://a.b/c.png"}]}, "<<<image_2>>> refers"),
        ({"prompt": "A cat", "image_list": [{"image": "https://a.b/c.png"}] * 11}, "at most 10 items"),
        ({"prompt": "A cat", "aspect_ratio": "5:4"}, "aspect_ratio must be one of"),
    ],
)
def test_the_simulator_answers_bad_omni_image_fields(post, body, message):
    status, answer = post(OMNI_IMAGE, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_makes_an_auto_series(post):
    status, answer = post(
        OMNI_IMAGE,
        {"model_name": "kling-v3-omni", "prompt": "A day", "result_type": "series", "series_amount": "auto"},
    )
    assert (status, answer["code"]) == (200, 0), answer
    assert SimTask.objects.get(task_id=answer["data"]["task_id"]).n == 3


# --- virtual try-on -------------------------------------------------------------------------

TRY_ON = "/_sim/kling/v1/images/kolors-virtual-try-on"


def try_on_form(**changes) -> dict:
    data = {
        "model_name": "kolors-virtual-try-on-v1-5",
        "human_image": _picture("me.png", 450, 800),
        "cloth_image": _picture("shirt.png", 600, 600),
        "garment_type": "upper",
        "client_token": f"try-on-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_prices_a_try_on_at_20_units():
    assert _default_rows(Kind.VIRTUAL_TRY_ON) == {
        ("kolors-virtual-try-on-v1", ""): 5,
        ("kolors-virtual-try-on-v1-5", ""): 5,
    }
    assert Price.objects.filter(kind=Kind.VIRTUAL_TRY_ON).count() == 2  # seeded by migration


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_a_virtual_try_on_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    form = try_on_form(garment_type="upper_lower")
    generation = created(post_page(alice_client, django_capture_on_commit_callbacks, "virtual-try-on", form))
    assert generation.cost == 5 and generation.prompt == ""
    body = legacy_body(follow.build_request(generation))
    assert set(body) == {"model_name", "human_image", "cloth_image", "external_task_id", "callback_url"}
    assert body["model_name"] == "kolors-virtual-try-on-v1-5"
    assert all(base64.b64decode(body[name]).startswith(b"\x89PNG") for name in ("human_image", "cloth_image"))
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.n) == ("images/kolors-virtual-try-on", 1)
    _run(pipeline, django_capture_on_commit_callbacks, generation, by_callbacks)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=1)
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "Person" in page and "Garment" in page
    # The garment kind chosen is kept (Kling has no field for it, so it is never sent) and shown.
    assert generation.params["garment_type"] == "upper_lower"
    assert '<th scope="row">Garment</th><td>Top and bottom together, in one picture</td>' in page
    remix = alice_client.get(generation.remix_url).content.decode()
    assert 'value="upper_lower" required id="id_garment_type_3" checked>' in remix


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"model_name": "kolors-virtual-try-on-v1", "garment_type": "upper_lower"},
            "garment_type",
            "Kolors try-on 1.0 does not dress a person in top and bottom together, in one picture; "
            "choose Kolors try-on 1.5.",
        ),
        ({"garment_type": "shoes"}, "garment_type", "Select a valid choice"),
        ({"human_image": ""}, "human_image", "Upload a photo of the person to dress."),
        ({"cloth_image": ""}, "cloth_image", "Upload a photo of the garment."),
        ({"cloth_image": _picture("tiny.png", 200, 200)}, "cloth_image", "each side needs at least 300 px"),
    ],
)
def test_it_refuses_a_bad_try_on_before_charging(
    changes, field, message, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = post_page(
        alice_client, django_capture_on_commit_callbacks, "virtual-try-on", try_on_form(**changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert ledger.balance_of(alice) == 2000 and not Generation.objects.exists()


def test_the_try_on_page_explains_the_garment_rules(pipeline, alice_client):
    page = alice_client.get("/generate/virtual-try-on/").content.decode()
    assert 'id="garment-rules"' in page and "plain (ideally white) background" in page
    assert 'name="prompt"' not in page and 'value="upper_lower"' in page


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cloth_image": "https://a.b/c.png"}, "human_image is required"),
        ({"human_image": "https://a.b/c.png"}, "cloth_image is required"),
        ({"human_image": "data:image/png;base64,AAAA", "cloth_image": "https://a.b/c.png"}, "data: prefix"),
    ],
)
def test_the_simulator_answers_bad_try_on_fields(post, body, message):
    status, answer = post(TRY_ON, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


# --- expand (outpainting) -------------------------------------------------------------------

EXPAND = "/_sim/kling/v1/images/editing/expand"


def expand_form(**changes) -> dict:
    data = {
        "model_name": "kling-expand",
        "image": _picture("beach.png", 800, 600),
        "up_expansion_ratio": "0",
        "down_expansion_ratio": "0.25",
        "left_expansion_ratio": "0.5",
        "right_expansion_ratio": "0.5",
        "prompt": "More of the beach, with palm trees",
        "n": "2",
        "client_token": f"expand-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_prices_an_expanded_picture_at_8_units():
    assert _default_rows(Kind.EXPAND_IMAGE) == {("kling-expand", ""): 2}
    assert Price.objects.filter(kind=Kind.EXPAND_IMAGE).count() == 1  # seeded by migration


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_expands_a_picture_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = created(
        post_page(alice_client, django_capture_on_commit_callbacks, "expand-image", expand_form())
    )
    assert generation.cost == 4 and generation.slot_count == 2
    body = legacy_body(follow.build_request(generation))
    assert set(body) == {
        "prompt",
        "n",
        "image",
        "up_expansion_ratio",
        "down_expansion_ratio",
        "left_expansion_ratio",
        "right_expansion_ratio",
        "external_task_id",
        "callback_url",
    }
    assert (body["up_expansion_ratio"], body["down_expansion_ratio"], body["left_expansion_ratio"]) == (
        0.0,
        0.25,
        0.5,
    )
    assert base64.b64decode(body["image"]).startswith(b"\x89PNG")
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.model_name, task.n) == ("images/editing/expand", "", 2)
    _run(pipeline, django_capture_on_commit_callbacks, generation, by_callbacks)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=2)
    task.refresh_from_db()
    assert task.units == 16


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"left_expansion_ratio": "2.5"}, "left_expansion_ratio", "less than or equal to 2"),
        ({"up_expansion_ratio": "-0.1"}, "up_expansion_ratio", "greater than or equal to 0"),
        (
            {"up_expansion_ratio": "1", "down_expansion_ratio": "1", "left_expansion_ratio": "0.5"},
            "__all__",
            "These sides add 5.00 times the picture's area; Kling adds at most 3 times.",
        ),
        (
            {"down_expansion_ratio": "0", "left_expansion_ratio": "0", "right_expansion_ratio": "0"},
            "__all__",
            "Extend at least one side.",
        ),
        ({"image": ""}, "image", "Upload the picture to expand."),
        ({"image": _picture("thin.png", 1500, 400)}, "image", "too wide"),
    ],
)
def test_it_refuses_a_bad_expansion_before_charging(
    changes, field, message, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = post_page(
        alice_client, django_capture_on_commit_callbacks, "expand-image", expand_form(**changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert ledger.balance_of(alice) == 2000 and not Generation.objects.exists()


@pytest.mark.django_db
def test_the_expansion_limit_is_three_times_the_new_area():
    from generations import capabilities

    base = {"model_name": "kling-expand", "image": True, "n": 1}
    at_limit = {
        "up_expansion_ratio": 0.5,
        "down_expansion_ratio": 0.5,
        "left_expansion_ratio": 0.5,
        "right_expansion_ratio": 0.5,
    }
    assert capabilities.expanded_area(0.5, 0.5, 0.5, 0.5) == 3
    assert capabilities.validate(Kind.EXPAND_IMAGE, {**base, **at_limit}) == {}
    over = {**at_limit, "right_expansion_ratio": 0.51}
    assert "expansion" in capabilities.validate(Kind.EXPAND_IMAGE, {**base, **over})
    assert (
        capabilities.validate(Kind.EXPAND_IMAGE, {**base, **at_limit, "right_expansion_ratio": 3})[
            "right_expansion_ratio"
        ]
        == "Extend each side by 0 to 2 times the picture."
    )


def test_the_expand_page_has_the_canvas_and_number_fallbacks(pipeline, alice_client):
    page = alice_client.get("/generate/expand-image/").content.decode()
    assert 'id="expand-canvas"' in page and "js/expand.js" in page
    for side in ("up", "down", "left", "right"):
        assert f'id="id_{side}_expansion_ratio"' in page and f'data-expand-side="{side}"' in page
    assert 'name="aspect_ratio"' not in page and 'name="negative_prompt"' not in page


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "up_expansion_ratio": 0,
                "down_expansion_ratio": 0,
                "left_expansion_ratio": 1,
                "right_expansion_ratio": 1,
            },
            "image is required",
        ),
        (
            {
                "image": "https://a.b/c.png",
                "down_expansion_ratio": 0,
                "left_expansion_ratio": 1,
                "right_expansion_ratio": 1,
            },
            "up_expansion_ratio is required",
        ),
        (
            {
                "image": "https://a.b/c.png",
                "up_expansion_ratio": 3,
                "down_expansion_ratio": 0,
                "left_expansion_ratio": 0,
                "right_expansion_ratio": 0,
            },
            "must be a number in [0, 2]",
        ),
        (
            {
                "image": "https://a.b/c.png",
                "up_expansion_ratio": 1,
                "down_expansion_ratio": 1,
                "left_expansion_ratio": 1,
                "right_expansion_ratio": 0,
            },
            "must not exceed 3 times",
        ),
    ],
)
def test_the_simulator_answers_bad_expand_fields(post, body, message):
    status, answer = post(EXPAND, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


# --- text to image: the rest of Kling's table -----------------------------------------------


def t2i_form(**changes) -> dict:
    data = {
        "model_name": "kling-v2-1",
        "prompt": "The same woman as a 1920s aviator",
        "n": "1",
        "aspect_ratio": "3:4",
        "resolution": "1k",
        "image": _picture("face.png", 600, 800),
        "image_reference": "subject",
        "image_fidelity": "0.6",
        "human_fidelity": "0.8",
        "client_token": f"t2i-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


def test_it_sends_human_fidelity_with_a_subject_reference(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = created(
        post_page(alice_client, django_capture_on_commit_callbacks, "text-to-image", t2i_form())
    )
    body = legacy_body(follow.build_request(generation))
    assert (body["image_reference"], body["image_fidelity"], body["human_fidelity"]) == ("subject", 0.6, 0.8)
    assert base64.b64decode(body["image"]).startswith(b"\x89PNG")
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED, images=1)
    assert "Face likeness" in alice_client.get(generation.get_absolute_url()).content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"image_reference": "face"}, "human_fidelity", "only with a reference image whose subject is kept"),
        ({"image": "", "image_reference": ""}, "human_fidelity", "only with a reference image"),
        ({"human_fidelity": "1.5"}, "human_fidelity", "less than or equal to 1"),
        ({"resolution": "2k"}, "resolution", "With a reference image, Kling 2.1 renders at 1K."),
    ],
)
def test_it_refuses_text_to_image_options_outside_klings_table(
    changes, field, message, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = post_page(
        alice_client, django_capture_on_commit_callbacks, "text-to-image", t2i_form(**changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert ledger.balance_of(alice) == 2000 and not Generation.objects.exists()


@pytest.mark.django_db
def test_the_text_to_image_form_covers_klings_table():
    from generations import capabilities
    from generations.forms import TextToImageForm

    fields = set(TextToImageForm(initial={"model_name": "kling-v2-1"}).fields)
    table = {"model_name", "prompt", "negative_prompt", "image", "image_reference", "image_fidelity"}
    assert table | {"human_fidelity", "resolution", "n", "aspect_ratio"} <= fields
    # 2K where the model has it; no face likeness without a subject reference to keep.
    v3 = TextToImageForm(initial={"model_name": "kling-v3"})
    assert [c for c, _ in v3.fields["resolution"].choices] == ["1k", "2k"]
    assert "human_fidelity" not in v3.fields
    assert "resolution" not in TextToImageForm(initial={"model_name": "kling-v1-5"}).fields
    base = {"prompt": "A cat", "n": 1, "aspect_ratio": "1:1"}
    assert capabilities.validate(Kind.TEXT2IMAGE, {**base, "model_name": "kling-v1-5", "resolution": "2k"})
    # Saved subjects (element_list) on kling-v3 only.
    assert capabilities.validate(Kind.TEXT2IMAGE, {**base, "model_name": "kling-v3", "element_list": 2}) == {}
    assert "element_list" in capabilities.validate(
        Kind.TEXT2IMAGE, {**base, "model_name": "kling-v2-1", "element_list": 1}
    )


# --- the REST API ----------------------------------------------------------------------------


def test_it_offers_and_makes_the_image_kinds_over_the_api(pipeline, alice, monkeypatch):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from accounts import api_keys
    from outbound_webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "subscribe", lambda generation, url: None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_keys.create_key(alice, 'images')[1]}")
    kinds = {k["kind"]: k for k in api.get(reverse("api:models")).json()["kinds"]}
    for kind, fields in (
        ("multi_image2image", {"subject_image_list", "scene_image", "style_image", "n", "aspect_ratio"}),
        ("omni_image", {"image_list", "result_type", "resolution"}),
        ("virtual_try_on", {"human_image", "cloth_image", "garment_type"}),
        ("expand_image", {"image", "up_expansion_ratio", "right_expansion_ratio", "n"}),
    ):
        assert fields <= set(kinds[kind]["request_fields"]), (kind, kinds[kind]["request_fields"])
    picture = base64.b64encode(png()).decode()
    body = {
        "kind": "expand_image",
        "image": picture,
        "up_expansion_ratio": 0.5,
        "down_expansion_ratio": 0.5,
        "left_expansion_ratio": 0.5,
        "right_expansion_ratio": 0.5,
        "n": 1,
    }
    response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.json()
    assert Generation.objects.get(pk=response.json()["id"]).cost == 2
    over = api.post(reverse("api:generations"), {**body, "right_expansion_ratio": 0.6}, format="json")
    assert over.status_code == 400 and "at most 3 times" in json.dumps(over.json()), over.json()
    try_on = {
        "kind": "virtual_try_on",
        "human_image": picture,
        "cloth_image": picture,
        "garment_type": "dress",
    }
    response = api.post(reverse("api:generations"), try_on, format="json")
    assert response.status_code == 201, response.json()
    assert ledger.balance_of(alice) == 2000 - 2 - 5
