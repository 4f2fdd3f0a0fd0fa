"""Admin: follow and fix generations, edit prices, read the capability table."""

from __future__ import annotations

import pytest

from billing import ledger
from billing.models import LedgerEntry
from generations import services
from generations.models import Generation, Price, Status
from tests.generations.conftest import cleaned

CHANGELIST = "/admin/generations/generation/"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def running(rich_alice, commit) -> Generation:
    with commit():
        generation = services.create_generation(rich_alice, "text2video", cleaned("text2video"), "adm")
    generation.refresh_from_db()
    return generation


def test_the_changelist_filters_and_searches(staff_client, running):
    for query in (
        "",
        "?status__exact=submitted",
        "?kind__exact=text2video",
        "?model_name__exact=kling-v2-6",
        f"?owner__id__exact={running.owner_id}",
        "?q=fox",
        f"?q={running.task_id}",
        f"?q={running.external_task_id}",
        "?q=alice@example.org",
    ):
        response = staff_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        assert f"/admin/generations/generation/{running.pk}/change/" in response.content.decode(), query
    for query in (
        "?q=nothing-like-it",
        "?copy=failing",
        "?copy=given_up",
        "?copy=saved",
        "?status__exact=failed",
    ):
        assert (
            f"/generation/{running.pk}/change/" not in staff_client.get(CHANGELIST + query).content.decode()
        )
    assert staff_client.get(f"/admin/generations/generation/{running.pk}/change/").status_code == 200


def test_poll_now_asks_the_provider(staff_client, running, fake, commit):
    fake.succeed(running.task_id)
    with commit():
        response = staff_client.post(CHANGELIST, {"action": "poll_now", "_selected_action": [running.pk]})
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.status == Status.SUCCEEDED and running.assets.count() == 1


def test_fail_and_refund_asks_for_a_reason_first(staff_client, running, commit, rich_alice):
    confirm = staff_client.post(CHANGELIST, {"action": "fail_and_refund", "_selected_action": [running.pk]})
    assert confirm.status_code == 200 and b"What the person is told" in confirm.content
    assert Generation.objects.get(pk=running.pk).status == Status.SUBMITTED

    with commit():
        done = staff_client.post(
            CHANGELIST,
            {
                "action": "fail_and_refund",
                "_selected_action": [running.pk],
                "apply": "1",
                "reason": "Stopped: Kling's outage of this morning lost this job.",
            },
        )
    assert done.status_code == 302
    running.refresh_from_db()
    assert running.status == Status.FAILED and running.error_code == "stopped_by_staff"
    assert running.error_message == "Stopped: Kling's outage of this morning lost this job."
    assert LedgerEntry.objects.filter(generation=running, kind="refund").count() == 1
    assert ledger.balance_of(rich_alice) == 1000


def test_copy_results_again(staff_client, running, fake, commit):
    fake.succeed(running.task_id)
    with commit():
        staff_client.post(CHANGELIST, {"action": "poll_now", "_selected_action": [running.pk]})
    asset = running.assets.get()
    asset.file.delete(save=False)  # the stored copy was lost
    with commit():
        staff_client.post(CHANGELIST, {"action": "copy_results_again", "_selected_action": [running.pk]})
    running.refresh_from_db()
    assert running.assets_saved_at is not None
    new = running.assets.get()
    assert new.file.storage.exists(new.file.name)


def test_prices_are_editable_and_checked_against_the_table(staff_client, db):
    assert staff_client.get("/admin/generations/price/?kind__exact=text2video").status_code == 200
    price = Price.objects.get(kind="text2video", model_name="kling-v2-6", mode="pro", duration=5, audio=True)
    response = staff_client.post(
        f"/admin/generations/price/{price.pk}/change/",
        {
            "kind": "text2video",
            "model_name": "kling-v2-6",
            "mode": "pro",
            "duration": "5",
            "audio": "true",
            "credits": "60",
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert Price.objects.get(pk=price.pk).credits == 60
    bad = staff_client.post(
        "/admin/generations/price/add/",
        {
            "kind": "text2video",
            "model_name": "kling-v9",
            "mode": "",
            "audio": "unknown",
            "credits": "5",
            "active": "on",
        },
    )
    assert b"not in the capability table" in bad.content


def test_the_capability_table_is_visible_to_staff(staff_client, alice):
    from django.test import Client

    alice_client = Client()
    alice_client.force_login(alice)
    page = staff_client.get("/admin/generations/price/capabilities/").content.decode()
    assert "kling-v2-6" in page and "Professional mode, without sound" in page
    assert "Switched off (KLING_DISABLED_MODELS): kling-v1." in page
    assert 'href="capabilities/"' in staff_client.get("/admin/generations/price/").content.decode()
    assert alice_client.get("/admin/generations/price/capabilities/").status_code == 302  # to the admin login
