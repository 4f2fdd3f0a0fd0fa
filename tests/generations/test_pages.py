"""Gallery, detail, live status, files, delete: what the owner sees, and the 404 everyone
else gets."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import LedgerEntry
from generations import follow, services
from generations.models import Asset, Generation, Kind, Status
from tests.generations.conftest import cleaned, upload
from tests.pages import without_pulse

HTMX = {"HX-Request": "true"}


@pytest.fixture
def finished(rich_alice, fake, commit):
    """A finished, copied generation of each kind for alice."""

    def make(kind: str = "text2video", **overrides) -> Generation:
        with commit():
            generation = services.create_generation(
                rich_alice, kind, cleaned(kind, **overrides), f"done-{kind}-{Generation.objects.count()}"
            )
        generation.refresh_from_db()
        fake.succeed(generation.task_id)
        with commit():
            follow.refresh(generation.pk)
        generation.refresh_from_db()
        assert generation.assets_saved_at is not None
        return generation

    return make


def make_rows(owner, count: int) -> list[Generation]:
    """Gallery rows without the pipeline: mixed kinds and states, with outputs."""
    kinds = ["text2image", "text2video", "image2video"]
    statuses = [Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED, Status.PROCESSING, Status.QUEUED]
    rows = []
    for i in range(count):
        status = statuses[i % len(statuses)]
        generation = Generation.objects.create(
            owner=owner,
            kind=kinds[i % 3],
            provider="fake",
            model_name="kling-v2-6" if i % 3 else "kling-v2-1",
            mode="pro" if i % 3 else "",
            prompt=f"Prompt number {i}",
            params={"n": 2} if i % 3 == 0 else {"duration": "5"},
            cost=0,
            status=status,
            finished_at=timezone.now() if status in (Status.SUCCEEDED, Status.FAILED) else None,
            assets_saved_at=timezone.now() if status == Status.SUCCEEDED else None,
        )
        if status == Status.SUCCEEDED:
            for index in range(2 if i % 3 == 0 else 1):
                Asset.objects.create(
                    generation=generation,
                    kind="image" if i % 3 == 0 else "video",
                    index=index,
                    file=f"results/{i}-{index}.bin",
                    thumbnail=f"results/{i}-{index}-thumb.jpg",
                    content_type="image/png" if i % 3 == 0 else "video/mp4",
                    width=640,
                    height=360,
                )
        rows.append(generation)
    return rows


def gallery_queries(client) -> int:
    cache.clear()  # the count holds with the time estimates missing from the cache too
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/generations/")
    assert response.status_code == 200
    return len(queries)


def test_the_gallery_takes_the_same_number_of_queries_for_1_or_100(alice, alice_client):
    make_rows(alice, 1)
    make_rows(alice, 4)  # at least one of every state, in flight included
    counts = {}
    for total in (5, 10, 100):
        make_rows(alice, total - Generation.objects.count())
        counts[total] = gallery_queries(alice_client)
    assert len(set(counts.values())) == 1, counts
    assert counts[100] <= 8


OUTPUTS = {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg"}


def cards_of_every_kind_and_state(owner) -> None:
    """Of every kind, a card in every state a card shows differently (waiting, in Kling's
    queue, generating, saving, ready with its outputs, failed)."""
    now = timezone.now()
    states = [
        {"status": Status.QUEUED, "wait_reason": "slot"},
        {"status": Status.SUBMITTED},
        {"status": Status.PROCESSING},
        {"status": Status.SUCCEEDED, "finished_at": now},
        {"status": Status.SUCCEEDED, "finished_at": now, "assets_saved_at": now},
        {"status": Status.FAILED, "finished_at": now, "error_message": "Kling refused it."},
    ]
    for kind in Kind.values:
        output = (
            "audio" if kind in ("text2audio", "video2audio") else ("image" if "image" in kind else "video")
        )
        for state in states:
            generation = Generation.objects.create(
                owner=owner,
                kind=kind,
                provider="fake",
                model_name="kling-v2-6",
                mode="pro",
                duration=5,
                prompt=f"A {kind} in state {state['status']}",
                params={"n": 2},
                cost=0,
                **state,
            )
            if generation.assets_saved_at:
                for index in range(2):
                    Asset.objects.create(
                        generation=generation,
                        kind=output,
                        index=index,
                        file=f"results/{generation.pk}-{index}.bin",
                        thumbnail="" if output == "audio" else f"results/{generation.pk}-{index}.jpg",
                        content_type=OUTPUTS[output],
                        width=None if output == "audio" else 640,
                        height=None if output == "audio" else 360,
                        duration=4.5 if output == "audio" else None,
                    )


def test_cards_read_only_their_columns_without_a_query_per_card(alice, alice_client, bob):
    """The gallery reads only the columns its cards show (views.CARD_FIELDS): a column a
    card uses and the list leaves out would be read again card by card."""
    make_rows(bob, 1)
    bobs = Client()
    bobs.force_login(bob)
    one_card = gallery_queries(bobs)
    cards_of_every_kind_and_state(alice)
    for kind in Kind.values:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            page = alice_client.get("/generations/", {"kind": kind})
        assert page.content.decode().count('class="gallery-item"') == 6
        assert len(queries) == one_card, kind
        live = [g for g in Generation.objects.filter(owner=alice, kind=kind) if g.is_live]
        with CaptureQueriesContext(connection) as polled:
            answer = alice_client.get("/generations/live/", {"id": [g.pk for g in live]}, headers=HTMX)
        assert answer.content.decode().count('class="gallery-item"') == 4
        assert len(polled) <= 5, kind
    audio = alice_client.get("/generations/", {"kind": "text2audio"}).content.decode()
    assert audio.count("<audio controls") == 1


def test_the_gallery_filters_and_pages(alice, bob, alice_client):
    rows = make_rows(alice, 30)
    make_rows(bob, 3)
    page = alice_client.get("/generations/").content.decode()
    assert "Page 1 of 2" in page
    assert page.count('class="gallery-item"') == 24
    assert "Prompt number 29" in page  # newest first

    second = alice_client.get("/generations/?page=2").content.decode()
    assert second.count('class="gallery-item"') == 6

    videos = alice_client.get("/generations/?kind=text2video").content.decode()
    assert videos.count('class="gallery-item"') == len([r for r in rows if r.kind == "text2video"])
    failed = alice_client.get("/generations/?status=failed").content.decode()
    assert failed.count('class="gallery-item"') == len([r for r in rows if r.status == Status.FAILED])
    running = alice_client.get("/generations/?status=in_progress&kind=text2image").content.decode()
    expected = [r for r in rows if r.kind == "text2image" and r.status in (Status.PROCESSING, Status.QUEUED)]
    assert running.count('class="gallery-item"') == len(expected)
    assert alice_client.get("/generations/?kind=nonsense&status=nonsense&page=x").status_code == 200


def test_the_gallery_keeps_in_flight_items_live(alice, alice_client):
    done, _, _, running, _ = make_rows(alice, 5)
    page = without_pulse(alice_client.get("/generations/").content.decode())
    # One poller for the page (tests/generations/test_live_cards.py), asking for the live ones.
    assert page.count("hx-get=") == 1
    assert f"id={running.pk}&amp;" in page or f"id={running.pk}&quot;" in page or f'id={running.pk}"' in page
    assert f"id={done.pk}&amp;" not in page and f'id={done.pk}"' not in page
    assert 'class="progress-bar"' in page


def test_the_status_fragment_stops_polling_at_a_terminal_state(rich_alice, alice_client, fake, commit):
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "live")
    generation.refresh_from_db()
    url = f"/generations/{generation.pk}/status/"
    live = alice_client.get(url, headers=HTMX)
    assert live.status_code == 200
    body = live.content.decode()
    assert 'hx-trigger="every 2s [document.visibilityState === ' in body
    assert "elapsed" in body and 'class="progress-bar"' in body
    assert "<html" not in body  # the fragment only

    fake.succeed(generation.task_id)
    with commit():
        follow.refresh(generation.pk)
    done = alice_client.get(url, headers=HTMX).content.decode()
    assert "hx-trigger" not in done and "hx-get" not in done
    assert "<video" in done

    card = alice_client.get(url + "?view=card", headers=HTMX).content.decode()
    assert 'class="gallery-item"' in card and "hx-trigger" not in card
    assert alice_client.get(url)["Location"] == f"/generations/{generation.pk}/"  # not htmx: the page


def test_the_detail_page_shows_the_video_with_its_poster_and_download(finished, alice_client):
    generation = finished("text2video")
    asset = generation.assets.get()
    page = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert "<video" in page
    assert f'poster="/generations/{generation.pk}/files/{asset.pk}/thumbnail/"' in page
    name = f"kling-text-to-video-{generation.pk}-a-red-fox-trotting-through-fresh-snow-at.mp4"
    assert generation.download_name(asset) == name
    assert f'href="/generations/{generation.pk}/files/{asset.pk}/{name}?download=1"' in page
    assert "Kling 2.6" in page and "Professional" in page and "25 credits" in page
    assert "Sent to Kling" in page and "Saved to your gallery" in page
    assert f'href="/generate/text-to-video/?remix={generation.pk}"' in page

    download = alice_client.get(f"/generations/{generation.pk}/files/{asset.pk}/{name}?download=1")
    assert download.status_code == 200
    assert download["Content-Type"] == "video/mp4"
    assert download["Content-Disposition"] == f'attachment; filename="{name}"'
    assert b"".join(download.streaming_content)[4:8] == b"ftyp"

    poster = alice_client.get(f"/generations/{generation.pk}/files/{asset.pk}/thumbnail/")
    assert poster["Content-Type"] == "image/jpeg"
    assert b"".join(poster.streaming_content)[:3] == b"\xff\xd8\xff"


def test_videos_can_be_seeked(finished, alice_client):
    generation = finished("text2video")
    asset = generation.assets.get()
    url = f"/generations/{generation.pk}/files/{asset.pk}/{generation.download_name(asset)}"
    part = alice_client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{asset.size}"
    assert len(b"".join(part.streaming_content)) == 100
    tail = alice_client.get(url, headers={"Range": "bytes=-10"})
    assert tail["Content-Range"] == f"bytes {asset.size - 10}-{asset.size - 1}/{asset.size}"
    assert alice_client.get(url, headers={"Range": f"bytes={asset.size + 5}-"}).status_code == 416


def test_the_detail_page_shows_every_image(finished, alice_client):
    generation = finished("text2image", n=3)
    page = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    for asset in generation.assets.all():
        assert f"/generations/{generation.pk}/files/{asset.pk}/thumbnail/" in page
        assert generation.download_name(asset).endswith(f"-{asset.index + 1}.png")
    assert "Download 3" in page


def test_the_detail_page_explains_a_failure_and_the_refund(rich_alice, alice_client, fake, commit):
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "f")
    generation.refresh_from_db()
    fake.fail(generation.task_id, "Failure to pass the risk control system")
    with commit():
        follow.refresh(generation.pk)
    page = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert "could not be made" in page
    assert "Kling declined this request under its content rules." in page
    assert "Your 25 credits were refunded." in page
    assert "risk control" not in page  # Kling's own words are for staff


def test_deleting_hides_a_generation_and_keeps_its_ledger(finished, alice_client):
    generation = finished("text2video")
    confirm = alice_client.get(f"/generations/{generation.pk}/delete/")
    assert confirm.status_code == 200 and b"Delete" in confirm.content
    response = alice_client.post(f"/generations/{generation.pk}/delete/")
    assert response["Location"] == "/generations/"
    assert alice_client.get(f"/generations/{generation.pk}/").status_code == 404
    assert f"/generations/{generation.pk}/" not in alice_client.get("/generations/").content.decode()
    assert LedgerEntry.objects.filter(generation=generation, kind="charge").count() == 1
    assert Generation.objects.get(pk=generation.pk).deleted_at is not None


def owner_only_urls(generation: Generation) -> list[str]:
    asset = generation.assets.first()
    return [
        f"/generations/{generation.pk}/",
        f"/generations/{generation.pk}/status/",
        f"/generations/{generation.pk}/status/?view=card",
        f"/generations/{generation.pk}/delete/",
        f"/generations/{generation.pk}/files/{asset.pk}/{generation.download_name(asset)}",
        f"/generations/{generation.pk}/files/{asset.pk}/anything.mp4?download=1",
        f"/generations/{generation.pk}/files/{asset.pk}/thumbnail/",
        f"/generations/{generation.pk}/inputs/image/",
        f"/generate/{generation.kind_slug}/?remix={generation.pk}",
    ]


@pytest.mark.parametrize("who", ["bob", "staff"])
def test_nobody_but_the_owner_sees_a_generation_or_its_files(who, finished, alice_client, client, request):
    generation = finished("image2video")
    assert generation.input_image
    for url in owner_only_urls(generation):
        assert alice_client.get(url, headers=HTMX).status_code in (200, 302), url

    client.force_login(request.getfixturevalue(who))
    for url in owner_only_urls(generation):
        assert client.get(url, headers=HTMX).status_code == 404, url
    assert client.post(f"/generations/{generation.pk}/delete/").status_code == 404
    assert Generation.objects.get(pk=generation.pk).deleted_at is None
    assert f"/generations/{generation.pk}/" not in client.get("/generations/").content.decode()


def test_an_asset_of_one_generation_is_not_served_under_another(finished, alice_client):
    first, second = finished("text2video"), finished("text2video")
    asset = first.assets.get()
    assert alice_client.get(f"/generations/{second.pk}/files/{asset.pk}/x.mp4").status_code == 404


def test_people_who_are_not_logged_in_are_sent_to_log_in(finished, client):
    generation = finished("text2video")
    for url in [*owner_only_urls(generation)[:1], "/generations/", "/generate/", "/generate/text-to-image/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_the_input_picture_is_served_to_its_owner(rich_alice, alice_client, commit):
    with commit():
        generation = services.create_generation(
            rich_alice, "image2video", cleaned("image2video", image=upload("start.jpg", fmt="JPEG")), "in"
        )
    response = alice_client.get(f"/generations/{generation.pk}/inputs/image/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert alice_client.get(f"/generations/{generation.pk}/inputs/image_tail/").status_code == 404
    assert alice_client.get(f"/generations/{generation.pk}/inputs/other/").status_code == 404


def test_a_generation_waiting_for_a_slot_says_so_on_its_page_and_card(rich_alice, alice_client, commit):
    with commit():
        made = [
            services.create_generation(rich_alice, "text2video", cleaned("text2video"), f"slot-{n}")
            for n in range(6)  # the fake limiter has 5 slots
        ]
    waiting = Generation.objects.get(pk=made[-1].pk)
    assert waiting.status == Status.QUEUED and waiting.wait_reason == "slot"
    page = alice_client.get(waiting.get_absolute_url()).content.decode()
    assert "Waiting for a free slot." in page
    assert "Waiting to be sent" in page
