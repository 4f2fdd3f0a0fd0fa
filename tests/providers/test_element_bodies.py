"""The official client's custom elements (saved subjects) at the HTTP seam: Kling's
Element Management paths, the exact create body, the answers read back, and its errors."""

import json

import jwt
import pytest

from generations.providers.base import ProviderError, TaskStatus
from tests.providers.conftest import ACCESS_KEY, BASE, SECRET_KEY

ELEMENTS = f"{BASE}/v1/general/advanced-custom-elements"
DELETE = f"{BASE}/v1/general/delete-advanced-elements"

CREATED = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "req-1",
    "data": {
        "task_id": "860000000000000001",
        "task_info": {"external_task_id": "subject-7"},
        "task_status": "submitted",
        "created_at": 1722769557708,
        "updated_at": 1722769557708,
    },
}
BUILT = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "req-2",
    "data": {
        "task_id": "860000000000000001",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "subject-7"},
        "task_result": {
            "elements": [
                {
                    "element_id": 8620,
                    "element_name": "Mia",
                    "element_description": "Red hair",
                    "reference_type": "image_refer",
                    "element_image_list": {},
                    "element_video_list": {},
                    "element_voice_info": {},
                    "tag_list": [{"tag_id": "o_102"}],
                    "owned_by": "12345",
                    "status": "succeed",
                }
            ]
        },
        "final_unit_deduction": "0",
        "created_at": 1722769557708,
        "updated_at": 1722769590000,
    },
}


def _sent(mocked, index=0):
    return json.loads(mocked.calls[index].request.body)


def test_it_posts_the_create_body_as_kling_documents_it(kling, mocked):
    mocked.post(ELEMENTS, json=CREATED)
    body = {
        "element_name": "Mia",
        "element_description": "Red hair",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": "data:image/png;base64,QUFB",
            "refer_images": [{"image_url": "QkJC"}, {"image_url": "https://cdn.example/c.png"}],
        },
        "tag_list": [{"tag_id": "o_102"}],
        "callback_url": "https://app.example/callbacks/subjects/7/",
        "external_task_id": "subject-7",
    }
    task = kling.create_element(body)
    assert (task.task_id, task.status, task.element_id) == ("860000000000000001", TaskStatus.SUBMITTED, "")
    request = mocked.calls[0].request
    assert (request.method, request.url) == ("POST", ELEMENTS)
    assert request.headers["Content-Type"].startswith("application/json")
    token = request.headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET_KEY, algorithms=["HS256"])["iss"] == ACCESS_KEY
    # Raw Base64 or URLs, never a data: prefix; every other field as given.
    assert _sent(mocked) == {
        **body,
        "element_image_list": {
            "frontal_image": "QUFB",
            "refer_images": [{"image_url": "QkJC"}, {"image_url": "https://cdn.example/c.png"}],
        },
    }


def test_it_reads_a_built_element_by_task_or_external_id(kling, mocked):
    mocked.get(f"{ELEMENTS}/860000000000000001", json=BUILT)
    mocked.get(f"{ELEMENTS}/subject-7", json=BUILT)
    for reference in ("860000000000000001", "subject-7"):
        task = kling.get_element(reference)
        # Kling answers the id as a number; element_list takes it back as a string.
        assert (task.status, task.element_id, task.deleted) == (TaskStatus.SUCCEEDED, "8620", False)


def test_it_lists_a_page_and_deletes_by_the_id_as_a_string(kling, mocked):
    deleted = json.loads(json.dumps(BUILT["data"]))
    deleted["task_result"]["elements"][0]["status"] = "deleted"
    mocked.get(
        ELEMENTS, json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": [BUILT["data"], deleted]}
    )
    listed = kling.list_elements(page=2, page_size=50)
    assert [(t.element_id, t.deleted) for t in listed] == [("8620", False), ("8620", True)]
    assert mocked.calls[0].request.params == {"pageNum": "2", "pageSize": "50"}
    with pytest.raises(ValueError):
        kling.list_elements(page_size=501)

    mocked.post(DELETE, json={"code": 0, "message": "SUCCEED", "request_id": "r", "data": {}})
    kling.delete_element(8620)
    assert _sent(mocked, 1) == {"element_id": "8620"}


def test_a_refused_create_is_a_final_provider_error_with_klings_words(kling, mocked):
    mocked.post(
        ELEMENTS,
        status=400,
        json={"code": 1201, "message": "element_name must not exceed 20 characters", "request_id": "r"},
    )
    with pytest.raises(ProviderError) as caught:
        kling.create_element({"element_name": "x" * 21})
    error = caught.value
    assert (error.provider_code, error.http_status, error.retryable, error.may_have_created) == (
        1201,
        400,
        False,
        False,
    )
    assert "element_name must not exceed 20 characters" in error.detail
