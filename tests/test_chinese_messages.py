"""Messages written in Python reach a Chinese reader in Chinese: the API's error messages,
the sentence of a failed generation on its page and in its email, the credit history's
memos, and the refusals of the capability table."""

# The translations write Chinese punctuation (full-width comma and colon).
# ruff: noqa: RUF001
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as site_settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts import api_keys
from billing import ledger
from generations import capabilities, follow, notifications, services
from generations.models import Generation, Kind, Status
from generations.providers.errors import failed_task_user_message
from kling_site import stored_text

HAN = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# Names and identifiers that stay as they are in Chinese text.
NAMES = {"Kling", "API", "URL", "JSON", "https"}


def _english_words(text: str) -> list[str]:
    return [word for word in ENGLISH_WORD.findall(text) if word not in NAMES]


@pytest.fixture
def key_client(alice):
    _row, key = api_keys.create_key(alice, "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _failed_generation(owner) -> Generation:
    """A text-to-video generation charged 10 credits that Kling then refused for its content,
    after running over a minute (so its owner is emailed)."""
    ledger.grant(owner, 100, key=f"test:grant:{owner.pk}")
    generation = Generation.objects.create(
        owner=owner,
        kind=Kind.TEXT2VIDEO,
        provider="fake",
        model_name="kling-v2-6",
        mode="std",
        duration=5,
        prompt="A fox in the snow",
        cost=10,
        status=Status.PROCESSING,
        created_at=timezone.now() - timedelta(minutes=5),
    )
    ledger.charge(
        owner,
        10,
        key=f"gen:{generation.pk}:charge",
        generation=generation,
        memo=services.CHARGE_MEMO % {"kind": "Text to video", "model": "Kling 2.6"},
    )
    sentence = failed_task_user_message("content risk check failed", kind=generation.kind)
    assert services.fail(generation.pk, code="content_refused", message=sentence)
    return Generation.objects.get(pk=generation.pk)


def test_an_api_error_message_follows_accept_language(key_client):
    answer = key_client.get("/api/v1/generations/999999", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert answer["code"] == "not_found"  # codes stay stable identifiers
    assert answer["message"] == "没有这个生成任务。"


def test_an_api_error_message_follows_the_key_owners_saved_language(key_client, alice):
    alice.language = "zh-hans"
    alice.save(update_fields=["language"])
    answer = key_client.get("/api/v1/generations", {"kind": "painting"}).json()
    assert answer["code"] == "validation_error"
    assert answer["message"] == "请求无效，请查看 details 中各字段的说明。"
    assert answer["details"]["kind"][0].startswith("请从 ")
    # A request that names its language still gets that one.
    english = key_client.get("/api/v1/generations/999999", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["message"] == "No such generation."


def test_an_unknown_key_is_refused_in_chinese(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ks_live_nope")
    answer = client.get("/api/v1/generations", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert answer == {"code": "authentication_failed", "message": "API 密钥不存在或已被撤销。", "details": {}}


def test_a_failed_generation_shows_kling_s_refusal_in_chinese(alice, alice_client):
    generation = _failed_generation(alice)
    assert generation.error_message.startswith("Kling declined")  # stored in English
    page = alice_client.get(generation.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "根据内容规范，可灵拒绝了此请求。请修改提示词或图片后重试。" in page
    assert "Kling declined" not in page
    answer = APIClient()
    answer.force_authenticate(alice)
    body = answer.get(f"/api/v1/generations/{generation.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert body["error"] == {
        "code": "content_refused",
        "message": "根据内容规范，可灵拒绝了此请求。请修改提示词或图片后重试。",
    }


def test_the_failure_email_is_in_the_owner_s_saved_language(alice):
    alice.language = "zh-hans"
    alice.save(update_fields=["language"])
    generation = _failed_generation(alice)
    assert notifications.notify_finished(generation.pk)
    (message,) = mail.outbox
    assert message.subject == "你的文生视频未能生成"
    assert "根据内容规范，可灵拒绝了此请求。" in message.body
    assert "积分" in message.body  # the refund line
    # Apart from the site's and the person's names, their prompt and the links, not one
    # English word.
    text = (
        message.body.replace(site_settings.SITE_NAME, "")
        .replace(alice.name, "")
        .replace(generation.prompt, "")
    )
    assert _english_words(re.sub(r"https?://\S+", "", text)) == []
    assert translation.get_language() != "zh-hans"  # the worker's language is left as it was


def test_the_credit_history_reads_its_memos_in_chinese(alice, alice_client):
    _failed_generation(alice)
    page = alice_client.get(reverse("billing:credits"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "文生视频 · Kling 2.6" in page
    assert "退还：文生视频失败" in page
    assert "扣除" in page and "赠送" in page
    assert "Refund:" not in page and " with Kling" not in page


def test_a_deadline_failure_written_with_its_minutes_is_translated(db, settings):
    settings.GENERATION_DEADLINE_MINUTES = 45
    english = follow.deadline_message()
    assert english == "Kling did not finish this within 45 minutes, so we stopped waiting for it."
    with translation.override("zh-hans"):
        assert stored_text.translated(english) == "可灵未在 45 分钟内完成，我们已停止等待。"
        # Text that only looks like a template's stays as it was written.
        assert stored_text.translated("Thanks with love") == "Thanks with love"


def test_the_capability_refusals_speak_chinese():
    with translation.override("zh-hans"):
        errors = capabilities.validate(
            Kind.TEXT2VIDEO, {"model_name": "kling-v2-6", "prompt": "", "mode": "std"}
        )
    assert errors["prompt"] == "请描述你想看到的画面。"
    assert all(HAN.search(message) for message in errors.values()), errors
