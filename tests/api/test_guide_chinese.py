"""The REST API guide (/api/) read in Simplified Chinese from end to end: every heading,
paragraph and table label of the page is in the catalogue, translated (not empty, not fuzzy),
and the page as rendered shows no English prose outside its code samples, which stay as
they are."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

GUIDE = Path(settings.BASE_DIR) / "templates" / "api" / "guide.html"
HEADINGS = (
    "1. 获取密钥",
    "2. 第一个请求",
    "3. 其他类型及其字段",
    "4. 对口型：让视频里的人开口说话",  # noqa: RUF001 (Chinese punctuation)
    "5. 批量：一次提交多个提示词",  # noqa: RUF001
    "6. 重试而不重复付费",
    "7. 等待结果",
    "8. 用 Webhook 代替轮询",
    "9. 错误",
)
# Names that stay as they are in Chinese: products, standards and the page's own title.
NAMES = {"REST API", "Swagger UI", "OpenAPI", "Standard Webhooks", "Webhook", "Python", "Base64", "UUID"}


def _guide_strings() -> list[tuple[str | None, str]]:
    """(context, msgid) of every string the guide template marks, as makemessages reads it."""
    code = templatize(GUIDE.read_text())
    found = []
    for call in re.finditer(r"(p?)gettext\(((?:u'(?:[^'\\]|\\.)*'|u\"(?:[^\"\\]|\\.)*\")(?:, )?)+\)", code):
        literals = [
            ast.literal_eval(literal)
            for literal in re.findall(r"u'(?:[^'\\]|\\.)*'|u\"(?:[^\"\\]|\\.)*\"", call[0])
        ]
        found.append((literals[0], literals[1]) if call[1] == "p" else (None, literals[0]))
    return found


def test_every_string_of_the_guide_has_a_chinese_translation():
    strings = _guide_strings()
    assert len(strings) > 40 and (None, "1. Get a key") in strings
    assert ("HTTP status code", "Status") in strings
    with translation.override("zh-hans"):
        missing = [
            msgid
            for context, msgid in strings
            if (translation.pgettext(context, msgid) if context else translation.gettext(msgid)) == msgid
        ]
    # An empty or fuzzy entry is left out of the compiled catalogue, so it shows as the English.
    assert missing == []


def _prose(page: str) -> str:
    """The visible text of the page's main part, without its code samples."""
    main = page[page.index("<main") : page.index("</main>")]
    main = re.sub(r"(?s)<pre>.*?</pre>|<code>.*?</code>", " ", main)
    main = re.sub(r"https?://\S+", " ", main)
    return re.sub(r"\s+", " ", re.sub(r"(?s)<[^>]+>|&#?\w+;", " ", main))


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_guide_in_chinese_has_no_english_prose_left(client, alice, signed_in):
    if signed_in:
        client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("api:guide")).content.decode()
    assert '<html lang="zh-hans"' in page
    for heading in HEADINGS:
        assert f">{heading}</h2>" in page
    # The table of errors: its labels, and the HTTP status rather than the site's status page.
    assert "<th>HTTP 状态码</th><th>错误码</th><th>含义</th>" in page
    text = _prose(page)
    for name in NAMES:
        text = text.replace(name, " ")
    # Acronyms (API, HTTP, MB, MP3...) are names too: any other Latin word would be English prose.
    words = re.findall(r"[A-Za-z][\w'’-]*", text)  # noqa: RUF001
    assert [word for word in words if not (word.isupper() or re.search(r"\d", word))] == []
    # The code samples are left as code, in English.
    assert '"kind": "text2video"' in page and "import requests" in page and '"kind": "lip_sync"' in page
    assert "Authorization: Bearer ks_live_" in page
