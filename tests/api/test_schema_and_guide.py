"""The OpenAPI schema (valid, 3.1), Swagger UI from our own static files, and the guide."""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing import ledger
from generations.models import Generation
from tests.api.conftest import make_image
from tests.media_files import audio_bytes, video_bytes


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert text.startswith("openapi: 3.1.0")
    for path in (
        "/api/v1/models",
        "/api/v1/quote",
        "/api/v1/generations",
        "/api/v1/generations/{generation_id}",
        "/api/v1/credits",
    ):
        assert f"  {path}:" in text, path


def test_the_schema_is_served_and_describes_the_bearer_key(client, db):
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create = schema["paths"]["/api/v1/generations"]["post"]
    assert {"201", "200", "402", "409", "413"} <= set(create["responses"])
    request = schema["components"]["schemas"]["GenerationCreateRequest"]
    assert request["discriminator"]["propertyName"] == "kind"


def test_swagger_ui_comes_from_our_static_files(client, db):
    page = client.get(reverse("api:docs")).content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert any("swagger-ui" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_guide_shows_a_first_request_for_this_site(client, alice, signed_in):
    if signed_in:
        client.force_login(alice)
    page = client.get(reverse("api:guide")).content.decode()
    assert "http://testserver" + reverse("api:generations") in page
    for words in (
        "Authorization: Bearer",
        "Idempotency-Key",
        "import requests",
        "wait=",
        "webhook-signature",
        "standardwebhooks",
        "insufficient_credits",
    ):
        assert words in page, words
    assert reverse("api:docs") in page


def test_the_footer_and_the_account_page_link_the_guide(alice_client):
    assert reverse("api:guide") in alice_client.get(reverse("home")).content.decode()
    assert reverse("api:guide") in alice_client.get(reverse("accounts:profile")).content.decode()


# --- the guide's examples are bodies the API accepts ----------------------------------------

# Every `curl -X POST <url> \ -H ... \ -d '<body>'` of the guide.
_CURL_POST = re.compile(r"curl -X POST (\S+) \\\n(?:[ \t]+-H [^\n]*\\\n)*[ \t]+-d '([^']*)'")
# The files the examples name by URL, as the fetch would bring them.
_EXAMPLE_FILES = {
    "https://example.com/portrait.png": lambda: make_image(640, 400),
    "https://example.com/interview.mp4": lambda: video_bytes(seconds=5, width=640, height=512),
    "https://example.com/voice.mp3": lambda: audio_bytes(seconds=3),
}


def _guide(client, language: str = "en") -> str:
    response = client.get(reverse("api:guide"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _curl_posts(page: str) -> list[tuple[str, dict]]:
    return [(urlsplit(url).path, json.loads(body)) for url, body in _CURL_POST.findall(page)]


def _documented_answer(page: str, starts: str) -> dict:
    """The example answer of the guide that begins with `starts` (one JSON object)."""
    text = page[page.index(starts) :]
    return json.JSONDecoder().raw_decode(text)[0]


@pytest.fixture
def example_files(monkeypatch):
    from api import inputs

    def fetch(url: str, max_bytes: int, *, deadline=None):
        return inputs.decode(base64.b64encode(_EXAMPLE_FILES[url]()).decode(), max_bytes)

    monkeypatch.setattr(inputs, "fetch", fetch)


def test_the_guide_s_example_bodies_are_accepted(
    client, api, alice, kling_simulator, example_files, django_capture_on_commit_callbacks
):
    ledger.grant(alice, 5000, key="test:grant:guide-examples")
    page = _guide(client)
    posts = _curl_posts(page)
    generations, faces, batches = (reverse(f"api:{name}") for name in ("generations", "faces", "batches"))
    assert [path for path, _ in posts] == [generations, generations, faces, generations, batches]
    assert [body.get("kind") for _, body in posts] == [
        "text2video",
        "image2video",
        None,
        "lip_sync",
        "text2image",
    ]
    answers = {}
    for path, body in posts:
        if body.get("session_id") == "…":
            body["session_id"] = answers["faces"]["session_id"]
        with django_capture_on_commit_callbacks(execute=False):
            response = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        assert response.status_code == 201, (body, response.json())
        answers[body.get("kind") or "faces"] = response.json()
    assert Generation.objects.filter(owner=alice).count() == 3 + 3
    lip_sync = Generation.objects.get(owner=alice, kind="lip_sync")
    assert lip_sync.params["face_choose"][0]["face_id"] == "0"

    # The answers have the fields the guide describes.
    shown = _documented_answer(page, '{"session_id"')
    assert set(shown) == set(answers["faces"])
    assert set(shown["faces"][0]) == set(answers["faces"]["faces"][0])
    batch = answers["text2image"]
    assert {"id", "total_cost", "progress", "items"} <= set(batch)
    assert set(batch["progress"]) == {"done", "failed", "running", "total"}
    assert {"prompt", "generation"} <= set(batch["items"][0])
    assert api.get(f"{batches}/{batch['id']}").status_code == 200
    assert [b["id"] for b in api.get(batches).json()["results"]] == [batch["id"]]


def test_the_fields_the_guide_names_exist(api, db):
    from api.serializers import CREATE_SERIALIZERS

    lip_sync = set(CREATE_SERIALIZERS["lip_sync"]().fields)
    assert {
        "session_id",
        "face_id",
        "sound_file",
        "sound_start_time",
        "sound_end_time",
        "sound_insert_time",
        "sound_volume",
        "original_audio_volume",
    } <= lip_sync
    for kind in ("motion_control", "video2audio", "omni_video"):
        assert "video_url" in CREATE_SERIALIZERS[kind]().fields, kind
    assert {"image", "image_tail"} <= set(CREATE_SERIALIZERS["image2video"]().fields)
    kinds = api.get(reverse("api:models")).json()["kinds"]
    assert all("request_fields" in kind for kind in kinds)


# --- the guide in both languages ------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_guide_speaks_the_reader_s_language(client, alice, signed_in):
    if signed_in:
        client.force_login(alice)
    english, chinese = _guide(client, "en"), _guide(client, "zh-CN,zh;q=0.9")
    for heading in (
        "1. Get a key",
        "4. Lip-sync: a face in a video speaks",
        "5. Batches: many prompts at once",
    ):
        assert heading in english and heading not in chinese
    for heading in ("1. 获取密钥", "4. 对口型：让视频里的人开口说话", "5. 批量：一次提交多个提示词"):  # noqa: RUF001 (Chinese punctuation)
        assert heading in chinese and heading not in english
    assert "Each key may make 120 requests a minute, 20 of them creates." in english
    assert "每个密钥每分钟可发 120 个请求，其中创建最多 20 个。" in chinese  # noqa: RUF001
    # The code stays as it is in both.
    for page in (english, chinese):
        assert '"kind": "lip_sync"' in page and "import requests" in page


def test_the_guide_follows_the_language_cookie(client, db):
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/api/"})
    assert "1. 获取密钥" in _guide(client, "en")


@pytest.mark.parametrize(
    "rates, sentence",
    [
        ((0, 20), "Each key may make any number of requests a minute, 20 of them creates."),
        ((120, 0), "Each key may make 120 requests a minute, creates included."),
        ((0, 0), "Keys have no limit on requests a minute."),
    ],
)
def test_the_guide_states_the_limits_as_configured(client, db, settings, rates, sentence):
    settings.API_RATE_PER_MINUTE, settings.API_CREATE_RATE_PER_MINUTE = rates
    assert sentence in _guide(client)
