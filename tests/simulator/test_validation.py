"""The simulator rejects what Kling rejects, with Kling's codes."""

import base64
import io

import pytest
from PIL import Image

T2V = "/_sim/kling/v1/videos/text2video"
I2V = "/_sim/kling/v1/videos/image2video"
IMAGES = "/_sim/kling/v1/images/generations"
OK_T2V = {"model_name": "kling-v2-6", "prompt": "a calm lake"}


def _png_b64(width=640, height=360) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize(
    ("path", "changes", "status", "code"),
    [
        (T2V, {"mode": "standard"}, 400, 1201),
        (T2V, {"mode": "4k"}, 400, 1201),
        (T2V, {"duration": 5}, 400, 1201),
        (T2V, {"duration": "7"}, 400, 1201),
        (T2V, {"aspect_ratio": "4:3"}, 400, 1201),
        (T2V, {"sound": "yes"}, 400, 1201),
        (T2V, {"sound": "on", "mode": "std"}, 400, 1201),
        (T2V, {"model_name": "kling-v2-5-turbo", "sound": "on", "mode": "pro"}, 400, 1201),
        (T2V, {"prompt": "x" * 2501}, 400, 1201),
        (T2V, {"negative_prompt": "x" * 2501}, 400, 1201),
        (T2V, {"prompt": ""}, 400, 1201),
        (T2V, {"cfg_scale": 1.5}, 400, 1201),
        (T2V, {"camera_control": {"type": "simple", "config": {"zoom": 5, "pan": 2}}}, 400, 1201),
        (T2V, {"camera_control": {"type": "simple", "config": {"zoom": 0}}}, 400, 1201),
        (T2V, {"camera_control": {"type": "simple", "config": {"zoom": 12}}}, 400, 1201),
        (T2V, {"camera_control": {"type": "down_back", "config": {"zoom": 5}}}, 400, 1201),
        (T2V, {"camera_control": {"type": "orbit"}}, 400, 1201),
        (T2V, {"callback_url": "ftp://x"}, 400, 1201),
        (T2V, {"watermark_info": {"enabled": "yes"}}, 400, 1201),
        (T2V, {"model_name": "kling-v9"}, 404, 1203),
        (T2V, {"model_name": "kling-v1-5"}, 404, 1203),  # image-to-video only
        (T2V, {"model_name": "kling-v1"}, 404, 1203),  # discontinued
        (T2V, {"prompt": "a [sim:refuse] prompt"}, 400, 1301),
        (I2V, {"image": ""}, 400, 1201),
        (I2V, {"image": "data:image/png;base64,iVBORw0KGgo="}, 400, 1201),
        (I2V, {"image": "not base64 at all!"}, 400, 1201),
        (I2V, {"image": base64.b64encode(b"GIF89a....").decode()}, 400, 1201),
        (IMAGES, {"n": 10}, 400, 1201),
        (IMAGES, {"n": "2"}, 400, 1201),
        (IMAGES, {"aspect_ratio": "5:4"}, 400, 1201),
        (IMAGES, {"model_name": "kling-v1-5", "resolution": "2k"}, 400, 1201),
    ],
)
def test_it_rejects_bad_parameters(post, path, changes, status, code):
    body = {**OK_T2V, "model_name": "kling-v3" if path == IMAGES else OK_T2V["model_name"], **changes}
    answer_status, answer = post(path, body)
    assert (answer_status, answer["code"]) == (status, code)
    assert "data" not in answer
    assert answer["message"]


def test_it_names_a_discontinued_model_like_kling(post):
    _status, answer = post(T2V, {"model_name": "kling-v1", "prompt": "p"})
    assert answer["message"] == "The model 'kling-v1' has been discontinued and is no longer available."


def test_it_ignores_the_model_alias_and_falls_back_to_the_default_model(post):
    # `model` is not a Kling field: the default (discontinued kling-v1) is what Kling would run.
    status, answer = post(T2V, {"model": "kling-v3", "prompt": "p"})
    assert (status, answer["code"]) == (404, 1203)


def test_it_rejects_a_body_that_is_not_json(sim, client, auth):
    response = client.post(T2V, "{not json", content_type="application/json", headers=auth)
    assert (response.status_code, response.json()["code"]) == (400, 1200)


def test_it_rejects_a_reused_external_task_id(post):
    assert post(T2V, {**OK_T2V, "external_task_id": "same"})[1]["code"] == 0
    status, answer = post(T2V, {**OK_T2V, "external_task_id": "same"})
    assert (status, answer["code"]) == (400, 1201)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (T2V, {"model_name": "kling-v3", "prompt": "p", "duration": "15", "mode": "4k", "sound": "on"}),
        (T2V, {"model_name": "kling-v3", "prompt": "p", "duration": "3"}),
        (
            T2V,
            {
                **OK_T2V,
                "camera_control": {
                    "type": "simple",
                    "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": -3.5},
                },
            },
        ),
        (T2V, {**OK_T2V, "camera_control": {"type": "forward_up"}}),
        (
            T2V,
            {
                **OK_T2V,
                "mode": "pro",
                "sound": "on",
                "duration": "10",
                "aspect_ratio": "9:16",
                "cfg_scale": 0.3,
            },
        ),
        (T2V, {**OK_T2V, "model": "ignored", "watermark_info": {"enabled": False}, "callback_url": ""}),
        (I2V, {"model_name": "kling-v2-1", "image": "https://example.com/frame.png", "prompt": ""}),
        (I2V, {"model_name": "kling-v2-1", "image": _png_b64(), "image_tail": _png_b64()}),
        (
            IMAGES,
            {"model_name": "kling-v3", "prompt": "p", "n": 9, "aspect_ratio": "21:9", "resolution": "2k"},
        ),
    ],
)
def test_it_accepts_what_kling_accepts(post, path, body):
    status, answer = post(path, body)
    assert (status, answer["code"], answer["message"]) == (200, 0, "SUCCEED")
    assert answer["data"]["task_status"] == "submitted"


@pytest.mark.parametrize(
    ("query", "code"),
    [("pageNum=0", 1201), ("pageSize=501", 1201), ("pageNum=x", 1201), ("pageNum=1001", 1201)],
)
def test_it_keeps_list_paging_in_range(sim, client, auth, query, code):
    response = client.get(f"{T2V}?{query}", headers=auth)
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_it_answers_unknown_paths_and_methods_with_1202(sim, client, auth):
    assert client.get("/_sim/kling/v1/videos/teleport", headers=auth).json()["code"] == 1202
    assert client.delete(T2V, headers=auth).json()["code"] == 1202
