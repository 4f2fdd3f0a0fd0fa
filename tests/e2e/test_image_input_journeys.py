"""Browser journeys (Chromium) of the kinds made from uploaded pictures: image to video,
multi-image to video, multi-image to image and virtual try-on. Each one uploads its
pictures, sees the price before anything is charged, sees the balance go down by exactly
that price, watches the result arrive on the same page, and plays or opens and downloads it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing import ledger
from generations.models import KIND_SLUGS, Generation, Kind
from tests.e2e.conftest import pictures
from tests.e2e.test_journeys import (
    balance_badge,
    download_first,
    fill_create_page,
    plays_video,
    press_create,
    shows_pictures,
    signed_in_with_credits,
    watch_it_finish,
)

pytestmark = pytest.mark.e2e

PNG_HEAD = b"\x89PNG"
JPEG_HEAD = b"\xff\xd8\xff"


def given_inputs(page):
    """The "Your input" cards' pictures, as figures with a caption saying what each was for."""
    return page.locator("section[aria-label='Result'] figure")


def plays_and_downloads_the_video(page) -> None:
    plays_video(page)
    name, head = download_first(page)
    assert name.endswith(".mp4") and head[4:8] == b"ftyp", f"{name} is not an MP4 file"


def shows_and_downloads_the_picture(page) -> None:
    shows_pictures(page, page.locator(".media-frame img"))
    name, head = download_first(page)
    assert head.startswith((PNG_HEAD, JPEG_HEAD)), f"{name} is not a PNG or JPEG file"


VIDEO = (".media-frame video", plays_and_downloads_the_video)
PICTURE = (".media-frame img", shows_and_downloads_the_picture)


def journey(name: str, kind: str, prompt: str | None, files: dict, captions: list[str], result) -> object:
    return pytest.param(kind, prompt, files, captions, result, id=name, marks=pytest.mark.journey(name))


@pytest.mark.parametrize(
    ("kind", "prompt", "files", "captions", "result"),
    [
        journey(
            "25-image-to-video",
            Kind.IMAGE2VIDEO,
            "The lantern flickers as the wind picks up",
            {"image": pictures("lantern")},
            ["Start frame"],
            VIDEO,
        ),
        journey(
            "26-multi-image-to-video",
            Kind.MULTI_IMAGE2VIDEO,
            "The cat, the dog and the parrot share a sofa",
            {"image_list": pictures("cat", "dog", "parrot")},
            ["Subject 1", "Subject 2", "Subject 3"],
            VIDEO,
        ),
        journey(
            "27-multi-image-to-image",
            Kind.MULTI_IMAGE2IMAGE,
            "The two of them sharing a picnic by a lake",
            {"subject_image_list": pictures("hiker", "dog")},
            ["Subject 1", "Subject 2"],
            PICTURE,
        ),
        journey(
            "28-virtual-try-on",
            Kind.VIRTUAL_TRY_ON,
            None,  # no prompt: the two pictures say it all
            {
                "human_image": pictures("person", width=480, height=720),
                "cloth_image": pictures("shirt", width=600, height=600),
            },
            ["Person", "Garment"],
            PICTURE,
        ),
    ],
)
def test_it_makes_a_result_from_uploaded_pictures_and_plays_or_shows_it(
    page, people, generating, screenshot, kind, prompt, files, captions, result
):
    media, check_the_result = result
    alice = signed_in_with_credits(page, people)
    price = fill_create_page(page, KIND_SLUGS[kind], prompt, files=files)
    assert price > 0
    expect(balance_badge(page)).to_have_text("1,000")  # nothing charged while choosing
    screenshot(page, "priced")

    generation_id = press_create(page, price)
    expect(balance_badge(page)).to_have_text(f"{1000 - price:,}")
    generation = Generation.objects.get(pk=generation_id, owner=alice)
    assert generation.kind == kind and generation.cost == price
    assert ledger.balance_of(alice) == 1000 - price

    watch_it_finish(page, media)
    screenshot(page, "finished")
    # The uploads are shown back, each under what it was for.
    expect(given_inputs(page).locator("figcaption")).to_have_text(captions)
    shows_pictures(page, given_inputs(page).locator("img"))
    check_the_result(page)
    assert ledger.balance_of(alice) == 1000 - price  # charged once, nothing refunded
