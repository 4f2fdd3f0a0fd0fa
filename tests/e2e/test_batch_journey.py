"""Browser journey: a batch of five prompts, the total seen before paying, every row
finished against the simulator, and all results downloaded as one ZIP."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import expect

from batches.models import Batch
from billing import ledger

pytestmark = pytest.mark.e2e

GENERATION_TIMEOUT = 90_000
PROMPTS = [
    "A lighthouse in a storm",
    "A fox in the snow",
    "A red kite over hills",
    "A bowl of plums",
    "A tram at night",
]


@pytest.mark.journey("21-batch-of-five")
def test_a_batch_of_five_prompts_finishes_and_downloads_as_one_zip(
    page, people, workers, simulator, prices, screenshot
):
    alice = people.make_person("alice@example.org", welcome=False)
    ledger.grant(alice, 1000, key="e2e:alice:1000", memo="Test credits")
    people.log_in(page, "alice@example.org")

    page.goto("/generate/")
    page.locator("#batch-link").click()
    page.fill("#id_prompts", "\n".join(PROMPTS))
    page.select_option("select[name=model_name]", "kling-v2-1")
    page.locator("#preview-batch").click()
    expect(page.locator("#batch-quote")).to_contain_text("5 prompts for")
    assert ledger.balance_of(alice) == 1000 and not Batch.objects.exists()
    screenshot(page, "quote")

    page.locator("#confirm-batch").click()
    page.wait_for_url("**/batches/*/")
    batch = Batch.objects.get(owner=alice)
    assert ledger.balance_of(alice) == 1000 - batch.total_cost
    expect(page.locator("#batch-counts")).to_contain_text(
        "5 done, 0 failed, 0 running", timeout=GENERATION_TIMEOUT
    )
    expect(page.locator("#download-all")).to_be_visible()
    screenshot(page, "finished")

    with page.expect_download() as info:
        page.locator("#download-all").click()
    archive = zipfile.ZipFile(info.value.path())
    names = archive.namelist()
    assert len(names) >= 5 and sorted({n[:3] for n in names}) == ["001", "002", "003", "004", "005"]
