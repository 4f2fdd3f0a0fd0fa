"""Eight journeys of a newcomer, in Chromium, against the live server.

Journeys that need pages not built yet skip themselves until their URLs resolve (no marker
to remove), and then run as written: they pin the URL and form contract of docs/architecture.md and the README (`/credits/buy/`,
`/generate/text-to-video/`, `/generate/text-to-image/`, `/generations/`, `/generations/<id>/`;
fields `prompt`, `model_name`, `mode`, `duration`, `aspect_ratio`, `n`).
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from billing import ledger
from billing.models import LedgerEntry
from tests.e2e.conftest import plays, price_shown

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000  # ms: the simulator takes a few seconds; workers poll every 0.5 s


def _routes(*paths: str) -> bool:
    try:
        for path in paths:
            resolve(path)
    except Resolver404:
        return False
    return True


needs_buy_pages = pytest.mark.skipif(
    not _routes("/credits/buy/", "/credits/purchases/"),
    reason="lands with the Stripe buy pages (/credits/buy/ and the demo checkout)",
)
needs_generation_pages = pytest.mark.skipif(
    not _routes("/generate/text-to-video/", "/generate/text-to-image/", "/generations/", "/generations/1/"),
    reason="lands with the generation pages (/generate/..., /generations/...)",
)
needs_simulator = pytest.mark.skipif(
    not _routes("/_sim/kling/"), reason="lands with the Kling simulator (/_sim/kling/)"
)


def balance_badge(page):
    return page.locator("#balance-badge")


# --- helpers for the journeys that generate (`generating` is in conftest) ---------------------


def create_from_page(page, kind_slug: str, prompt: str, **options: str) -> int:
    """Fill a create page, press Create, and return the new generation's id."""
    return press_create(page, fill_create_page(page, kind_slug, prompt, **options))


def fill_create_page(
    page,
    kind_slug: str,
    prompt: str | None = None,
    *,
    files: dict[str, list[dict]] | None = None,
    **options: str,
) -> int:
    """Open a create page, upload `files` (field name -> Playwright file payloads), write the
    prompt, choose the options; return the price the page then shows, before any charge."""
    page.goto(f"/generate/{kind_slug}/")
    for name, payloads in (files or {}).items():
        page.set_input_files(f"input[type=file][name={name}]", files=payloads)
    if prompt is not None:
        page.fill("[name=prompt]", prompt)
    for name, value in options.items():
        # Each change re-renders the options and the price (htmx): wait for the new ones.
        with page.expect_response(lambda response: f"/generate/{kind_slug}/options/" in response.url):
            page.select_option(f"select[name={name}]", value)
        busy = page.locator(
            "#gen-options.htmx-request, #gen-options.htmx-swapping, #gen-options.htmx-settling"
        )
        expect(busy).to_have_count(0)
        expect(page.locator(f"select[name={name}]")).to_have_value(value)
    return price_shown(page)


def press_create(page, price: int) -> int:
    """Press the Create button, which must name the `price` shown; return the new generation's id."""
    page.get_by_role("button", name=re.compile(rf"^Create for {price} credits?$")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    return int(re.search(r"/generations/(\d+)/$", page.url).group(1))


def watch_it_finish(page, result: str):
    """On a new generation's page: see it in progress, then `result` (a selector) appear
    without the page reloading (a mark set on the document must survive)."""
    page.evaluate("window.__stillTheSamePage = true")
    expect(page.locator(".chip-queued, .chip-submitted, .chip-processing").first).to_be_visible()
    found = page.locator(result)
    expect(found.first).to_be_visible(timeout=GENERATION_TIMEOUT)
    assert page.evaluate("window.__stillTheSamePage === true"), "the page reloaded"
    return found


def plays_video(page) -> float:
    """The result's <video> is served as MP4, knows its length and plays; returns the length."""
    video = page.locator(".media-frame video").first
    source = video.locator("source").get_attribute("src")
    served = page.request.get(source)
    assert served.ok and served.headers["content-type"].startswith("video/mp4"), served.headers
    return plays(page, video)


def shows_pictures(page, pictures) -> None:
    """Each result picture (a locator of <img>) has loaded, from a URL that serves an image."""
    for picture in pictures.all():
        picture.scroll_into_view_if_needed()
        expect(picture).to_have_js_property("complete", True)
        assert picture.evaluate("img => img.naturalWidth") > 0
        served = page.request.get(picture.get_attribute("src"))
        assert served.ok and served.headers["content-type"].startswith("image/"), served.headers


def download_first(page) -> tuple[str, bytes]:
    """Click the first Download button; return the file's suggested name and first bytes."""
    with page.expect_download() as info:
        page.locator("#downloads a").first.click()
    download = info.value
    with open(download.path(), "rb") as file:
        return download.suggested_filename, file.read(12)


# --- 1. sign up, verify, welcome credits ----------------------------------------------------


@pytest.mark.journey("01-sign-up")
def test_it_signs_up_verifies_the_email_and_sees_the_welcome_credits(
    page, people, settings, screenshot, site_url
):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    welcome = settings.WELCOME_CREDITS
    assert welcome > 0
    email = "newcomer@example.org"

    page.goto("/")
    screenshot(page, "home")
    page.get_by_role("link", name="Create a free account").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(page.locator(".auth-foot")).to_contain_text(f"{welcome} free credits")
    page.fill("#id_email", email)
    page.fill("#id_password1", people.password)
    page.fill("#id_password2", people.password)
    screenshot(page, "signup")
    page.get_by_role("button", name="Sign Up").click()

    # Mandatory verification: no session and no credits until the address is confirmed.
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    screenshot(page, "verification-sent")
    assert LedgerEntry.objects.filter(account__user__email=email).count() == 0
    page.goto("/credits/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/credits/$"))

    page.goto(people.verification_path(email))
    screenshot(page, "confirm-email")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    screenshot(page, "after-confirm")

    page.goto("/credits/")
    expect(page.locator("#credit-balance")).to_contain_text(f"{welcome} credits")
    expect(balance_badge(page)).to_have_text(str(welcome))
    row = page.locator("table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Welcome credits")
    expect(row).to_contain_text(f"+{welcome}")
    screenshot(page, "credits")


# --- 2. buy a pack in the demo checkout -----------------------------------------------------


@needs_buy_pages
@pytest.mark.journey("02-buy-credits")
def test_it_buys_a_pack_in_the_demo_checkout_and_sees_the_balance_rise(
    page, people, credit_pack, workers, screenshot
):
    from billing.models import Purchase, StripeEvent

    alice = people.make_person("alice@example.org")
    start = ledger.balance_of(alice)
    people.log_in(page, "alice@example.org")

    page.get_by_role("link", name="Buy credits").first.click()
    expect(page).to_have_url(re.compile(r"/credits/buy/$"))
    pack = page.locator(f"#pack-{credit_pack.pk}")
    expect(pack).to_contain_text("500")
    screenshot(page, "packs")
    pack.get_by_role("button", name=re.compile(r"^Buy 500 credits")).click()

    # The demo checkout stands in for Stripe's hosted page; its card fields come filled in.
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.locator("#field-card_number input")).to_have_value(re.compile(r"4242"))
    screenshot(page, "checkout")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    expect(page).to_have_url(re.compile(r"/credits/buy/success/"))
    status = page.locator("#purchase-status")
    expect(status).to_contain_text("500 credits added", timeout=30_000)
    expect(balance_badge(page)).to_have_text(f"{start + 500:,}")
    screenshot(page, "success")

    # The signed webhook the worker delivered and the success page both fulfil the same
    # checkout: the credits arrive once.
    _wait_until(lambda: StripeEvent.objects.filter(type="checkout.session.completed").exists())
    assert LedgerEntry.objects.filter(account__user=alice, kind=LedgerEntry.Kind.PURCHASE).count() == 1
    assert Purchase.objects.get(user=alice).status == Purchase.Status.PAID

    page.goto("/credits/")
    expect(page.locator("#credit-balance")).to_contain_text(f"{start + 500:,} credits")
    expect(page.locator("table tbody tr").first).to_contain_text("+500")
    screenshot(page, "credits")
    page.goto("/credits/purchases/")
    expect(page.locator("main")).to_contain_text("Test pack")
    screenshot(page, "purchases")


def _wait_until(condition, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the background work")
        time.sleep(0.2)


def signed_in_with_credits(page, people, credits: int = 1000):
    """Alice, given `credits` credits, signed in on `page`."""
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, credits, key=f"e2e:alice:{credits}", memo="Test credits")
    people.log_in(page, "alice@example.org")
    return alice


# --- 3. text to video: live status, playback, download --------------------------------------


@needs_generation_pages
@needs_simulator
@pytest.mark.journey("03-text-to-video")
def test_it_makes_a_video_watches_it_finish_plays_and_downloads_it(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/")
    screenshot(page, "choose")
    page.goto("/generate/text-to-video/")
    screenshot(page, "create")
    generation_id = create_from_page(
        page,
        "text-to-video",
        "A lighthouse on a cliff at dusk, waves below, cinematic",
        duration="5",
    )
    cost = 1000 - ledger.balance_of(alice)
    assert cost > 0
    expect(balance_badge(page)).to_have_text(f"{1000 - cost:,}")

    # The page follows the job by itself, and the element knows the clip's length and plays it.
    screenshot(page, "in-progress")
    watch_it_finish(page, ".media-frame video")
    plays_video(page)
    screenshot(page, "finished")

    name, head = download_first(page)
    assert name.endswith(".mp4")
    assert head[4:8] == b"ftyp", "the download is not an MP4 file"

    page.goto("/generations/")
    card = page.locator(f"#gen-card-{generation_id}")
    expect(card.locator(".chip-succeeded")).to_be_visible()
    screenshot(page, "gallery")
    assert ledger.balance_of(alice) == 1000 - cost  # charged once, nothing refunded


# --- 4. text to image, several images -------------------------------------------------------


@needs_generation_pages
@needs_simulator
@pytest.mark.journey("04-text-to-image")
def test_it_makes_several_images_and_opens_each(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/text-to-image/")
    screenshot(page, "create")
    create_from_page(page, "text-to-image", "A red fox in fresh snow, morning light", n="3")

    items = page.locator(".gallery-grid .gallery-item")
    expect(items).to_have_count(3, timeout=GENERATION_TIMEOUT)
    shows_pictures(page, items.locator("img"))
    screenshot(page, "finished")

    detail_url = page.url
    hrefs = [item.get_attribute("href") for item in items.all()]
    assert len(set(hrefs)) == 3
    for number, href in enumerate(hrefs, start=1):
        response = page.goto(href)
        assert response.status == 200
        assert response.headers["content-type"].startswith("image/")
        assert page.evaluate("document.images[0].naturalWidth") > 0
        if number == 1:
            screenshot(page, "image-1")
    page.goto(detail_url)
    expect(page.locator("#downloads a")).to_have_count(3)


# --- 5. a failure: plain message and refund -------------------------------------------------


@needs_generation_pages
@needs_simulator
@pytest.mark.journey("05-failure-refund")
def test_it_shows_a_failure_in_plain_words_and_refunds_it(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    # The simulator accepts a prompt with [sim:fail], then fails it as Kling's safety check does.
    generation_id = create_from_page(page, "text-to-image", "A quiet harbour at night [sim:fail]")
    failure = page.locator("#failure")
    expect(failure).to_be_visible(timeout=GENERATION_TIMEOUT)
    expect(failure).to_contain_text("could not be made")
    expect(failure).to_contain_text("refunded")
    assert not re.search(r"Traceback|Exception|\bcode\b|\b1\d{3}\b", failure.inner_text())
    screenshot(page, "failed")
    page.reload()
    expect(balance_badge(page)).to_have_text("1,000")

    page.goto("/credits/")
    expect(page.locator("#credit-balance")).to_contain_text("1,000 credits")
    rows = page.locator("table tbody tr")
    expect(rows.nth(0)).to_contain_text("Refund")
    expect(rows.nth(1)).to_contain_text("Charge")
    expect(rows.nth(0).locator(f'a[href="/generations/{generation_id}/"]')).to_be_visible()
    screenshot(page, "credits")
    kinds = list(
        LedgerEntry.objects.filter(account__user=alice, generation_id=generation_id).values_list(
            "kind", flat=True
        )
    )
    assert sorted(kinds) == ["charge", "refund"]


# --- 6. too few credits ---------------------------------------------------------------------


@needs_generation_pages
@pytest.mark.journey("06-too-few-credits")
def test_it_explains_too_few_credits_and_links_to_buying_them(page, people, prices, site_url, screenshot):
    from generations.models import Generation

    people.make_person("alice@example.org", welcome=False)
    people.log_in(page, "alice@example.org")

    page.goto("/generate/text-to-video/")
    preview = page.locator("#price-preview")
    expect(preview).to_contain_text("You need")
    expect(preview.get_by_role("link", name="buy credits")).to_have_attribute("href", "/credits/buy/")
    page.fill("[name=prompt]", "A paper boat on a rainy street")
    page.get_by_role("button", name=re.compile(r"^Create")).click()

    notice = page.locator("#not-enough-credits")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Nothing was charged")
    expect(notice.get_by_role("link", name="Buy credits")).to_have_attribute("href", "/credits/buy/")
    screenshot(page, "refused")
    assert Generation.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


# --- 7. staff grant credits in admin --------------------------------------------------------


@pytest.mark.journey("07-staff-grant")
def test_it_lets_staff_grant_credits_that_the_person_then_sees(
    page, new_context, people, screenshot, site_url
):
    alice = people.make_person("alice@example.org")
    people.make_person("someone.else@example.org")
    people.make_staff("staff@example.org")
    welcome = settings.WELCOME_CREDITS

    # Alice is looking at her credits in her own browser.
    alice_page = new_context().new_page()
    people.log_in(alice_page, "alice@example.org")
    alice_page.goto("/credits/")
    expect(alice_page.locator("#credit-balance")).to_contain_text(f"{welcome} credits")

    # Staff find her in the user list and grant 100 credits with a reason.
    page.goto("/admin/")
    page.fill("#id_username", "staff@example.org")
    page.fill("#id_password", people.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.get_by_role("link", name="Users").first.click()
    page.fill("#searchbar", "alice@example.org")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("alice@example.org")
    screenshot(page, "admin-users")
    rows.locator("input.action-select").check()
    page.select_option("select[name=action]", label="Grant or deduct credits")
    page.get_by_role("button", name="Go").click()

    expect(page).to_have_url(re.compile(rf"/admin/accounts/user/{alice.pk}/credits/$"))
    expect(page.locator("#admin-credit-balance")).to_have_text(str(welcome))
    page.fill("#id_amount", "100")
    page.fill("#id_reason", "Thanks for reporting the upload bug")
    screenshot(page, "admin-grant-form")
    page.get_by_role("button", name="Record").click()

    expect(page).to_have_url(re.compile(rf"/admin/accounts/user/{alice.pk}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text(
        f"+100 credits recorded for alice@example.org; the balance is now {welcome + 100}"
    )
    screenshot(page, "admin-user")

    # Alice reloads and sees the entry, the reason and the new balance.
    alice_page.reload()
    expect(alice_page.locator("#credit-balance")).to_contain_text(f"{welcome + 100} credits")
    expect(balance_badge(alice_page)).to_have_text(str(welcome + 100))
    newest = alice_page.locator("table tbody tr").first
    expect(newest).to_contain_text("+100")
    expect(newest).to_contain_text("Thanks for reporting the upload bug")
    screenshot(alice_page, "credits")
    entry = LedgerEntry.objects.get(account__user=alice, amount=100)
    assert entry.created_by.email == "staff@example.org"


# --- 8. someone else's generation is a 404 --------------------------------------------------


@needs_generation_pages
@needs_simulator
@pytest.mark.journey("08-not-yours")
def test_it_answers_404_to_a_second_person_opening_a_generation_or_its_files(
    page, new_context, people, generating, screenshot
):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.make_person("bob@example.org")
    people.log_in(page, "alice@example.org")
    generation_id = create_from_page(page, "text-to-image", "A teapot shaped like a snail")
    expect(page.locator("#downloads a")).to_have_count(1, timeout=GENERATION_TIMEOUT)

    detail = f"/generations/{generation_id}/"
    files = {
        page.locator(".media-frame img").get_attribute("src"),
        page.locator("#downloads a").get_attribute("href"),
    }
    assert all(url and url.startswith(f"/generations/{generation_id}/files/") for url in files)
    for url in files:
        assert page.request.get(url).status == 200  # Alice herself can fetch them

    bob_page = new_context().new_page()
    people.log_in(bob_page, "bob@example.org")
    for url in [detail, f"/generations/{generation_id}/status/", *files]:
        response = bob_page.goto(url)
        assert response.status == 404, f"Bob got {response.status} for {url}"
    bob_page.goto(detail)
    screenshot(bob_page, "not-found")
    bob_page.goto("/generations/")
    expect(bob_page.locator(f"#gen-card-{generation_id}")).to_have_count(0)
