"""Every visible template string is marked for translation, and the Chinese catalogue is complete."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from generations.models import KIND_SLUGS

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# Words that stay as written in both languages: names and technical terms.
NAMES = {
    "Kling",
    "Stripe",
    "Studio",
    "API",
    "REST",
    "CSV",
    "JPEG",
    "PNG",
    "MP4",
    "Base64",
    "OpenAPI",
    "Swagger",
    "UI",
    "Webhook",
    "Python",
    # The Standard Webhooks spec the API's events follow.
    "Standard",
    "Webhooks",
    # Kling's model names: Kling 3.0 Omni, Kling 2.5 Turbo, Kling 2.1 Master, Kolors.
    "Omni",
    "Turbo",
    "Master",
    "Kolors",
}


def _page_words(html: str) -> list[str]:
    html = re.sub(r"(?s)<script.*?</script>|<style.*?</style>|<code>.*?</code>|<pre>.*?</pre>", " ", html)
    html = re.sub(
        r"&#?\w+;|https?://[^\s\"<]+|[\w.+-]+@[\w.-]+|<option[^>]*lang=\"en\"[^>]*>[^<]*</option>", " ", html
    )
    visible = re.sub(r"(?s)<[^>]+>", " ", html)
    attrs = " ".join(re.findall(r'(?:placeholder|aria-label|title|alt)="([^"]*)"', html))
    words = re.findall(r"[A-Za-z][\w'\u2019]+", visible + " " + attrs)
    # Identifiers such as image_1 (Kling's reference tokens) are names, not words.
    return [w for w in words if w not in NAMES and not re.search(r"[_\d]", w) and not w.isupper()]


PAGES_SIGNED_OUT = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/api/"]
PAGES_SIGNED_IN = [
    "/",
    "/generations/",
    "/credits/",
    "/credits/buy/",
    "/credits/purchases/",
    "/accounts/password/change/",
    "/account/",
    "/account/delete/",
    "/account/api-keys/",
    "/api/",
    "/generate/",
    # Every create page: labels, placeholders, help and the option labels of capabilities.py.
    *(f"/generate/{slug}/" for slug in KIND_SLUGS.values()),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES_SIGNED_OUT)
def test_signed_out_pages_speak_chinese(client, path):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    assert " ".join(_page_words(response.content.decode())) == ""


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES_SIGNED_IN)
def test_signed_in_pages_speak_chinese(alice_client, path):
    response = alice_client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    assert " ".join(_page_words(response.content.decode())) == ""


# --- every visible template string is marked ---------------------------------------------

TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]
# Not yet translated, and said so in docs/i18n.md: staff-only admin pages and the webhook
# pages of the REST API (written for programmers, in English).
NOT_TRANSLATED = ("admin/", "outbound_webhooks/")
# Markup-only templates that hold no words of their own.
MARKUP_ONLY = ("allauth/elements/",)

_TOKENS = re.compile(r"(?s)\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}")
_TRANSLATED = re.compile(
    r"(?s)\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}|\{%\s*trans(?:late)?\s[^%]*%\}"
)
_UNSEEN = re.compile(r"(?is)<(script|style|pre|code)\b.*?</\1>")
_ATTRIBUTE = re.compile(r'(?<![\w-])(?:placeholder|aria-label|title|alt)="([^"]*)"')
# Class names given through a block (`{% block body_class %}page-home{% endblock %}`).
_CLASS_BLOCK = re.compile(r"\{%\s*block body_class\s*%\}[^{]*\{%\s*endblock\s*%\}")


def _unmarked(source: str) -> list[str]:
    """The words of a template that a reader sees and that no translate tag covers."""
    text = _TRANSLATED.sub(" ", _CLASS_BLOCK.sub(" ", _TOKENS.sub(" ", source)))
    text = _UNSEEN.sub(" ", re.sub(r"<<<\w+>>>", " ", text))  # Kling's reference tokens
    attributes = [re.sub(r"\{.*?\}", " ", value) for value in _ATTRIBUTE.findall(text)]
    text = re.sub(r"(?s)\{%.*?%\}|\{\{.*?\}\}", " ", text)
    text = re.sub(r"(?s)<[^>]*>", " ", text)
    text = re.sub(r"&#?\w+;", " ", text)
    words = re.findall(r"[A-Za-z][\w'\u2019-]+", " ".join([text, *attributes]))
    # Identifiers such as image_1 or kling-v2-6 are names, not words.
    return [w for w in words if w not in NAMES and not re.search(r"[_\d]", w)]


def _templates() -> list[tuple[str, Path]]:
    found = []
    for base in TEMPLATE_DIRS:
        for path in sorted([*base.rglob("*.html"), *base.rglob("*.txt")]):
            name = path.relative_to(base).as_posix()
            if not name.startswith(NOT_TRANSLATED + MARKUP_ONLY):
                found.append((name, path))
    return found


@pytest.mark.parametrize(("name", "path"), _templates(), ids=[name for name, _ in _templates()])
def test_every_visible_template_string_is_marked_for_translation(name, path):
    assert _unmarked(path.read_text()) == [], f"{name}: wrap these words in {{% translate %}}"


def test_the_checker_finds_an_unmarked_string():
    assert _unmarked('<p title="Your balance">{% translate "Hello" %} there</p>') == [
        "there",
        "Your",
        "balance",
    ]
    assert _unmarked("{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}<script>go()</script>") == []


# --- the Chinese catalogue is complete -------------------------------------------------


def _catalogue_entries(text: str) -> list[dict]:
    """The entries of a .po file: flags, msgid and every msgstr, multi-line strings joined."""
    entries, entry, field = [], None, None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, field = None, None
            continue
        entry = entry or {"flags": "", "msgid": "", "msgstr": []}
        if line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid "):
            field = "msgid"
            entry["msgid"] = line[6:].strip().strip('"')
        elif line.startswith("msgid_plural "):
            field = "plural"
        elif line.startswith("msgstr"):
            field = "msgstr"
            entry["msgstr"].append(line.split(" ", 1)[1].strip().strip('"'))
        elif line.startswith('"') and field == "msgid":
            entry["msgid"] += line.strip('"')
        elif line.startswith('"') and field == "msgstr":
            entry["msgstr"][-1] += line.strip('"')
    return [e for e in entries if e["msgid"]]


def test_the_chinese_catalogue_has_no_untranslated_or_fuzzy_entry():
    entries = _catalogue_entries(CATALOGUE.read_text())
    assert len(entries) > 300
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    assert fuzzy == [] and untranslated == []
