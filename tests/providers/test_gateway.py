"""The unified gateway (docs/kling.md section 10): our legacy-named request out, its OpenAI-style job back."""

import json

import pytest
import requests
import responses

from generations.providers import get_provider
from generations.providers.base import GenerationRequest, ProviderError, TaskStatus
from generations.providers.gateway import GatewayClient, model_id
from tests.providers import examples

GATEWAY = "https://gateway.example.com"
CREATE = f"{GATEWAY}/v1/video/generations"


@pytest.fixture
def gateway(settings, db):
    settings.KLING_PROVIDER = "gateway"
    settings.GATEWAY_API_BASE = GATEWAY
    settings.GATEWAY_API_KEY = "sk-gateway"
    return get_provider()


def _sent(mocked):
    return json.loads(mocked.calls[0].request.body)


def test_it_is_the_provider_when_configured(gateway):
    assert isinstance(gateway, GatewayClient)


@pytest.mark.parametrize(
    ("model", "mode", "sound", "expected"),
    [
        ("kling-v3", "std", "off", "kling-v3-std-silent"),
        ("kling-v3", "std", "on", "kling-v3-std-audio"),
        ("kling-v3", "pro", "off", "kling-v3-pro-silent"),
        ("kling-v3", "pro", "on", "kling-v3-pro-audio"),
    ],
)
def test_it_encodes_model_mode_and_sound_in_the_model_id(model, mode, sound, expected):
    assert model_id(model, mode, sound) == expected


def test_it_maps_a_text_to_video_request(gateway, mocked):
    mocked.post(CREATE, json={"id": "task_abc", "object": "video.generation.job", "status": "queued"})
    task = gateway.submit(
        GenerationRequest(
            "videos/text2video",
            {
                "model_name": "kling-v3",
                "prompt": "A traveler in desert ruins",
                "negative_prompt": "blur, low detail",
                "cfg_scale": 0.5,
                "mode": "std",
                "duration": "5",
                "aspect_ratio": "16:9",
                "sound": "off",
            },
            external_task_id="ext-1",
            callback_url="https://site.example/callbacks/kling/1/t/",
        )
    )
    assert _sent(mocked) == {
        "model": "kling-v3-std-silent",
        "prompt": "A traveler in desert ruins",
        "aspect_ratio": "16:9",
        "duration": 5,
        "extra_body": {"negative_prompt": "blur, low detail", "cfg_scale": 0.5},
    }
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer sk-gateway"
    assert (task.task_id, task.status, task.product, task.external_id) == (
        "task_abc",
        TaskStatus.SUBMITTED,
        "videos/text2video",
        "ext-1",
    )


def test_it_maps_first_and_last_frames(gateway, mocked):
    mocked.post(CREATE, json={"id": "task_i2v", "status": "queued"})
    gateway.submit(
        GenerationRequest(
            "videos/image2video",
            {
                "model_name": "kling-v3",
                "prompt": "turns to the camera",
                "mode": "pro",
                "sound": "on",
                "duration": 8,
                "image": "data:image/png;base64,iVBORw0KGgo=",
                "image_tail": "https://example.com/last-frame.png",
            },
            external_task_id="e",
        )
    )
    body = _sent(mocked)
    assert body["model"] == "kling-v3-pro-audio"
    assert body["image"] == "data:image/png;base64,iVBORw0KGgo="
    assert body["last_image"] == "https://example.com/last-frame.png"
    assert body["duration"] == 8
    assert "model_name" not in body and "mode" not in body and "sound" not in body


def test_it_reads_a_completed_job(gateway, mocked):
    mocked.get(f"{GATEWAY}/v1/videos/task_xxx", json=examples.GATEWAY_COMPLETED)
    task = gateway.get("videos/text2video", "task_xxx")
    assert task.status == TaskStatus.SUCCEEDED
    assert [(m.kind, m.url) for m in task.media] == [("video", "https://example.com/output.mp4")]
    assert task.units_charged is None


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        ({"id": "t", "status": "queued", "progress": 0}, TaskStatus.SUBMITTED, ""),
        ({"id": "t", "status": "in_progress", "progress": 40}, TaskStatus.PROCESSING, ""),
        (
            {"id": "t", "status": "failed", "error": {"code": "x", "message": "risk control"}},
            TaskStatus.FAILED,
            "risk control",
        ),
        (
            {"task_id": "t", "status": "FAILURE", "fail_reason": "Image pixel is invalid"},
            TaskStatus.FAILED,
            "Image pixel is invalid",
        ),
        ({"code": 0, "data": {"task_id": "t", "status": "processing"}}, TaskStatus.PROCESSING, ""),
    ],
)
def test_it_maps_job_statuses_and_failure_shapes(gateway, mocked, answer, status, message):
    mocked.get(f"{GATEWAY}/v1/videos/t", json=answer)
    task = gateway.get("videos/text2video", "t")
    assert task.status == status
    assert task.status_message == message


@pytest.mark.parametrize(
    "answer",
    [{"id": "t", "status": "melting"}, {"id": "t", "status": "completed"}, {"status": "completed"}],
)
def test_it_refuses_unknown_statuses_and_completed_jobs_without_a_video(gateway, mocked, answer):
    mocked.get(f"{GATEWAY}/v1/videos/t", json=answer)
    with pytest.raises(ProviderError) as caught:
        gateway.get("videos/text2video", "t")
    assert caught.value.code == "bad_response"


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable", "created"),
    [
        (401, {"error": {"message": "invalid token", "type": "auth"}}, "auth_failed", False, False),
        (400, {"error": {"message": "duration out of range"}}, "invalid_request", False, False),
        (429, {"error": {"message": "slow down"}}, "rate_limited", True, False),
        (502, examples.HTML_502, "bad_response", True, True),
        (400, {"code": 1301, "message": "content security"}, "content_refused", False, False),
        (
            429,
            {"error": {"code": "1303", "message": "parallel task over resource pack limit"}},
            "concurrency_limited",
            True,
            False,
        ),
    ],
)
def test_it_classifies_gateway_errors(gateway, mocked, status, body, code, retryable, created):
    if isinstance(body, str):
        mocked.add(responses.POST, CREATE, status=status, body=body, content_type="text/html")
    else:
        mocked.add(responses.POST, CREATE, status=status, json=body)
    with pytest.raises(ProviderError) as caught:
        gateway.submit(GenerationRequest("videos/text2video", {"model_name": "kling-v3", "prompt": "p"}, "e"))
    assert (caught.value.code, caught.value.retryable, caught.value.may_have_created) == (
        code,
        retryable,
        created,
    )


def test_it_says_clearly_what_the_gateway_cannot_do(gateway, mocked):
    for call in (
        lambda: gateway.submit(GenerationRequest("images/generations", {"prompt": "p"}, "e")),
        lambda: gateway.list_tasks("videos/text2video"),
        lambda: gateway.find_by_external_id("videos/text2video", "e"),
    ):
        with pytest.raises(ProviderError) as caught:
            call()
        assert caught.value.code == "unsupported"
        assert not caught.value.retryable
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("exception", "code", "created"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timeout", True),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timeout", False),
        (requests.exceptions.ChunkedEncodingError("connection broken mid-body"), "connection_error", True),
    ],
)
def test_it_classifies_transport_failures_like_the_kling_client(gateway, mocked, exception, code, created):
    mocked.add(responses.POST, CREATE, body=exception)
    with pytest.raises(ProviderError) as caught:
        gateway.submit(GenerationRequest("videos/text2video", {"model_name": "kling-v3", "prompt": "p"}, "e"))
    assert (caught.value.code, caught.value.retryable, caught.value.may_have_created) == (code, True, created)


def test_it_spends_our_budget_and_uses_the_configured_timeouts(settings, db, mocked):
    settings.GATEWAY_API_BASE, settings.GATEWAY_API_KEY = GATEWAY, "sk-gateway"
    settings.KLING_CONNECT_TIMEOUT, settings.KLING_READ_TIMEOUT = 4.0, 45.0
    answers = iter([True, False])
    client = GatewayClient.from_settings()
    client.take_request, client.rate_wait_seconds = (lambda: next(answers)), 0
    mocked.get(f"{GATEWAY}/v1/videos/t", json={"id": "t", "status": "queued"})

    client.get("videos/text2video", "t")
    with pytest.raises(ProviderError) as caught:
        client.get("videos/text2video", "t")
    assert caught.value.code == "local_rate_limited"
    assert len(mocked.calls) == 1
    assert mocked.calls[0].request.req_kwargs["timeout"] == (4.0, 45.0)
