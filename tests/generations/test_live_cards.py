"""The gallery follows its live cards with one poller per page: one request brings every
live card back as an out-of-band swap, and polling stops when none is live."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from generations.models import Asset, Generation, Status
from generations.views import GALLERY_PAGE_SIZE
from tests.pages import without_pulse

HTMX = {"HX-Request": "true"}
POLLER = re.compile(r'<div id="gallery-poller"[^>]*>')


def make(owner, status: str = Status.PROCESSING, **extra) -> Generation:
    generation = Generation.objects.create(
        owner=owner,
        kind="text2video",
        provider="fake",
        model_name="kling-v2-6",
        mode="pro",
        prompt=f"A {status} clip",
        params={"duration": "5"},
        cost=0,
        status=status,
        finished_at=timezone.now() if status in (Status.SUCCEEDED, Status.FAILED) else None,
        assets_saved_at=timezone.now() if status == Status.SUCCEEDED else None,
        **extra,
    )
    if status == Status.SUCCEEDED:
        add_output(generation)
    return generation


def add_output(generation: Generation) -> Asset:
    return Asset.objects.create(
        generation=generation,
        kind="video",
        index=0,
        file=f"results/{generation.pk}.mp4",
        thumbnail=f"results/{generation.pk}-thumb.jpg",
        content_type="video/mp4",
        width=640,
        height=360,
    )


def poller(body: str) -> str:
    found = POLLER.findall(body)
    assert len(found) == 1, found
    return found[0]


def polled_ids(body: str) -> list[int]:
    """The ids the page's poller will ask for next ([] when it no longer polls)."""
    match = re.search(r'hx-get="([^"]*)"', poller(body))
    if not match:
        return []
    url = html.unescape(match.group(1))
    assert urlsplit(url).path == reverse("generations:live_cards")
    return [int(value) for value in parse_qs(urlsplit(url).query)["id"]]


def poll(client, ids, **headers):
    query = "&".join(f"id={i}" for i in ids)
    return client.get(f"{reverse('generations:live_cards')}?{query}", headers={**HTMX, **headers})


def test_it_polls_once_per_page_however_many_cards_are_live(alice, alice_client):
    done = [make(alice, Status.SUCCEEDED) for _ in range(3)]
    statuses = [Status.QUEUED, Status.SUBMITTED, Status.PROCESSING] * 7
    live = [make(alice, status) for status in statuses[:20]]

    body = without_pulse(alice_client.get(reverse("generations:gallery")).content.decode())

    assert body.count('class="gallery-item"') == 23
    assert body.count("hx-trigger=") == 1 and body.count("hx-get=") == 1
    assert "every 3s [document.visibilityState === 'visible']" in html.unescape(poller(body))
    assert sorted(polled_ids(body)) == sorted(g.pk for g in live)
    assert not set(polled_ids(body)) & {g.pk for g in done}
    assert 'class="progress-bar"' in body


def test_a_page_with_nothing_live_does_not_poll(alice, alice_client):
    make(alice, Status.SUCCEEDED)
    make(alice, Status.FAILED)
    body = without_pulse(alice_client.get(reverse("generations:gallery")).content.decode())
    assert "hx-trigger" not in body and "hx-get" not in body
    assert polled_ids(body) == []


def test_one_poll_brings_every_live_card_out_of_band(alice, alice_client, django_assert_max_num_queries):
    live = [make(alice) for _ in range(20)]
    with django_assert_max_num_queries(5):
        response = poll(alice_client, [g.pk for g in live])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "<html" not in body
    for generation in live:
        assert f'<article class="gallery-item" id="gen-card-{generation.pk}" hx-swap-oob="true">' in body
    assert body.count('class="progress-bar"') == 20
    # The poller replaces itself (the request's own target) and keeps asking for all of them.
    assert "hx-swap-oob" not in poller(body) and 'hx-swap="outerHTML"' in poller(body)
    assert sorted(polled_ids(body)) == sorted(g.pk for g in live)


def test_a_poll_takes_the_same_queries_for_1_or_20_cards(alice, alice_client):
    live = [make(alice) for _ in range(20)]
    for generation in live:
        add_output(generation)  # partial outputs prefetched for every card
    counts = {}
    for size in (1, 20):
        with CaptureQueriesContext(connection) as queries:
            assert poll(alice_client, [g.pk for g in live[:size]]).status_code == 200
        counts[size] = len(queries)
    assert counts[1] == counts[20], counts


def test_a_finished_card_swaps_in_its_media_and_polling_stops(alice, alice_client):
    running, waiting = make(alice), make(alice, Status.QUEUED)

    Generation.objects.filter(pk=running.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now(), assets_saved_at=timezone.now()
    )
    asset = add_output(running)
    body = poll(alice_client, [running.pk, waiting.pk]).content.decode()
    card = body.split(f'id="gen-card-{running.pk}"', 1)[1].split("</article>", 1)[0]
    assert asset.thumbnail_url in card and "chip-succeeded" in card
    assert "progress-bar" not in card
    assert polled_ids(body) == [waiting.pk]  # the finished one is not asked for again

    Generation.objects.filter(pk=waiting.pk).update(status=Status.FAILED, finished_at=timezone.now())
    body = poll(alice_client, [waiting.pk]).content.decode()
    assert "chip-failed" in body
    assert polled_ids(body) == []
    assert "hx-get" not in body and "hx-trigger" not in body


def test_a_card_still_saving_its_results_stays_polled(alice, alice_client):
    saving = make(alice, Status.SUCCEEDED)
    Generation.objects.filter(pk=saving.pk).update(assets_saved_at=None)
    assert polled_ids(poll(alice_client, [saving.pk]).content.decode()) == [saving.pk]


@pytest.mark.parametrize("who", ["bob", "staff"])
def test_nobody_receives_another_persons_cards(who, alice, alice_client, client, request):
    mine = make(alice)
    other = request.getfixturevalue(who)
    theirs, deleted = make(other), make(alice, deleted_at=timezone.now())
    body = poll(alice_client, [mine.pk, theirs.pk, deleted.pk]).content.decode()
    assert f"gen-card-{mine.pk}" in body
    assert f"gen-card-{theirs.pk}" not in body and f"gen-card-{deleted.pk}" not in body
    assert polled_ids(body) == [mine.pk]

    client.force_login(other)
    body = poll(client, [mine.pk]).content.decode()
    assert f"gen-card-{mine.pk}" not in body and polled_ids(body) == []


@pytest.mark.parametrize(
    "ids",
    [
        list(range(1, GALLERY_PAGE_SIZE + 2)),  # more than one page holds
        ["abc"],
        ["-1"],
        ["1.5"],
        ["99999999999999999999"],
        ["\uff11"],  # a digit, but not an ASCII one
    ],
)
def test_it_refuses_odd_ids_with_a_400(alice_client, ids):
    assert poll(alice_client, ids).status_code == 400


def test_no_ids_is_an_empty_answer_that_stops_polling(alice_client):
    response = poll(alice_client, [])
    assert response.status_code == 200
    assert polled_ids(response.content.decode()) == []


def test_it_sends_a_browser_to_the_gallery_and_a_stranger_to_log_in(alice_client):
    assert alice_client.get(reverse("generations:live_cards"))["Location"] == reverse("generations:gallery")
    response = poll(Client(), [1])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
