"""A Kling-compatible proxy (docs/kling.md section 10: the same paths under /klingai, a bearer key) works by
configuration alone."""

import json

import pytest

from generations.providers import get_provider
from generations.providers.base import GenerationRequest, TaskStatus
from generations.providers.kling import KlingClient
from tests.providers import examples

PROXY = "https://api.agentsflare.com/klingai"


@pytest.fixture
def proxy_settings(settings, db):
    settings.KLING_PROVIDER = "kling"
    settings.KLING_API_BASE = PROXY
    settings.KLING_API_KEY = "sk-proxy-key"
    settings.KLING_ACCESS_KEY = settings.KLING_SECRET_KEY = ""
    return settings


def test_it_talks_to_a_prefixed_proxy_with_a_bearer_key(proxy_settings, mocked):
    mocked.post(f"{PROXY}/v1/videos/text2video", json=examples.PROXY_CREATE)
    mocked.get(f"{PROXY}/v1/videos/text2video/2026040901144560ed39e7182144d8", json=examples.PROXY_QUERY)

    provider = get_provider()
    created = provider.submit(
        GenerationRequest(
            "videos/text2video",
            {"model_name": "kling-v3", "prompt": "A rabbit", "duration": 5, "mode": "pro", "sound": False},
            external_task_id="ext-7",
        )
    )
    done = provider.get("videos/text2video", created.task_id)

    assert isinstance(provider, KlingClient)
    create_call = mocked.calls[0].request
    assert create_call.url == f"{PROXY}/v1/videos/text2video"
    assert create_call.headers["Authorization"] == "Bearer sk-proxy-key"
    assert json.loads(create_call.body)["duration"] == "5"
    # The proxy answers a create with the task id alone, and "success" instead of "SUCCEED".
    assert created.task_id == "2026040901144560ed39e7182144d8"
    assert created.status == TaskStatus.SUBMITTED
    assert created.external_id == "ext-7"
    assert done.status == TaskStatus.SUCCEEDED
    assert done.media[0].url == "https://cdn.example.com/video.mp4"
    assert done.media[0].duration == 5.0
