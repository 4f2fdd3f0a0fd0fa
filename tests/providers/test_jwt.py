"""JWT auth: the claims, the per-process cache, re-signing near expiry and after 1003/1004."""

import time

import jwt
import pytest
import time_machine

from generations.providers.base import GenerationRequest, ProviderError
from generations.providers.kling import KlingClient, jwt_token
from tests.providers import examples
from tests.providers.conftest import ACCESS_KEY, BASE, SECRET_KEY

TASK = f"{BASE}/v1/videos/text2video/867283741759111202"
EXPIRED = {"code": 1004, "message": "token expired", "request_id": "r-expired"}
NOT_YET = {"code": 1003, "message": "token not yet valid", "request_id": "r-early"}


def _token(call) -> str:
    return call.request.headers["Authorization"].removeprefix("Bearer ")


def test_it_signs_hs256_with_iss_exp_and_nbf():
    with time_machine.travel(1_800_000_000, tick=False):
        token = jwt_token(ACCESS_KEY, SECRET_KEY)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims == {"iss": ACCESS_KEY, "exp": 1_800_000_000 + 1800, "nbf": 1_800_000_000 - 5}


def test_it_caches_the_token_until_under_a_minute_remains():
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        first = jwt_token(ACCESS_KEY, SECRET_KEY)
        clock.shift(1700)  # 100 s left
        assert jwt_token(ACCESS_KEY, SECRET_KEY) == first
        clock.shift(45)  # 55 s left
        second = jwt_token(ACCESS_KEY, SECRET_KEY)
    assert second != first
    claims = jwt.decode(
        second, SECRET_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims["exp"] == 1_800_000_000 + 1745 + 1800


def test_it_keeps_one_token_per_key_pair():
    assert jwt_token("ak-1", SECRET_KEY) != jwt_token("ak-2", SECRET_KEY)
    assert jwt_token("ak-1", SECRET_KEY) == jwt_token("ak-1", SECRET_KEY)


def test_it_sends_the_cached_token_on_consecutive_calls(kling, mocked):
    mocked.get(TASK, json=examples.SUCCEEDED_VIDEO)
    kling.get("videos/text2video", "867283741759111202")
    kling.get("videos/text2video", "867283741759111202")
    assert _token(mocked.calls[0]) == _token(mocked.calls[1])


@pytest.mark.parametrize("answer", [EXPIRED, NOT_YET])
def test_it_re_signs_once_and_retries_after_1003_or_1004(kling, mocked, answer):
    mocked.get(TASK, status=401, json=answer)
    mocked.get(TASK, json=examples.SUCCEEDED_VIDEO)
    task = kling.get("videos/text2video", "867283741759111202")
    assert task.status == "succeeded"
    assert len(mocked.calls) == 2
    first, second = (_token(call) for call in mocked.calls)
    assert first != second
    # The retry's token tolerates a minute of clock skew (Kling said "not yet valid" or "expired").
    claims = jwt.decode(second, SECRET_KEY, algorithms=["HS256"])
    assert claims["nbf"] <= int(time.time()) - 60


def test_it_re_signs_a_create_and_resends_the_same_body(kling, mocked):
    create = f"{BASE}/v1/videos/text2video"
    mocked.post(create, status=401, json=EXPIRED)
    mocked.post(create, json=examples.CREATE_OK)
    task = kling.submit(
        GenerationRequest("videos/text2video", {"model_name": "kling-v3", "prompt": "p"}, "e-1")
    )
    assert task.task_id == "867283741759111202"
    first, second = mocked.calls
    assert first.request.body == second.request.body
    assert _token(first) != _token(second)


def test_it_gives_up_after_one_re_sign(kling, mocked):
    mocked.get(TASK, status=401, json=EXPIRED)
    with pytest.raises(ProviderError) as caught:
        kling.get("videos/text2video", "867283741759111202")
    assert len(mocked.calls) == 2
    assert caught.value.code == "auth_expired"
    assert caught.value.provider_code == 1004
    assert caught.value.retryable


def test_it_sends_a_static_api_key_and_never_re_signs(mocked):
    client = KlingClient(BASE, api_key="sk-static-key")
    mocked.get(TASK, status=401, json=EXPIRED)
    with pytest.raises(ProviderError):
        client.get("videos/text2video", "867283741759111202")
    assert len(mocked.calls) == 1
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer sk-static-key"


def test_it_prefers_the_api_key_when_both_are_configured(mocked):
    client = KlingClient(BASE, api_key="sk-static-key", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    mocked.get(TASK, json=examples.SUCCEEDED_VIDEO)
    client.get("videos/text2video", "867283741759111202")
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer sk-static-key"


def test_it_needs_some_credentials():
    with pytest.raises(ValueError):
        KlingClient(BASE, access_key=ACCESS_KEY)
