"""Every main page opens, has its heading and fits a phone's width; a screenshot of each, on a
desktop and on a phone, is saved for people to look at."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
ANONYMOUS = [
    ("/", "home"),
    ("/accounts/signup/", "signup"),
    ("/accounts/login/", "login"),
    ("/accounts/password/reset/", "password-reset"),
]
SIGNED_IN = [
    ("/", "home-signed-in"),
    ("/generate/", "generate"),
    ("/generate/text-to-image/", "create-text-to-image"),
    ("/generate/text-to-video/", "create-text-to-video"),
    ("/generate/image-to-video/", "create-image-to-video"),
    ("/generations/", "gallery-empty"),
    ("/credits/", "credits"),
    ("/credits/buy/", "buy-credits"),
    ("/credits/purchases/", "purchases-empty"),
    ("/account/", "account"),
    ("/accounts/email/", "account-email"),
    ("/accounts/password/change/", "account-password"),
]


def _exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _visit(page, path: str, expected_status: int = 200) -> None:
    response = page.goto(path)
    assert response.status == expected_status, f"{path} answered {response.status}"
    expect(page.locator("h1").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{path} is {overflow} px wider than the window"


@pytest.mark.journey("00-pages")
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_it_shows_every_main_page(viewport, new_context, people, site_url, screenshot, request):
    if _exists("/generate/text-to-image/"):
        request.getfixturevalue("prices")
    if _exists("/credits/buy/"):
        request.getfixturevalue("credit_pack")
    people.make_person("alice@example.org")
    context = new_context(viewport=PHONE) if viewport == "phone" else new_context()
    page = context.new_page()

    for path, name in ANONYMOUS:
        _visit(page, path)
        screenshot(page, f"{name}-{viewport}")

    people.log_in(page, "alice@example.org")
    for path, name in SIGNED_IN:
        if not _exists(path):
            continue
        _visit(page, path)
        screenshot(page, f"{name}-{viewport}")

    _visit(page, "/no-such-page/", expected_status=404)
    screenshot(page, f"not-found-{viewport}")
