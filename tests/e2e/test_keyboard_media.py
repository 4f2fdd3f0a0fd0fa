"""Result pictures and videos with the keyboard alone: Tab reaches them with a visible focus,
the picture viewer opens with Enter, moves with the arrows and closes with Escape (the focus
back on the thumbnail), and the video player plays, pauses, mutes and moves by keys."""

from __future__ import annotations

import io
from pathlib import Path

import imageio_ffmpeg
import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from generations.models import Asset, Generation, Status
from tests.e2e.test_pages import _axe_problems

pytestmark = pytest.mark.e2e


def finished(owner, kind: str, prompt: str, **params) -> Generation:
    now = timezone.now()
    return Generation.objects.create(
        owner=owner, kind=kind, provider="fake", model_name="kling-v2-6", mode="pro", prompt=prompt,
        params=params, cost=0, status=Status.SUCCEEDED, finished_at=now, assets_saved_at=now,
    )  # fmt: skip


def picture(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(buffer, "PNG")
    return buffer.getvalue()


def clip(path: Path, seconds: int = 12) -> None:
    writer = imageio_ffmpeg.write_frames(
        str(path), (160, 90), fps=5, macro_block_size=2, output_params=["-movflags", "+faststart"]
    )
    writer.send(None)
    for i in range(seconds * 5):
        writer.send(Image.new("RGB", (160, 90), (4 * i % 255, 90, 200)).tobytes())
    writer.close()


def store(media_root: Path, name: str, data: bytes) -> str:
    (media_root / "results").mkdir(parents=True, exist_ok=True)
    (media_root / "results" / name).write_bytes(data)
    return f"results/{name}"


def tab_to(page, selector: str, most: int = 60):
    """Press Tab until `selector` has the focus (a person finding it with the keyboard)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return page.locator(":focus")
    raise AssertionError(f"Tab never reached {selector}")


def focus_is_visible(page) -> bool:
    return page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"""
    )


@pytest.mark.journey("keyboard-media")
def test_the_picture_viewer_works_with_the_keyboard_alone(page, people, e2e_media_root, screenshot):
    alice = people.make_person("alice@example.org")
    generation = finished(alice, "text2image", "Three foxes in the snow", n=3)
    for i, color in enumerate([(200, 60, 40), (40, 160, 60), (40, 80, 200)]):
        name = store(e2e_media_root, f"kb-{generation.pk}-{i}.png", picture(color))
        Asset.objects.create(
            generation=generation, kind="image", index=i, file=name, thumbnail=name,
            content_type="image/png", size=100, width=320, height=200,
        )  # fmt: skip
    people.log_in(page, "alice@example.org")
    page.goto(f"/generations/{generation.pk}/")
    links = page.locator("#result-images a.gallery-item")
    expect(links).to_have_count(3)
    hrefs = [link.get_attribute("href") for link in links.all()]

    first = tab_to(page, "#result-images a.gallery-item")
    assert first.get_attribute("href") == hrefs[0]
    assert focus_is_visible(page), "the focused thumbnail shows no focus"
    page.keyboard.press("Enter")

    viewer = page.locator("#viewer")
    image = page.locator("#viewer-image")
    expect(viewer).to_be_visible()
    expect(image).to_have_attribute("src", hrefs[0])
    expect(image).to_have_attribute("alt", "Image 1 of 3")
    assert page.evaluate("document.getElementById('viewer').contains(document.activeElement)")
    expect(page).to_have_url(f"{page.url.split('/generations/')[0]}/generations/{generation.pk}/")
    assert _axe_problems(page, "the open viewer") == []
    screenshot(page, "viewer")

    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("src", hrefs[1])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("src", hrefs[0])  # round to the first
    page.keyboard.press("ArrowLeft")
    expect(image).to_have_attribute("src", hrefs[2])
    expect(page.locator("#viewer-caption")).to_contain_text("Image 3")
    # The buttons work from the keyboard too: Tab to "Previous" and press it.
    tab_to(page, "#viewer [data-viewer-step='-1']")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(image).to_have_attribute("src", hrefs[1])

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    focused = page.locator(":focus")
    assert focused.get_attribute("href") == hrefs[1], "the focus did not return to the thumbnail shown last"

    # A second press of Enter opens it again on that picture; the Close button closes it.
    page.keyboard.press("Enter")
    expect(image).to_have_attribute("src", hrefs[1])
    tab_to(page, "#viewer [data-viewer-close]")
    page.keyboard.press("Enter")
    expect(viewer).to_be_hidden()
    assert page.locator(":focus").get_attribute("href") == hrefs[1]


def test_the_video_player_works_with_the_keyboard_alone(page, people, e2e_media_root, tmp_path):
    alice = people.make_person("alice@example.org")
    generation = finished(alice, "text2video", "A lighthouse at dusk", duration="5")
    clip(tmp_path / "clip.mp4")
    name = store(e2e_media_root, f"kb-{generation.pk}.mp4", (tmp_path / "clip.mp4").read_bytes())
    Asset.objects.create(
        generation=generation, kind="video", index=0, file=name, content_type="video/mp4",
        size=(tmp_path / "clip.mp4").stat().st_size, width=160, height=90, duration=12,
    )  # fmt: skip
    people.log_in(page, "alice@example.org")
    page.goto(f"/generations/{generation.pk}/")
    page.wait_for_function("document.querySelector('.media-frame video').readyState >= 1")

    video = tab_to(page, ".media-frame video")
    assert focus_is_visible(page), "the focused player shows no focus"
    hint = page.locator("#player-keys-1")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Space or K")
    assert video.get_attribute("aria-describedby") == "player-keys-1"

    page.keyboard.press("m")
    assert video.evaluate("v => v.muted")
    page.keyboard.press("k")
    page.wait_for_function("!document.querySelector('.media-frame video').paused")
    page.keyboard.press("k")
    page.wait_for_function("document.querySelector('.media-frame video').paused")

    start = video.evaluate("v => v.currentTime")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.querySelector('.media-frame video').currentTime >= {start + 4.5}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"document.querySelector('.media-frame video').currentTime <= {start + 0.5}")
    page.keyboard.press("m")
    assert not video.evaluate("v => v.muted")
    # Tab moves on past the player's own controls: the keyboard is never trapped in it.
    tab_to(page, "#downloads a")
