"""The official client against official-format JSON (Kling's documented examples, docs/kling.md), with `responses`."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import jwt
import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError, ProtocolError

from generations import capabilities
from generations.providers import errors
from generations.providers.base import GenerationRequest, ProviderError, TaskStatus
from generations.providers.http import shared_session
from tests.providers import examples
from tests.providers.conftest import ACCESS_KEY, BASE, SECRET_KEY

T2V = f"{BASE}/v1/videos/text2video"
I2V = f"{BASE}/v1/videos/image2video"
IMAGES = f"{BASE}/v1/images/generations"


def _t2v(**params):
    base = {"model_name": "kling-v2-6", "prompt": "Ocean waves crashing on rocky shore"}
    return GenerationRequest(
        "videos/text2video",
        {**base, **params},
        external_task_id="job-42",
        callback_url="https://app.example/callbacks/kling/1/token/",
    )


def _sent(mocked, index=0):
    return json.loads(mocked.calls[index].request.body)


def test_it_sends_the_legacy_create_body_with_exact_names_and_types(kling, mocked):
    mocked.post(T2V, json=examples.CREATE_OK)
    task = kling.submit(
        _t2v(mode="pro", duration=5, aspect_ratio="16:9", sound=True, cfg_scale=0.5, negative_prompt="")
    )

    assert _sent(mocked) == {
        "model_name": "kling-v2-6",
        "prompt": "Ocean waves crashing on rocky shore",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "sound": "on",
        "cfg_scale": 0.5,
        "negative_prompt": "",
        "external_task_id": "job-42",
        "callback_url": "https://app.example/callbacks/kling/1/token/",
    }
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("Bearer ey")
    assert task.task_id == "867283741759111202"
    assert task.status == TaskStatus.SUBMITTED
    assert task.product == "videos/text2video"
    assert task.external_id == "text2video_kling_v3_final-1774805076"
    assert task.created_at == datetime(2026, 3, 29, 17, 24, 36, 166000, tzinfo=UTC)
    assert task.media == ()


def test_it_never_sends_the_model_alias_and_maps_old_mode_names(kling, mocked):
    mocked.post(T2V, json=examples.CREATE_OK)
    kling.submit(
        GenerationRequest(
            "videos/text2video",
            {"model": "kling-v3", "prompt": "p", "mode": "standard", "sound": False, "duration": 10.0},
            external_task_id="e",
        )
    )
    body = _sent(mocked)
    assert "model" not in body
    assert body["model_name"] == "kling-v3"
    assert body["mode"] == "std"
    assert body["sound"] == "off"
    assert body["duration"] == "10"
    assert "callback_url" not in body


def test_it_strips_data_uri_prefixes_from_base64_images(kling, mocked):
    mocked.post(I2V, json=examples.CREATE_OK)
    kling.submit(
        GenerationRequest(
            "videos/image2video",
            {
                "model_name": "kling-v2-1",
                "image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==",
                "image_tail": "https://example.com/last.jpg",
            },
            external_task_id="e",
        )
    )
    body = _sent(mocked)
    assert body["image"] == "iVBORw0KGgoAAAANSUhEUg=="
    assert body["image_tail"] == "https://example.com/last.jpg"


def test_it_sends_camera_control_by_kling_rules(kling, mocked):
    mocked.post(T2V, json=examples.CREATE_OK)
    kling.submit(_t2v(camera_control={"type": "simple", "config": {"zoom": 5}}))
    kling.submit(_t2v(camera_control={"type": "down_back", "config": {"zoom": 5}}))

    assert _sent(mocked, 0)["camera_control"] == {
        "type": "simple",
        "config": {"horizontal": 0.0, "vertical": 0.0, "pan": 0.0, "tilt": 0.0, "roll": 0.0, "zoom": 5.0},
    }
    assert _sent(mocked, 1)["camera_control"] == {"type": "down_back"}


@pytest.mark.parametrize(
    "choice", [*capabilities.CAMERA_PRESETS, *capabilities.CAMERA_MOVEMENTS, capabilities.CAMERA_SIMPLE]
)
def test_it_sends_every_camera_move_the_capability_table_builds_as_built(kling, mocked, choice):
    # One set of camera rules: what the form builds from the table, the client sends unchanged.
    camera = capabilities.camera_control(choice, "roll", -2.5)
    mocked.post(T2V, json=examples.CREATE_OK)
    kling.submit(_t2v(camera_control=camera))
    assert _sent(mocked)["camera_control"] == camera


@pytest.mark.parametrize(
    "camera",
    [
        {"type": "simple", "config": {"zoom": 5, "pan": 1}},
        {"type": "simple", "config": {}},
        {"type": "simple", "config": {"zoom": 11}},
        {"type": "simple"},
        {"type": "spin"},
        "simple",
    ],
)
def test_it_refuses_camera_control_kling_would_reject_before_sending(kling, mocked, camera):
    with pytest.raises(ProviderError) as caught:
        kling.submit(_t2v(camera_control=camera))
    assert caught.value.code == "invalid_request"
    assert not caught.value.retryable
    assert not caught.value.may_have_created
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("params", [{"cfg_scale": "strong"}, {"n": "many"}, {"cfg_scale": None, "n": [2]}])
def test_it_refuses_values_it_cannot_convert_before_sending(kling, mocked, params):
    with pytest.raises(ProviderError) as caught:
        kling.submit(_t2v(**params))
    assert caught.value.code == "invalid_request"
    assert len(mocked.calls) == 0


def test_it_reads_a_succeeded_video(kling, mocked):
    mocked.get(f"{T2V}/867283741759111202", json=examples.SUCCEEDED_VIDEO)
    task = kling.get("videos/text2video", "867283741759111202")

    assert task.status == TaskStatus.SUCCEEDED
    assert task.external_id == "job-42"
    assert task.units_charged == Decimal("2.5")
    assert task.updated_at == datetime(2026, 3, 29, 17, 26, 30, 12000, tzinfo=UTC)
    (video,) = task.media
    assert video.kind == "video"
    assert video.url == "https://cdn.klingai.com/bs2/upload-kling-api/v.mp4"
    assert video.duration == 5.1
    assert video.id == "v-1"


def test_it_reads_images_with_their_index(kling, mocked):
    mocked.get(f"{IMAGES}/867283741759111300", json=examples.SUCCEEDED_IMAGES)
    task = kling.get("images/generations", "867283741759111300")

    assert [(m.kind, m.index, m.url) for m in task.media] == [
        ("image", 0, "https://cdn.klingai.com/a.png"),
        ("image", 1, "https://cdn.klingai.com/b.png"),
    ]
    assert task.units_charged == Decimal("8")


def test_it_reads_the_real_failed_task_as_a_failed_task_not_an_error(kling, mocked):
    mocked.get(f"{I2V}/833446756000000000", json=examples.FAILED_TASK)
    task = kling.get("videos/image2video", "833446756000000000")

    assert task.status == TaskStatus.FAILED
    assert task.status_message == "Image pixel is invalid"
    assert task.is_terminal
    assert task.media == ()
    assert task.units_charged is None
    assert errors.failed_task_user_message(task.status_message, kind="image2video") == (
        errors.IMAGE_PROBLEM_MESSAGE
    )


def test_it_looks_a_task_up_by_external_id_in_the_path(kling, mocked):
    mocked.get(f"{T2V}/job-42", json=examples.SUCCEEDED_VIDEO)
    task = kling.find_by_external_id("videos/text2video", "job-42")
    assert task is not None
    assert task.task_id == "867283741759111202"
    assert mocked.calls[0].request.url == f"{T2V}/job-42"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"code": 1203, "message": "task not found", "request_id": "r"}),
        (400, {"code": 1201, "message": "Task not exist", "request_id": "r"}),
        (404, {"code": 1200, "message": "not found", "request_id": "r"}),
    ],
)
def test_it_answers_none_when_the_external_id_is_unknown(kling, mocked, status, body):
    mocked.get(f"{T2V}/job-404", status=status, json=body)
    assert kling.find_by_external_id("videos/text2video", "job-404") is None


def test_it_does_not_take_a_bare_html_404_for_an_absent_task(kling, mocked):
    # A misrouted proxy proves nothing about the task: the caller must not resubmit.
    mocked.get(f"{T2V}/job-42", status=404, body="<html>Not Found</html>", content_type="text/html")
    with pytest.raises(ProviderError) as caught:
        kling.find_by_external_id("videos/text2video", "job-42")
    assert caught.value.code == "bad_response"


def test_it_raises_other_errors_from_an_external_id_lookup(kling, mocked):
    mocked.get(f"{T2V}/job-42", status=429, json={"code": 1302, "message": "rate", "request_id": "r"})
    with pytest.raises(ProviderError) as caught:
        kling.find_by_external_id("videos/text2video", "job-42")
    assert caught.value.code == "rate_limited"


def test_it_lists_a_page_with_pagenum_and_pagesize(kling, mocked):
    items = [examples.SUCCEEDED_VIDEO_TASK, examples.FAILED_TASK["data"], {"task_status": "succeed"}]
    mocked.get(T2V, json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": items})
    page = kling.list_tasks("videos/text2video", page=2, page_size=500)

    assert mocked.calls[0].request.params == {"pageNum": "2", "pageSize": "500"}
    # The item without a task_id is skipped; the other two are read.
    assert [t.status for t in page.tasks] == [TaskStatus.SUCCEEDED, TaskStatus.FAILED]
    assert (page.page, page.page_size) == (2, 500)


def test_it_refuses_a_list_answer_that_is_not_an_array(kling, mocked):
    mocked.get(T2V, json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": {"task_id": "1"}})
    with pytest.raises(ProviderError) as caught:
        kling.list_tasks("videos/text2video")
    assert caught.value.code == "bad_response"


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1001, 10), (1, 0), (1, 501)])
def test_it_keeps_list_paging_inside_klings_ranges(kling, page, size):
    with pytest.raises(ValueError):
        kling.list_tasks("videos/text2video", page=page, page_size=size)


def test_it_reads_the_double_wrapped_account_costs(kling, mocked):
    mocked.get(f"{BASE}/account/costs", json=examples.ACCOUNT_COSTS)
    (pack,) = kling.account_costs()

    assert pack.name == "Trial-Video-100Units-5Con-1Months"
    assert (pack.total, pack.remaining, pack.status) == (100.0, 97.5, "online")
    assert pack.expires_at == datetime.fromtimestamp(1792530513.975, tz=UTC)
    params = mocked.calls[0].request.params
    assert int(params["end_time"]) > int(params["start_time"])


def test_it_raises_the_inner_error_of_account_costs(kling, mocked):
    mocked.get(
        f"{BASE}/account/costs",
        json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": {"code": 1201, "msg": "bad time"}},
    )
    with pytest.raises(ProviderError) as caught:
        kling.account_costs()
    assert caught.value.provider_code == 1201


@pytest.mark.parametrize(
    ("status", "body", "content_type", "creating", "code", "created"),
    [
        (200, "", "application/json", True, "bad_response", True),
        (200, "not json at all", "text/plain", True, "bad_response", True),
        (
            200,
            '{"code":0,"message":"SUCCEED","data":{"task_id":',
            "application/json",
            True,
            "bad_response",
            True,
        ),
        (200, "[1, 2]", "application/json", False, "bad_response", False),
        (200, '{"message": "ok"}', "application/json", False, "bad_response", False),
        (200, '{"code": 0, "message": "SUCCEED"}', "application/json", True, "bad_response", True),
        (502, examples.HTML_502, "text/html", True, "bad_response", True),
        (503, examples.HTML_502, "text/html", True, "bad_response", True),
        (504, "", "text/html", True, "bad_response", True),
        (502, examples.HTML_502, "text/html", False, "bad_response", False),
        (404, "<html>Not Found</html>", "text/html", True, "bad_response", False),
        (401, "<html>Unauthorized</html>", "text/html", False, "bad_response", False),
        (302, "", "text/html", True, "bad_response", False),
        (429, '{"error": "slow down"}', "application/json", False, "rate_limited", False),
    ],
)
def test_it_turns_unreadable_answers_into_clear_errors(
    kling, mocked, status, body, content_type, creating, code, created
):
    mocked.add(responses.POST, T2V, status=status, body=body, content_type=content_type)
    mocked.add(responses.GET, f"{T2V}/1", status=status, body=body, content_type=content_type)
    with pytest.raises(ProviderError) as caught:
        if creating:
            kling.submit(_t2v())
        else:
            kling.get("videos/text2video", "1")
    assert caught.value.code == code
    assert caught.value.http_status in (status, None)  # None: the envelope was fine, its data was not
    assert caught.value.may_have_created is created
    assert caught.value.retryable is (status in (200, 429) or status >= 500)
    assert caught.value.user_message


@pytest.mark.parametrize(
    "data",
    [
        {"task_id": "1", "task_status": "queued"},
        {"task_id": "1", "task_status": None},
        {"task_status": "succeed"},
        {"task_id": "1", "task_status": "succeed", "task_result": {"videos": [{"duration": "5"}]}},
        {"task_id": "1", "task_status": "succeed", "task_result": {"videos": "nope"}},
        "a string",
    ],
)
def test_it_refuses_unknown_statuses_and_missing_fields(kling, mocked, data):
    mocked.get(f"{T2V}/1", json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": data})
    with pytest.raises(ProviderError) as caught:
        kling.get("videos/text2video", "1")
    assert caught.value.code == "bad_response"
    assert caught.value.request_id == "r"


def test_it_tolerates_odd_but_harmless_values(kling, mocked):
    data = {
        **examples.SUCCEEDED_VIDEO_TASK,
        "final_unit_deduction": "n/a",
        "created_at": "not a time",
        "task_info": None,
        "task_status_msg": None,
    }
    data["task_result"] = {"videos": [{"url": "https://cdn.klingai.com/v.mp4", "duration": "?"}]}
    mocked.get(f"{T2V}/1", json={"code": "0", "message": "SUCCEED", "request_id": "r", "data": data})
    task = kling.get("videos/text2video", "1")
    assert task.status == TaskStatus.SUCCEEDED
    assert task.units_charged is None
    assert task.created_at is None
    assert task.external_id == ""
    assert task.media[0].duration is None


@pytest.mark.parametrize(
    ("exception", "code", "created_on_create"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timeout", True),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timeout", False),
        (
            requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())),
            "connection_error",
            True,
        ),
        (
            requests.exceptions.ConnectionError(
                NewConnectionError(None, "Failed to establish a new connection")
            ),
            "connection_error",
            False,
        ),
        (requests.exceptions.ChunkedEncodingError("connection broken mid-body"), "connection_error", True),
    ],
)
def test_it_classifies_transport_failures(kling, mocked, exception, code, created_on_create):
    mocked.add(responses.POST, T2V, body=exception)
    mocked.add(responses.GET, f"{T2V}/1", body=exception)
    with pytest.raises(ProviderError) as on_create:
        kling.submit(_t2v())
    with pytest.raises(ProviderError) as on_query:
        kling.get("videos/text2video", "1")
    assert on_create.value.code == on_query.value.code == code
    assert on_create.value.retryable and on_query.value.retryable
    assert on_create.value.may_have_created is created_on_create
    assert on_query.value.may_have_created is False


def test_it_logs_the_request_id_of_every_call(kling, mocked, caplog):
    mocked.post(T2V, json=examples.CREATE_OK)
    mocked.post(T2V, status=429, json=examples.ERROR_1303)
    with caplog.at_level(logging.INFO, logger="generations.providers.kling"):
        kling.submit(_t2v())
        with pytest.raises(ProviderError) as caught:
            kling.submit(_t2v())
    assert "request_id=c0656403-1e6e-4b7e-b8f8-2cdd2595f2b9" in caplog.text
    assert "request_id=9984d27b-a408-4073-ae28-17ca6a13622d" in caplog.text
    assert caught.value.request_id == "9984d27b-a408-4073-ae28-17ca6a13622d"


def test_it_uses_the_configured_timeouts_and_one_pooled_session(settings, mocked, db):
    settings.KLING_API_BASE = BASE
    settings.KLING_ACCESS_KEY, settings.KLING_SECRET_KEY, settings.KLING_API_KEY = ACCESS_KEY, SECRET_KEY, ""
    settings.KLING_CONNECT_TIMEOUT, settings.KLING_READ_TIMEOUT = 4.0, 45.0
    from generations.providers.kling import KlingClient

    mocked.get(f"{T2V}/867283741759111202", json=examples.SUCCEEDED_VIDEO)
    first, second = KlingClient.from_settings(), KlingClient.from_settings()
    first.get("videos/text2video", "867283741759111202")

    assert mocked.calls[0].request.req_kwargs["timeout"] == (4.0, 45.0)
    assert first.session is second.session is shared_session()


def test_it_opens_a_new_pool_in_a_forked_worker(monkeypatch):
    import os

    parent = shared_session()
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert shared_session() is not parent


def test_it_signs_a_jwt_the_simulator_and_kling_accept(kling, mocked):
    mocked.get(f"{T2V}/1", json=examples.SUCCEEDED_VIDEO)
    kling.get("videos/text2video", "1")
    token = mocked.calls[0].request.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    assert claims["iss"] == ACCESS_KEY
