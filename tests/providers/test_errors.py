"""Every Kling business code maps to our stable code and flags; the code decides, not HTTP."""

import pytest

from generations.providers import errors
from generations.providers.base import GenerationRequest, ProviderError
from tests.providers.conftest import BASE

T2V = f"{BASE}/v1/videos/text2video"

# code, HTTP status Kling sends, our code, retryable, may have created (on a create)
TABLE = [
    (1000, 401, "auth_failed", False, False),
    (1001, 401, "auth_failed", False, False),
    (1002, 401, "auth_failed", False, False),
    (1003, 401, "auth_expired", True, False),
    (1004, 401, "auth_expired", True, False),
    (1100, 429, "account_blocked", False, False),
    (1101, 429, "account_in_arrears", False, False),
    (1102, 429, "quota_exhausted", False, False),
    (1103, 403, "no_permission", False, False),
    (1200, 400, "invalid_request", False, False),
    (1201, 400, "invalid_request", False, False),
    (1202, 404, "invalid_method", False, False),
    (1203, 404, "not_found", False, False),
    (1300, 400, "policy_refused", False, False),
    (1301, 400, "content_refused", False, False),
    (1302, 429, "rate_limited", True, False),
    (1303, 429, "concurrency_limited", True, False),
    (1304, 429, "ip_not_allowed", False, False),
    (5000, 500, "provider_error", True, True),
    (5001, 503, "provider_unavailable", True, True),
    (5002, 504, "provider_timeout", True, True),
]


def _request():
    return GenerationRequest(
        "videos/text2video", {"model_name": "kling-v2-6", "prompt": "p"}, external_task_id="e"
    )


def test_it_covers_the_whole_kling_code_table():
    assert sorted(errors.KLING_CODES) == [row[0] for row in TABLE]


@pytest.mark.parametrize(("code", "http", "ours", "retryable", "created"), TABLE)
def test_it_maps_each_code_on_a_create(kling, mocked, code, http, ours, retryable, created):
    mocked.post(
        T2V, status=http, json={"code": code, "message": f"message {code}", "request_id": f"r-{code}"}
    )
    with pytest.raises(ProviderError) as caught:
        kling.submit(_request())
    error = caught.value
    assert (error.code, error.provider_code, error.http_status) == (ours, code, http)
    assert error.retryable is retryable
    assert error.may_have_created is created
    assert error.request_id == f"r-{code}"
    assert f"message {code}" in error.detail
    assert error.user_message and "Kling code" not in error.user_message


@pytest.mark.parametrize(("code", "http", "ours", "retryable", "created"), TABLE)
def test_it_maps_each_code_on_a_query_without_may_have_created(
    kling, mocked, code, http, ours, retryable, created
):
    mocked.get(f"{T2V}/1", status=http, json={"code": code, "message": "m", "request_id": "r"})
    with pytest.raises(ProviderError) as caught:
        kling.get("videos/text2video", "1")
    assert caught.value.code == ours
    assert caught.value.retryable is retryable
    assert caught.value.may_have_created is False


@pytest.mark.parametrize(
    ("code", "http", "retryable"),
    [(1102, 429, False), (1304, 429, False), (1302, 429, True), (1303, 200, True), (1201, 500, False)],
)
def test_it_decides_on_the_business_code_not_the_http_status(kling, mocked, code, http, retryable):
    mocked.post(T2V, status=http, json={"code": code, "message": "m", "request_id": "r"})
    with pytest.raises(ProviderError) as caught:
        kling.submit(_request())
    assert caught.value.retryable is retryable
    assert caught.value.may_have_created is False


@pytest.mark.parametrize(
    ("http", "retryable", "created"), [(500, True, True), (429, True, False), (400, False, False)]
)
def test_it_handles_an_unknown_code_by_its_http_status(kling, mocked, http, retryable, created):
    mocked.post(T2V, status=http, json={"code": 9999, "message": "new", "request_id": "r"})
    with pytest.raises(ProviderError) as caught:
        kling.submit(_request())
    assert caught.value.provider_code == 9999
    assert caught.value.retryable is retryable
    assert caught.value.may_have_created is created


@pytest.mark.parametrize(
    "message",
    ["external_task_id e already exists", "duplicate external_task_id", "External task id already used"],
)
def test_a_taken_external_id_on_a_create_means_our_task_exists(kling, mocked, message):
    mocked.post(T2V, status=400, json={"code": 1201, "message": message, "request_id": "r"})
    with pytest.raises(ProviderError) as caught:
        kling.submit(_request())
    error = caught.value
    assert error.code == "duplicate_external_id"
    assert error.may_have_created and error.retryable
    assert error.provider_code == 1201


def test_other_1201_answers_stay_permanent(kling, mocked):
    mocked.post(
        T2V, status=400, json={"code": 1201, "message": "duration must be 5 or 10", "request_id": "r"}
    )
    with pytest.raises(ProviderError) as caught:
        kling.submit(_request())
    assert caught.value.code != "duplicate_external_id"
    assert caught.value.code == "invalid_request" and not caught.value.may_have_created


def test_it_never_creates_on_content_refusal_and_says_why():
    error = errors.from_kling_code(1301, http_status=400, message="risk", creating=True)
    assert error.code == "content_refused"
    assert error.user_message.startswith("Kling declined this request under its content rules")


def test_it_has_a_retryable_local_rate_limit_error():
    error = errors.local_rate_limited()
    assert (error.code, error.retryable, error.may_have_created) == ("local_rate_limited", True, False)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Failure to pass the risk control system", errors.CONTENT_REFUSED_MESSAGE),
        ("The content may violate the content safety policy", errors.CONTENT_REFUSED_MESSAGE),
        ("Image contains sensitive information", errors.CONTENT_REFUSED_MESSAGE),
        ("内容审核未通过", errors.CONTENT_REFUSED_MESSAGE),
        ("Image pixel is invalid", errors.IMAGE_PROBLEM_MESSAGE),
        ("image aspect ratio is invalid", errors.IMAGE_PROBLEM_MESSAGE),
        ("internal error", errors.GENERIC_FAILURE_MESSAGE),
        ("", errors.GENERIC_FAILURE_MESSAGE),
    ],
)
def test_it_turns_a_failed_tasks_reason_into_a_sentence(message, expected):
    assert errors.failed_task_user_message(message, kind="image2video") == expected


@pytest.mark.parametrize("kind", ["text2image", "text2video", "image2video"])
@pytest.mark.parametrize(
    "message",
    [
        "image generation timed out",
        "Image processing timeout",
        "The server is busy generating your image",
        "video task timed out",
        "图片 overload",
    ],
)
def test_it_never_blames_the_input_for_a_timeout(kind, message):
    assert errors.failed_task_user_message(message, kind=kind) == errors.BUSY_FAILURE_MESSAGE


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("text2image", errors.GENERIC_FAILURE_MESSAGE),
        ("text2video", errors.GENERIC_FAILURE_MESSAGE),
        ("image2video", errors.IMAGE_PROBLEM_MESSAGE),
    ],
)
@pytest.mark.parametrize(
    "message", ["Image pixel is invalid", "image aspect ratio is invalid", "no face found", "图片无法识别"]
)
def test_it_blames_the_image_only_for_a_kind_that_takes_one(kind, expected, message):
    assert errors.failed_task_user_message(message, kind=kind) == expected


@pytest.mark.parametrize("kind", ["text2image", "text2video", "image2video"])
def test_it_names_a_content_refusal_whatever_the_kind(kind):
    message = "Image contains sensitive information"
    assert errors.failed_task_user_message(message, kind=kind) == errors.CONTENT_REFUSED_MESSAGE
