from django.contrib.admin.models import LogEntry

from billing import ledger
from billing.models import Purchase, StripeEvent
from tests.billing.stripe_support import SESSION_ID, load_event

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_staff_can_edit_packs(client, staff, pack):
    client.force_login(staff)
    assert client.get("/admin/billing/creditpack/").status_code == 200
    response = client.post(
        f"/admin/billing/creditpack/{pack.pk}/change/",
        {
            "name": "Creator+",
            "credits": 1300,
            "price_minor": 2000,
            "currency": "usd",
            "badge": "Popular",
            "active": "on",
            "order": 2,
            "stripe_price_id": "",
        },
    )
    assert response.status_code == 302
    pack.refresh_from_db()
    assert (pack.name, pack.credits, pack.badge) == ("Creator+", 1300, "Popular")


def test_staff_find_purchases_by_email_or_session_id(client, staff, purchase, bob):
    Purchase.objects.create(user=bob, pack_name="Other", credits=1, amount_minor=1, currency="usd")
    client.force_login(staff)
    by_email = client.get("/admin/billing/purchase/?q=alice@example.org")
    assert by_email.context["cl"].result_count == 1
    by_session = client.get(f"/admin/billing/purchase/?q={SESSION_ID}")
    assert list(by_session.context["cl"].result_list) == [purchase]
    assert client.get("/admin/billing/purchase/?status__exact=pending").context["cl"].result_count == 2


def test_money_fields_are_read_only(client, staff, purchase):
    client.force_login(staff)
    response = client.get(f"/admin/billing/purchase/{purchase.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="amount_minor"' not in html
    assert 'name="credits"' not in html
    assert 'name="status"' not in html
    assert "$20.00" in html


def test_manual_fulfil_credits_and_leaves_an_audit_trail(client, staff, fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    client.force_login(staff)
    response = client.post(
        "/admin/billing/purchase/",
        {"action": "fulfil_from_stripe", "_selected_action": [purchase.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"credited" in response.content
    assert ledger.balance_of(purchase.user) == 1200
    trail = list(purchase.log.values_list("source", "actor__email", "message"))
    assert trail[0] == ("admin", "staff@example.org", "Manual fulfilment requested")
    assert trail[1][:2] == ("admin", "staff@example.org")
    assert "1200 credits added" in trail[1][2]
    assert LogEntry.objects.get(object_id=str(purchase.pk)).change_message == "Manual fulfilment: credited"

    # Again: nothing more is credited.
    client.post(
        "/admin/billing/purchase/", {"action": "fulfil_from_stripe", "_selected_action": [purchase.pk]}
    )
    assert ledger.balance_of(purchase.user) == 1200


def test_manual_fulfil_reports_an_unpaid_session(client, staff, fake_stripe, purchase):
    fake_stripe.add_session(purchase, payment_status="unpaid", status="open")
    client.force_login(staff)
    response = client.post(
        "/admin/billing/purchase/",
        {"action": "fulfil_from_stripe", "_selected_action": [purchase.pk]},
        follow=True,
    )
    assert b"not paid" in response.content
    assert ledger.balance_of(purchase.user) == 0


def test_staff_see_events_and_reprocess_them(
    client, staff, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    event = StripeEvent.objects.create(
        event_id="evt_failed",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
        status="failed",
        error="No purchase matches Checkout Session cs_test_x",
        attempts=1,
    )
    client.force_login(staff)
    listing = client.get("/admin/billing/stripeevent/?status__exact=failed")
    assert b"No purchase matches Checkout Session" in listing.content
    detail = client.get(f"/admin/billing/stripeevent/{event.pk}/change/")
    assert (
        b"checkout.session.completed" in detail.content
        and b"&quot;amount_total&quot;: 2000" in detail.content
    )

    fake_stripe.add_session(purchase)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/billing/stripeevent/", {"action": "reprocess", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert (event.status, event.error) == ("succeeded", "")
    assert ledger.balance_of(purchase.user) == 1200


def test_people_who_are_not_staff_cannot_open_the_billing_admin(alice_client):
    assert alice_client.get("/admin/billing/purchase/").status_code == 302
