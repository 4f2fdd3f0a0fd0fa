"""Browser journey: save a subject with two pictures from the Subjects page, wait until
Kling (the simulator) has built it, pick it on the omni image page by name, and see the
picture made with it finish."""

from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from billing import ledger
from generations.models import Generation, Kind
from subjects.models import Subject

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 60_000


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 500), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def generating(workers, simulator, prices):
    return workers


@pytest.mark.journey("22-subject")
def test_it_saves_a_subject_and_makes_a_picture_with_it(page, people, generating, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Subjects").click()
    page.wait_for_url("**/subjects/")
    page.fill("#id_name", "Mia")
    page.select_option("#id_kind", "character")
    page.fill("#id_description", "Red hair, green coat")
    page.set_input_files(
        "#id_pictures",
        files=[
            {"name": "front.png", "mimeType": "image/png", "buffer": _png((200, 80, 40))},
            {"name": "side.png", "mimeType": "image/png", "buffer": _png((180, 90, 60))},
        ],
    )
    page.get_by_role("button", name="Save subject").click()
    expect(page.locator("#subjects")).to_contain_text("Being prepared")
    expect(page.locator("#subjects img")).to_have_count(2)

    # Kling builds the element in the background; the page asks about it when it is shown.
    row = page.locator("#subjects tbody tr").first
    for _ in range(40):
        if "Ready" in row.inner_text():
            break
        time.sleep(0.5)
        page.reload()
    expect(row).to_contain_text("Ready")
    subject = Subject.objects.get(owner=alice)
    assert subject.element_id
    screenshot(page, "library")

    page.goto("/generate/omni-image/")
    page.get_by_label("Mia (Character)").check()
    page.fill("#id_prompt", "<<<element_1>>> reading under a tree")
    page.get_by_role("button", name=re.compile(r"^Create for \d+ credits?")).click()
    page.wait_for_url(re.compile(r"/generations/\d+/$"))
    generation = Generation.objects.get(owner=alice)
    assert generation.kind == Kind.OMNI_IMAGE
    assert generation.params["element_list"] == [{"element_id": subject.element_id}]
    expect(page.locator(".media-frame img")).to_be_visible(timeout=GENERATION_TIMEOUT)
    screenshot(page, "finished")
    assert ledger.balance_of(alice) == 1000 - generation.cost
