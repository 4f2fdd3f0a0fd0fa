"""Every page opens, has its heading, fits a phone's width and passes axe-core with no serious
or critical violation, signed out and signed in, in English and in Chinese, on a desktop and on
a phone; a screenshot of each is saved for people to look at.

axe-core is the copy shipped inside the pinned `axe-playwright-python` package, injected into
the page (no network).
"""

from __future__ import annotations

import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import Resolver404, resolve
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
LANGUAGES = {"en": "en-US,en;q=0.9", "zh-hans": "zh-CN,zh;q=0.9"}
ANONYMOUS = [
    ("/", "home"),
    ("/accounts/signup/", "signup"),
    ("/accounts/login/", "login"),
    ("/accounts/password/reset/", "password-reset"),
    ("/api/", "api-guide"),
]
SIGNED_IN = [
    ("/", "home-signed-in"),
    ("/generate/", "generate"),
    ("/generate/text-to-image/", "create-text-to-image"),
    ("/generate/text-to-video/", "create-text-to-video"),
    ("/generate/image-to-video/", "create-image-to-video"),
    ("/generate/omni-video/", "create-omni-video"),
    ("/generations/", "gallery-empty"),
    ("/credits/", "credits"),
    ("/credits/buy/", "buy-credits"),
    ("/credits/purchases/", "purchases-empty"),
    ("/batches/", "batches"),
    ("/batches/new/", "batch-new"),
    ("/account/", "account"),
    ("/account/api-keys/", "api-keys"),
    ("/account/webhooks/", "webhooks"),
    ("/account/delete/", "account-delete"),
    ("/accounts/email/", "account-email"),
    ("/accounts/password/change/", "account-password"),
]
# axe's impact levels that fail the page; "minor" and "moderate" are reported, not fatal.
FATAL = {"serious", "critical"}
_axe = Axe()
# The deepest element that sticks out past the window's right edge, to name in a failure.
WIDEST = """() => {
  const out = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1);
  const e = out.filter(e => ![...e.children].some(c => out.includes(c))).pop();
  return e ? e.outerHTML.slice(0, 300) : null;
}"""


def _exists(path: str) -> bool:
    try:
        resolve(path.split("?")[0])
    except Resolver404:
        return False
    return True


def _axe_problems(page, path: str) -> list[str]:
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    problems = []
    for violation in results.response["violations"]:
        if violation["impact"] in FATAL:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
            problems.append(
                f"{path}: {violation['impact']} {violation['id']} ({violation['help']}) at {targets}"
            )
    return problems


def _visit(page, path: str, problems: list[str], expected_status: int = 200) -> None:
    response = page.goto(path)
    assert response.status == expected_status, f"{path} answered {response.status}"
    expect(page.locator("h1").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        widest = page.evaluate(WIDEST)
        raise AssertionError(f"{path} is {overflow} px wider than the window (widest: {widest})")
    problems.extend(_axe_problems(page, path))


def _finished_image(owner, media_root):
    from generations.models import Asset, Generation, Status

    generation = Generation.objects.create(
        owner=owner, kind="text2image", provider="fake", model_name="kling-v2-1", mode="std",
        prompt="A lighthouse at dusk", params={}, cost=10, status=Status.SUCCEEDED,
    )  # fmt: skip
    (media_root / "results").mkdir(parents=True, exist_ok=True)
    name = f"results/pages-{generation.pk}.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 80, 200)).save(buffer, "PNG")
    (media_root / name).write_bytes(buffer.getvalue())
    Asset.objects.create(
        generation=generation, kind="image", index=0, file=name, thumbnail=name,
        content_type="image/png", width=64, height=64,
    )  # fmt: skip
    now = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(finished_at=now, assets_saved_at=now)
    return generation


@pytest.mark.journey("00-pages")
@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_it_shows_every_page_accessibly(
    viewport, language, new_context, people, site_url, screenshot, e2e_media_root, request
):
    if _exists("/generate/text-to-image/"):
        request.getfixturevalue("prices")
    if _exists("/credits/buy/"):
        request.getfixturevalue("credit_pack")
    alice = people.make_person("alice@example.org")
    # The phone runs in the dark theme and the desktop in the light one, so every page's
    # colours are checked in both palettes.
    size = {"viewport": PHONE, "color_scheme": "dark"} if viewport == "phone" else {"color_scheme": "light"}
    context = new_context(extra_http_headers={"Accept-Language": LANGUAGES[language]}, **size)
    page = context.new_page()
    problems: list[str] = []
    suffix = f"{language}-{viewport}"

    for path, name in ANONYMOUS:
        if _exists(path):
            _visit(page, path, problems)
            screenshot(page, f"{name}-{suffix}")
    _visit(page, "/no-such-page/", problems, expected_status=404)
    screenshot(page, f"not-found-{suffix}")

    # Signed in through the form, whatever the language of its button.
    page.goto("/accounts/login/")
    page.fill("#id_login", "alice@example.org")
    page.fill("#id_password", people.password)
    page.press("#id_password", "Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    for path, name in SIGNED_IN:
        if _exists(path):
            _visit(page, path, problems)
            screenshot(page, f"{name}-{suffix}")

    generation = _finished_image(alice, e2e_media_root)
    for path, name in [("/generations/", "gallery"), (f"/generations/{generation.pk}/", "detail-image")]:
        _visit(page, path, problems)
        screenshot(page, f"{name}-{suffix}")
    # A finished generation's tab says so (site.js follows the live part's title prefix).
    assert page.title().startswith("✓ "), page.title()

    assert problems == [], "axe found serious or critical problems:\n" + "\n".join(problems)
