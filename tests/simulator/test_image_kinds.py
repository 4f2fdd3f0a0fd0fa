"""The image kinds beyond text to image (Kling's `images/...` endpoints other than
`generations`): each through the page, the simulator and back, its exact create body, the
rules refused before any charge, its prices, and the simulator's own checks."""

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from generations import follow, pricing
from generations.models import Generation, Kind, Price, Status
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
