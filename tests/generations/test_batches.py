"""Batches: many prompts, one total shown before paying, every row a normal generation
charged in one transaction or not at all, refunded on its own, retried, and all results
downloaded as one streamed ZIP."""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from batches import services
from batches.models import Batch
from billing import ledger
from billing.models import LedgerEntry
from generations import services as generation_services
from generations.models import Asset, Generation, Status

OPTIONS = {"model_name": "kling-v2-1", "n": "1", "aspect_ratio": "1:1", "resolution": "1k"}
PROMPTS = "A lighthouse in a storm\nA fox in the snow\nA red kite over hills"


def preview(client, prompts: str = PROMPTS, **extra):
    return client.post(
        "/batches/new/text-to-image/", {**OPTIONS, "prompts": prompts, "preview": "1", **extra}
    )


def confirm(client, page) -> object:
    html = page.content.decode()
    fields = {
        name: unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="(rows_json|quoted|client_token)" value="([^"]*)"', html
        )
    }
    return client.post("/batches/new/text-to-image/", {**OPTIONS, **fields, "confirm": "1"})


def rows(text: str = PROMPTS) -> list[services.Row]:
    return services.parse_lines(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("one\n\ntwo", "Line 2 is empty"),
        ("", "at least one prompt"),
        ("\n".join(f"prompt {i}" for i in range(101)), "at most 100 prompts; this one has 101"),
    ],
)
def test_bad_lines_are_refused_with_the_reason(text, reason):
    with pytest.raises(ValidationError, match=reason):
        services.parse_lines(text)


def test_a_csv_names_the_row_and_column_it_refuses():
    with pytest.raises(ValidationError, match="Row 1, column 2: “colour” is not an option"):
        services.parse_csv(b"prompt,colour\nA fox,red\n", "text2image")
    with pytest.raises(ValidationError, match="Row 3, column 1: the prompt is empty"):
        services.parse_csv(b"prompt,aspect_ratio\nA fox,16:9\n,1:1\n", "text2image")
    parsed = services.parse_csv(b"\xef\xbb\xbfprompt,aspect_ratio\nA fox,16:9\nA kite,\n", "text2image")
    assert [(r.prompt, r.options) for r in parsed] == [("A fox", {"aspect_ratio": "16:9"}), ("A kite", {})]


def test_the_page_shows_the_total_before_charging_then_charges_each_row(
    rich_alice, alice_client, commit, fake
):
    page = preview(alice_client)
    assert page.status_code == 200
    html = page.content.decode()
    assert "3 prompts for 3 credits" in html and 'id="confirm-batch"' in html
    assert Generation.objects.count() == 0 and ledger.balance_of(rich_alice) == 1000

    with commit():
        response = confirm(alice_client, page)
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    items = list(batch.items.select_related("generation"))
    assert [i.prompt for i in items] == PROMPTS.split("\n")
    assert all(i.generation.owner == rich_alice and i.generation.cost == 1 for i in items)
    assert LedgerEntry.objects.filter(kind="charge").count() == 3
    assert ledger.balance_of(rich_alice) == 997
    assert len(fake.tasks) == 3  # each row went to the provider like a single generation
    # A second confirm of the same page makes no second batch.
    confirm(alice_client, page)
    assert Batch.objects.count() == 1 and Generation.objects.count() == 3


def test_a_csv_row_can_set_its_own_options(rich_alice, alice_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("rows.csv", b"prompt,n\nA fox,1\nA kite,3\n", content_type="text/csv")
    page = alice_client.post("/batches/new/text-to-image/", {**OPTIONS, "csv_file": upload, "preview": "1"})
    assert "2 prompts for 4 credits" in page.content.decode()


def test_the_whole_batch_is_refused_when_the_balance_is_short(alice, alice_client):
    ledger.grant(alice, 2, key="test:grant:two")
    page = preview(alice_client)
    assert "You are 1 credits short" in page.content.decode()
    with pytest.raises(ledger.InsufficientCredits):
        services.create_batch(alice, "text2image", OPTIONS, rows())
    assert Batch.objects.count() == 0 and Generation.objects.count() == 0
    assert ledger.balance_of(alice) == 2


def test_a_bad_row_refuses_the_batch_before_any_charge(rich_alice):
    with pytest.raises(ValidationError, match="Row 2: "):
        services.create_batch(rich_alice, "text2image", OPTIONS, rows("ok\n" + "x" * 3000))
    assert Generation.objects.count() == 0 and ledger.balance_of(rich_alice) == 1000


def test_the_batch_skips_the_per_person_queue_cap(rich_alice, settings):
    settings.MAX_QUEUED_PER_USER = 2
    batch = services.create_batch(rich_alice, "text2image", OPTIONS, rows("a\nb\nc\nd\ne"))
    assert batch.items.count() == 5


def test_a_failed_row_is_refunded_alone_and_can_be_retried(rich_alice, alice_client):
    batch = services.create_batch(rich_alice, "text2image", OPTIONS, rows())
    first = batch.items.get(row=1).generation
    generation_services.transition(first.pk, [first.status], Status.FAILED, error_message="boom")
    assert ledger.balance_of(rich_alice) == 998
    progress = services.progress(batch)
    assert (progress.done, progress.failed, progress.running) == (0, 1, 2)
    assert "0 done, 1 failed, 2 running, of 3." in alice_client.get(f"/batches/{batch.pk}/").content.decode()

    response = alice_client.post(f"/batches/{batch.pk}/retry/")
    assert response.status_code == 302
    item = batch.items.get(row=1)
    assert item.generation_id != first.pk and item.generation.prompt == first.prompt
    assert Generation.objects.filter(pk=first.pk, status=Status.FAILED).exists()  # still in the gallery
    assert ledger.balance_of(rich_alice) == 997


def test_download_all_streams_a_zip_of_every_result_in_row_order(rich_alice, alice_client, bob, client):
    batch = services.create_batch(rich_alice, "text2image", OPTIONS, rows())
    for item in batch.items.select_related("generation"):
        Asset.objects.create(
            generation=item.generation,
            kind=Asset.Kind.IMAGE,
            file=ContentFile(f"image {item.row}".encode() * 1000, name=f"r{item.row}.png"),
            content_type="image/png",
        )
        Generation.objects.filter(pk=item.generation_id).update(status=Status.SUCCEEDED)
    response = alice_client.get(f"/batches/{batch.pk}/download/")
    assert response.streaming and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert [n[:4] for n in names] == ["001-", "002-", "003-"]
    assert archive.read(names[1]) == b"image 2" * 1000

    client.force_login(bob)
    for url in (f"/batches/{batch.pk}/", f"/batches/{batch.pk}/download/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/batches/{batch.pk}/retry/").status_code == 404
    assert f"#{batch.pk}" not in client.get("/batches/").content.decode()


def test_a_big_batch_never_holds_back_someone_elses_single_job(rich_alice, rich_bob):
    from generations import fair_queue

    services.create_batch(rich_alice, "text2image", OPTIONS, rows("\n".join(f"row {i}" for i in range(20))))
    single = generation_services.create_generation(
        rich_bob, "text2image", {**OPTIONS, "n": 1, "prompt": "One fox", "negative_prompt": ""}
    )
    assert Generation.objects.filter(status=Status.QUEUED).count() == 21
    # Bob's job arrived last, behind twenty of Alice's, and still goes out within the first two.
    first_two = [pk for pk, _due in fair_queue.in_turn(fair_queue.waiting_for_slot(), 2)]
    assert single.pk in first_two
