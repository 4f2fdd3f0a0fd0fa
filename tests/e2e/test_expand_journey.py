"""Browser journey: a picture expanded by dragging the sides of the canvas preview, the
number fields following the handles, the limit held while dragging, and the result made."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def generating(workers, simulator, prices):
    return workers


def _drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag on the canvas from one point to another, in the canvas's own pixels."""
    canvas = page.locator("#expand-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / 640
    page.mouse.move(box["x"] + start[0] * scale, box["y"] + start[1] * scale)
    page.mouse.down()
    for step in range(1, 11):
        x = start[0] + (end[0] - start[0]) * step / 10
        y = start[1] + (end[1] - start[1]) * step / 10
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
    page.mouse.up()


@pytest.mark.journey("21-expand-by-dragging")
def test_it_expands_a_picture_by_dragging_its_sides(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/expand-image/")
    page.set_input_files("#id_image", files=[{"name": "sea.png", "mimeType": "image/png", "buffer": _png()}])
    # The 800 x 600 picture is drawn at a fixed scale that leaves room for 2 times on each
    # side: 400 / (5 x 600) of its size, 106.7 x 80 px centred at (320, 200); the frame
    # starts with half a width added on the left and on the right.
    picture_top = 200 - 40
    _drag(page, (320, picture_top), (320, picture_top - 40))  # the top handle up by half a height
    expect(page.locator("#id_up_expansion_ratio")).to_have_value(re.compile(r"^(0\.49|0\.5)$"))
    expect(page.locator("#expand-area")).to_contain_text("New area: ")

    # Dragging the bottom handle far down stops where the new area reaches 3 times:
    # (1 + 0.5 + 0.5) x (1 + 0.5 + down) - 1 = 3 at down = 0.5.
    bottom = 200 + 40
    _drag(page, (320, bottom), (320, bottom + 190))
    down = float(page.locator("#id_down_expansion_ratio").input_value())
    up = float(page.locator("#id_up_expansion_ratio").input_value())
    assert 0.45 <= down <= 0.51 and (1 + 0.5 + 0.5) * (1 + up + down) - 1 <= 3.0001
    screenshot(page, "dragged")

    # A typed value over the limit is flagged at once.
    page.fill("#id_left_expansion_ratio", "2")
    expect(page.locator("#expand-area")).to_contain_text("at most 3 times")
    page.fill("#id_left_expansion_ratio", "0.5")

    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.kind == Kind.EXPAND_IMAGE
    assert generation.params["up_expansion_ratio"] == up and generation.params["down_expansion_ratio"] == down
    expect(page.locator(".media-frame img")).to_be_visible(timeout=GENERATION_TIMEOUT)
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - generation.cost
