"""The site-wide pulse: every signed-in page asks /pulse/ now and then, and the answer
refreshes the credit badge and brings a notice (toast) for each generation that finished
while the person was elsewhere on the site."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ledger
from generations import pulse, services
from generations.models import Generation, Status

HTMX = {"HX-Request": "true"}
BADGE = re.compile(r'<span class="badge[^"]*" id="balance-badge"[^>]*hx-swap-oob="true">([^<]*)</span>')
POLLER = re.compile(r'<div id="pulse"[^>]*>')


def make(
    owner, status: str = Status.PROCESSING, *, cost: int = 0, prompt: str = "A lighthouse at dusk"
) -> Generation:
    now = timezone.now()
    return Generation.objects.create(
        owner=owner,
        kind="text2video",
        provider="fake",
        model_name="kling-v2-6",
        mode="pro",
        prompt=prompt,
        params={"duration": "5"},
        cost=cost,
        status=status,
        finished_at=now if status in (Status.SUCCEEDED, Status.FAILED) else None,
        assets_saved_at=now if status == Status.SUCCEEDED else None,
    )


def finish(generation: Generation) -> None:
    now = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, finished_at=now, assets_saved_at=now
    )


def ask(client, *, on: str = "/credits/", language: str = "en"):
    headers = {**HTMX, "HX-Current-URL": f"http://testserver{on}", "Accept-Language": language}
    return client.get("/pulse/", headers=headers)


def toasts(body: str) -> list[str]:
    return re.findall(r'id="(toast-[\w-]+)"', body)


@pytest.fixture
def watched(alice_client):
    """Alice's browser has asked once: from here on, what finishes is news."""
    assert ask(alice_client).status_code == 200
    return alice_client


# --- every page carries the one poller ------------------------------------------------------


def test_it_puts_one_poller_and_a_toast_region_on_signed_in_pages(alice_client):
    body = alice_client.get("/credits/").content.decode()
    [tag] = POLLER.findall(body)
    assert 'hx-get="/pulse/"' in tag
    assert "every 5s [document.visibilityState === 'visible']" in tag
    assert '<div id="toasts" class="toasts" aria-live="polite"' in body


def test_signed_out_pages_have_no_poller(client, db):
    body = client.get("/").content.decode()
    assert 'id="pulse"' not in body
    assert 'id="toasts"' not in body


def test_a_signed_out_ask_stops_the_poller(client, db):
    response = client.get("/pulse/", headers=HTMX)
    assert response.status_code == 200
    assert response.content.decode() == '<div id="pulse" hidden></div>'


def test_a_plain_request_gets_no_fragment(alice_client):
    assert alice_client.get("/pulse/").content.decode() == '<div id="pulse" hidden></div>'


# --- the badge ----------------------------------------------------------------------------


def test_the_badge_follows_a_refund_made_in_the_background(alice_client, alice):
    ledger.grant(alice, 1000, key="test:alice", memo="Test credits")
    generation = make(alice, cost=40)
    ledger.charge(alice, 40, key=f"gen:{generation.pk}:charge", generation=generation)
    assert 'title="Your credit balance">960<' in alice_client.get("/credits/").content.decode()

    assert services.fail(generation.pk, code="provider_failed", message="It could not be made.")
    assert BADGE.findall(ask(alice_client).content.decode()) == ["1,000"]


def test_the_badge_follows_a_grant_or_charge_made_elsewhere(alice_client, alice):
    assert BADGE.findall(ask(alice_client).content.decode()) == ["0"]
    ledger.grant(alice, 1200, key="test:alice", memo="Test credits")
    assert BADGE.findall(ask(alice_client).content.decode()) == ["1,200"]
    # A charge made elsewhere (the API, another tab) too.
    generation = make(alice, cost=200)
    ledger.charge(alice, 200, key=f"gen:{generation.pk}:charge", generation=generation)
    assert BADGE.findall(ask(alice_client).content.decode()) == ["1,000"]


def test_the_badge_marks_a_negative_balance(alice_client, alice, monkeypatch):
    monkeypatch.setattr(ledger, "balance_of", lambda user: -3)
    assert 'class="badge badge-danger" id="balance-badge"' in ask(alice_client).content.decode()


# --- the interval -------------------------------------------------------------------------


def test_it_asks_often_while_work_is_under_way_and_seldom_otherwise(alice_client, alice):
    assert f"every {pulse.IDLE_SECONDS}s" in POLLER.findall(ask(alice_client).content.decode())[0]
    generation = make(alice, Status.QUEUED)
    assert f"every {pulse.BUSY_SECONDS}s" in POLLER.findall(ask(alice_client).content.decode())[0]
    finish(generation)
    assert f"every {pulse.IDLE_SECONDS}s" in POLLER.findall(ask(alice_client).content.decode())[0]


def test_someone_elses_work_does_not_quicken_the_pulse(alice_client, bob):
    make(bob, Status.PROCESSING)
    assert f"every {pulse.IDLE_SECONDS}s" in POLLER.findall(ask(alice_client).content.decode())[0]


# --- the toasts ---------------------------------------------------------------------------


def test_a_generation_that_finishes_meanwhile_is_told_once_with_a_link(watched, alice):
    generation = make(alice, Status.PROCESSING)
    assert toasts(ask(watched).content.decode()) == []
    finish(generation)

    body = ask(watched).content.decode()
    assert toasts(body) == [f"toast-gen-{generation.pk}"]
    assert 'hx-swap-oob="beforeend:#toasts"' in body
    assert "Your text to video is ready" in body
    assert f'href="/generations/{generation.pk}/"' in body
    assert 'data-dismiss-toast aria-label="Dismiss"' in body
    # Told once: the next ask (on this page or the next one) has nothing new.
    assert toasts(ask(watched, on="/generations/").content.decode()) == []


def test_a_failure_says_the_credits_came_back(watched, alice):
    ledger.grant(alice, 100, key="test:alice", memo="Test credits")
    generation = make(alice, cost=40)
    ledger.charge(alice, 40, key=f"gen:{generation.pk}:charge", generation=generation)
    services.fail(generation.pk, code="provider_failed", message="It could not be made.")

    body = ask(watched).content.decode()
    assert toasts(body) == [f"toast-gen-{generation.pk}"]
    assert "toast-error" in body
    assert "Your text to video could not be made" in body
    assert "Your 40 credits were refunded." in body


def test_it_is_not_told_on_the_generations_own_page(watched, alice):
    generation = make(alice, Status.PROCESSING)
    finish(generation)
    assert toasts(ask(watched, on=f"/generations/{generation.pk}/").content.decode()) == []
    # ...nor later on another page: the person saw it finish.
    assert toasts(ask(watched, on="/generations/").content.decode()) == []


def test_what_finished_before_the_browser_first_asked_is_no_news(alice_client, alice):
    make(alice, Status.SUCCEEDED)
    assert toasts(ask(alice_client).content.decode()) == []


def test_a_success_whose_files_are_still_being_saved_waits_for_them(watched, alice):
    generation = make(alice, Status.PROCESSING)
    Generation.objects.filter(pk=generation.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    assert toasts(ask(watched).content.decode()) == []
    Generation.objects.filter(pk=generation.pk).update(assets_saved_at=timezone.now())
    assert toasts(ask(watched).content.decode()) == [f"toast-gen-{generation.pk}"]


def test_many_at_once_are_one_notice(watched, alice):
    for _ in range(pulse.MAX_NOTICES + 2):
        finish(make(alice, Status.PROCESSING))
    body = ask(watched).content.decode()
    assert toasts(body) == ["toast-count"]
    assert f"{pulse.MAX_NOTICES + 2} generations have finished." in body
    assert 'href="/generations/"' in body


def test_old_news_is_not_told(watched, alice):
    generation = make(alice, Status.PROCESSING)
    finish(generation)
    Generation.objects.filter(pk=generation.pk).update(
        assets_saved_at=timezone.now() - pulse.NEWS_WINDOW - timedelta(minutes=1)
    )
    session = watched.session
    session[pulse.SESSION_KEY] = (timezone.now() - timedelta(days=3)).isoformat()
    session.save()
    assert toasts(ask(watched).content.decode()) == []


def test_someone_elses_generation_is_never_told(watched, bob):
    finish(make(bob, Status.PROCESSING))
    assert toasts(ask(watched).content.decode()) == []


def test_a_deleted_generation_is_not_told(watched, alice):
    generation = make(alice, Status.PROCESSING)
    finish(generation)
    services.delete_generation(alice, generation.pk)
    assert toasts(ask(watched).content.decode()) == []


def test_the_toast_speaks_chinese(watched, alice):
    finish(make(alice, Status.PROCESSING))
    body = ask(watched, language="zh-CN,zh;q=0.9").content.decode()
    assert "已生成" in body
    assert not re.search(r"Dismiss|Open|ready", body)


def test_an_ask_costs_a_handful_of_queries_and_writes_nothing_when_nothing_finished(watched, alice):
    make(alice, Status.PROCESSING)
    with CaptureQueriesContext(connection) as queries:
        ask(watched)
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]
    assert writes == []
    assert len(queries) <= 5, [q["sql"] for q in queries]
