"""Omni video (Kling's `videos/omni-video`): reference pictures with <<<image_N>>> tokens and
the multi-shot storyboard on kling-v3-omni, through the whole pipeline against the
simulator, the rules refused before any charge, and the simulator's own checks."""

import base64
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from generations import capabilities, follow, pricing, uploads
from generations.models import Generation, Kind, Price, Status
from generations.simulator.models import SimTask
from tests.simulator.pipeline import assert_ended_right, drive, png

OMNI = "/_sim/kling/v1/videos/omni-video"


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _post(client, commit, data: dict):
    with commit(execute=True):
        return client.post("/generate/omni-video/", data)


def _created(response) -> Generation:
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def omni_form(count: int = 2, **changes) -> dict:
    data = {
        "model_name": "kling-video-o1",
        "prompt": "<<<image_1>>> hands a letter to <<<image_2>>> in the rain",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "image_list": [
            SimpleUploadedFile(f"r{i}.png", png(), content_type="image/png") for i in range(count)
        ],
        "client_token": f"omni-{count}-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


SHOTS = [
    {"prompt": "Wide shot of the city at dusk", "duration": 2},
    {"prompt": "Camera pushes toward <<<image_1>>> on the balcony", "duration": 3},
]


def storyboard_form(shots=SHOTS, **changes) -> dict:
    fields = {
        "model_name": "kling-v3-omni",
        "prompt": "",
        "multi_shot": "on",
        "multi_prompt": json.dumps(shots),
    }
    return omni_form(1, **{**fields, **changes})


def _probe_seconds(generation: Generation) -> float:
    with generation.assets.get().file.open("rb") as handle:
        data = handle.read()
    info = uploads.check_video(
        SimpleUploadedFile("result.mp4", data), capabilities.VideoLimits(0, 600, min_side=1)
    )
    return info.duration


@pytest.mark.django_db
def test_it_prices_omni_video_per_second_from_klings_table():
    rows = {
        (r["model_name"], r["mode"], r["duration"]): r["credits"]
        for r in pricing.default_price_rows()
        if r["kind"] == Kind.OMNI_VIDEO
    }
    assert rows[("kling-video-o1", "std", 5)] == 30  # 0.6 units a second
    assert rows[("kling-v3-omni", "pro", 10)] == 80  # 0.8 units a second
    # With a reference or base video: 0.9 / 1.2 units a second.
    assert rows[("kling-video-o1", "std+video", 5)] == 45
    assert rows[("kling-v3-omni", "pro+video", 10)] == 120
    assert {d for (_, _, d) in rows} == set(range(3, 11))
    assert Price.objects.filter(kind=Kind.OMNI_VIDEO).count() == len(rows)  # seeded by migration


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_omni_video_with_reference_pictures_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, omni_form(2)))
    assert generation.cost == 40  # kling-video-o1 pro 5 s: 0.8 x 5 = 4 units
    assert ledger.balance_of(alice) == 1960
    request = follow.build_request(generation)
    assert len(request.params["image_list"]) == 2
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.model_name, task.duration, task.mode) == (
        "videos/omni-video",
        "kling-video-o1",
        "5",
        "pro",
    )
    if by_callbacks:
        pipeline.finish()
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.deliver_callbacks()
    else:
        drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    assert abs(_probe_seconds(generation) - 5) < 0.15
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "image_1" in page and "image_2" in page


def test_it_runs_a_multi_shot_storyboard_and_shows_its_shots(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, storyboard_form()))
    assert generation.params["multi_shot"] is True
    assert generation.params["shot_type"] == "customize"
    assert generation.params["multi_prompt"] == [
        {"index": 1, "prompt": "Wide shot of the city at dusk", "duration": "2"},
        {"index": 2, "prompt": "Camera pushes toward <<<image_1>>> on the balcony", "duration": "3"},
    ]
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert 'id="storyboard-shots"' in page and "Wide shot of the city at dusk" in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (omni_form(8), "at most 7 reference pictures"),
        (omni_form(1), "refers to &lt;&lt;&lt;image_2&gt;&gt;&gt; but only 1 reference picture was given"),
        (omni_form(0), "refers to &lt;&lt;&lt;image_1&gt;&gt;&gt;, &lt;&lt;&lt;image_2&gt;&gt;&gt; but no"),
        (
            omni_form(2, prompt="Follow <<<video_1>>>"),
            "refers to &lt;&lt;&lt;video_1&gt;&gt;&gt; but no reference video was given",
        ),
        (omni_form(2, prompt=""), "Describe what you want to see"),
        (omni_form(2, duration="11"), "Select a valid choice"),
        (storyboard_form([{"prompt": "One shot", "duration": 5}]), "A storyboard has 2 to 6 shots"),
        (
            storyboard_form([{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 2}]),
            "The shots last 4 s in all; they must add up to the clip&#x27;s 5 s",
        ),
        (
            storyboard_form([{"prompt": "a", "duration": 2}, {"prompt": " ", "duration": 3}]),
            "Shot 2 needs a prompt",
        ),
        (
            storyboard_form([{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": "x"}]),
            "Shot 2 needs a length",
        ),
        (storyboard_form(multi_prompt="[not json"), "The shots could not be read"),
        # The page hides the storyboard on Kling O1; one sent anyway is refused, not dropped.
        (
            storyboard_form(model_name="kling-video-o1"),
            "Kling O1 does not make multi-shot videos; choose Kling 3.0 Omni.",
        ),
        (
            storyboard_form([{"prompt": "a", "duration": 2}, {"prompt": "<<<image_3>>>", "duration": 3}]),
            "&lt;&lt;&lt;image_3&gt;&gt;&gt; but only 1",
        ),
    ],
)
def test_it_refuses_bad_omni_input_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, form, message
):
    response = _post(alice_client, django_capture_on_commit_callbacks, form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000


def test_it_refuses_a_storyboard_on_a_model_without_multi_shot():
    errors = capabilities.validate(
        Kind.OMNI_VIDEO,
        {
            "model_name": "kling-video-o1",
            "prompt": "",
            "mode": "pro",
            "duration": 5,
            "aspect_ratio": "16:9",
            "multi_shot": True,
            "multi_prompt": SHOTS,
            "image_list": 1,
        },
    )
    assert errors == {"multi_shot": "Kling O1 does not make multi-shot videos; choose Kling 3.0 Omni."}


def test_it_offers_the_storyboard_only_with_kling_3_omni(pipeline, alice_client):
    page = alice_client.get("/generate/omni-video/").content.decode()
    assert 'id="storyboard"' in page and 'id="reference-tokens"' in page
    # Both parts carry the models that take them, for the page's script to hide them on others.
    assert 'name="multi_shot" data-models="kling-v3-omni"' in page
    assert 'data-models="kling-v3-omni">' in page  # the storyboard, shown for kling-v3-omni
    options = alice_client.get("/generate/omni-video/options/", {"model_name": "kling-video-o1"})
    assert "Storyboards (several shots): Kling 3.0 Omni." in options.content.decode()


def test_it_keeps_the_omni_inputs_to_their_owner(
    pipeline, alice_client, bob, django_capture_on_commit_callbacks
):
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, omni_form(1, prompt="A kite"))
    )
    given = generation.inputs.get()
    url = given.get_absolute_url()
    assert alice_client.get(url).status_code == 200
    alice_client.force_login(bob)
    assert alice_client.get(url).status_code == 404
    assert alice_client.get(generation.get_absolute_url()).status_code == 404


# --- the simulator's own checks -------------------------------------------------------------


def _png_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (10, 20, 30)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


OK = {
    "model_name": "kling-v3-omni",
    "prompt": "<<<image_1>>> waves",
    "image_list": [{"image_url": _png_b64()}],
}
BOARD = {
    "model_name": "kling-v3-omni",
    "duration": "5",
    "multi_shot": True,
    "shot_type": "customize",
    "multi_prompt": [
        {"index": 1, "prompt": "Wide", "duration": 2},
        {"index": 2, "prompt": "Close", "duration": "3"},
    ],
}


def test_the_simulator_takes_shot_durations_as_numbers_or_strings(post):
    status, answer = post(OMNI, BOARD)
    assert (status, answer["code"]) == (200, 0), answer
    assert SimTask.objects.get(task_id=answer["data"]["task_id"]).product == "videos/omni-video"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**OK, "image_list": [{"image_url": _png_b64()}] * 8}, "at most 7 items"),
        ({**OK, "image_list": [{"image": _png_b64()}]}, "image_list[0].image_url is required"),
        ({**OK, "image_list": [{"image_url": _png_b64(), "type": "middle"}]}, "first_frame or end_frame"),
        ({**OK, "prompt": "<<<image_2>>> waves"}, "<<<image_2>>> refers to an image"),
        ({**OK, "duration": 5}, 'duration must be a string such as "5"'),
        ({**OK, "duration": "11"}, "duration must be one of"),
        ({**OK, "prompt": ""}, "prompt is required"),
        ({**BOARD, "model_name": "kling-video-o1"}, "multi_shot is not supported by kling-video-o1"),
        ({**BOARD, "shot_type": "auto"}, "shot_type must be customize"),
        ({**BOARD, "multi_prompt": BOARD["multi_prompt"][:1]}, "multi_prompt must have 2 to 6 items"),
        ({**BOARD, "duration": "6"}, "add up to 5, not duration 6"),
        (
            {**BOARD, "multi_prompt": [{**BOARD["multi_prompt"][0], "index": 3}, BOARD["multi_prompt"][1]]},
            "index must be 1",
        ),
        ({**OK, "model_name": "kling-v1-6"}, "not found"),
    ],
)
def test_the_simulator_answers_bad_omni_fields_with_1201(post, body, message):
    status, answer = post(OMNI, body)
    assert (status, answer["code"]) in ((400, 1201), (404, 1203)), answer
    assert message in answer["message"]


# --- the REST API -----------------------------------------------------------------------------


def test_it_lists_and_creates_omni_video_over_the_api(pipeline, alice, monkeypatch):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from accounts import api_keys
    from outbound_webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "subscribe", lambda generation, url: None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_keys.create_key(alice, 'omni')[1]}")
    kinds = {k["kind"]: k for k in api.get(reverse("api:models")).json()["kinds"]}
    models = {m["name"]: m for m in kinds["omni_video"]["models"]}
    assert set(models) == {"kling-v3-omni", "kling-video-o1"}
    assert models["kling-v3-omni"]["durations"] == list(range(3, 11))
    assert {"image_list", "multi_shot", "multi_prompt"} <= set(kinds["omni_video"]["request_fields"])
    body = {
        "kind": "omni_video",
        "model_name": "kling-v3-omni",
        "mode": "std",
        "duration": 5,
        "multi_shot": True,
        "multi_prompt": json.dumps(SHOTS),
        "image_list": [base64.b64encode(png()).decode()],
    }
    response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.json()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.cost == 30 and ledger.balance_of(alice) == 1970  # 0.6 units x 5 s
    assert [shot["duration"] for shot in generation.params["multi_prompt"]] == ["2", "3"]
    bad = api.post(reverse("api:generations"), {**body, "duration": 6}, format="json")
    assert bad.status_code == 400 and "multi_prompt" in bad.json()["details"], bad.json()
    assert ledger.balance_of(alice) == 1970
