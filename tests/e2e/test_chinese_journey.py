"""A newcomer whose browser asks for Chinese goes the whole way in Chinese: signs up and
confirms the address from a Chinese email, buys credits in the demo checkout, makes a picture
that fails and reads, in Chinese, that the credits came back. On every page the main content
has no English word but names (Kling, Stripe, ...)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from billing import ledger
from tests.test_translations import _page_words

pytestmark = pytest.mark.e2e

CHINESE = "zh-CN,zh;q=0.9"
GENERATION_TIMEOUT = 60_000  # ms
HAN = re.compile(r"[\u4e00-\u9fff]")


PROMPT = "夜晚宁静的港口 [sim:fail]"  # the simulator's switch for a failure, not a word a person reads


def english_words(page) -> list[str]:
    """The English words in the page's main content (names, identifiers and the person's
    own prompt left out)."""
    return _page_words(page.locator("main").inner_html().replace("[sim:fail]", ""))


def english_words_in(text: str) -> list[str]:
    # Addresses are not text: the link (accounts, confirm-email, its key) and the site's
    # host name, which allauth's emails use as the site's name (the live server's here).
    return _page_words(re.sub(r"https?://\S+|\b[\w.-]+:\d+\b", " ", text))


def check_chinese(page, where: str) -> None:
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans", where
    words = english_words(page)
    assert words == [], f"{where} shows English: {words}"
    assert HAN.search(page.locator("main").inner_text()), f"{where} has no Chinese"


@pytest.fixture
def starter_pack(transactional_db):
    """One of the default packs, whose name the site translates (a test's own name would not be)."""
    from billing.models import CreditPack

    return CreditPack.objects.create(name="Starter", credits=500, price_minor=1000, currency="usd", order=1)


@pytest.mark.journey("zh-journey")
def test_a_chinese_speaking_newcomer_goes_the_whole_way_in_chinese(
    new_context, people, starter_pack, prices, simulator, workers, screenshot, settings
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    email = "xiaoming@example.org"
    page = new_context(extra_http_headers={"Accept-Language": CHINESE}).new_page()

    # Sign up, in Chinese.
    page.goto("/accounts/signup/")
    check_chinese(page, "the sign-up page")
    page.fill("#id_email", email)
    page.fill("#id_password1", people.password)
    page.fill("#id_password2", people.password)
    screenshot(page, "signup")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    check_chinese(page, "the confirmation-sent page")

    # The confirmation email is in Chinese too.
    [message] = [m for m in mail.outbox if email in m.to]
    assert english_words_in(message.subject + "\n" + message.body) == [], (message.subject, message.body)
    page.goto(people.verification_path(email))
    check_chinese(page, "the confirm-email page")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()

    # Buy a pack in the demo checkout.
    page.goto("/credits/buy/")
    check_chinese(page, "the buy page")
    start = ledger.balance_of(people_user(email))
    page.locator(f"#pack-{starter_pack.pk} button[type=submit]").click()
    page.wait_for_url(re.compile(r"/billing/demo/checkout/"))
    check_chinese(page, "the demo checkout")
    screenshot(page, "checkout")
    page.locator("button[name=action][value=pay]").click()
    page.wait_for_url(re.compile(r"/credits/buy/success/"))
    expect(page.locator("#purchase-status")).to_contain_text("已添加 500 积分", timeout=30_000)
    check_chinese(page, "the purchase success page")
    expect(page.locator("#balance-badge")).to_have_text(f"{start + starter_pack.credits:,}")
    screenshot(page, "bought")

    # Generate a picture that Kling refuses: a plain Chinese message and a refund.
    page.goto("/generate/text-to-image/")
    check_chinese(page, "the create page")
    page.fill("[name=prompt]", PROMPT)
    expect(page.locator("#price-credits")).to_be_visible()
    page.locator("form button.btn-accent[type=submit]").click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    failure = page.locator("#failure")
    expect(failure).to_be_visible(timeout=GENERATION_TIMEOUT)
    expect(failure).to_contain_text("积分已退还")
    check_chinese(page, "the failed generation's page")
    expect(page.locator("#balance-badge")).to_have_text(f"{start + starter_pack.credits:,}", timeout=15_000)
    screenshot(page, "refunded")

    page.goto("/credits/")
    check_chinese(page, "the credits page")
    screenshot(page, "credits")


def people_user(email: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(email=email)
