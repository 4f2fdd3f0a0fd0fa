"""Credit only what was paid: a complete Checkout Session for another amount or currency,
or one that needed no payment, is held for staff review instead of credited."""

import pytest
from django.contrib.auth.models import Permission

from billing import ledger, payments
from billing.models import Purchase
from tests.billing.stripe_support import SESSION_ID, entries_for

pytest_plugins = ["tests.billing.stripe_fixtures"]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"amount_total": 2500}, "Stripe charged 2500 usd, the pack costs 2000 usd"),
        ({"currency": "eur"}, "Stripe charged 2000 eur, the pack costs 2000 usd"),
        ({"payment_status": "no_payment_required", "amount_total": 0}, "Stripe took no payment"),
    ],
    ids=["amount", "currency", "coupon"],
)
def test_a_session_not_for_the_packs_price_is_held_not_credited(fake_stripe, purchase, extra, reason):
    fake_stripe.add_session(purchase, **extra)
    assert payments.fulfill_checkout(SESSION_ID).outcome == "review"
    assert payments.fulfill_checkout(SESSION_ID, source="reconciler").outcome == "review"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REVIEW
    assert reason in purchase.error
    assert purchase.paid_at is None
    assert ledger.balance_of(purchase.user) == 0
    assert purchase.log.filter(message__startswith="Held for review").count() == 1


def test_the_buyer_sees_being_reviewed(client, fake_stripe, purchase):
    fake_stripe.add_session(purchase, amount_total=100)
    client.force_login(purchase.user)
    page = client.get(f"/credits/buy/success/?session_id={SESSION_ID}").content.decode()
    assert "Being reviewed" in page and "credits added" not in page
    history = client.get("/credits/purchases/").content.decode()
    assert "Being reviewed" in history


def test_staff_approve_once_and_the_pack_is_credited_once(client, staff, fake_stripe, purchase):
    fake_stripe.add_session(purchase, amount_total=2500)
    payments.fulfill_checkout(SESSION_ID)
    client.force_login(staff)
    for _ in range(2):
        response = client.post(
            "/admin/billing/purchase/",
            {"action": "approve_after_review", "_selected_action": [purchase.pk]},
            follow=True,
        )
        assert response.status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    assert ledger.balance_of(purchase.user) == 1200
    assert purchase.log.filter(message="Approved after review", actor=staff).count() == 1


def test_a_rejected_purchase_is_never_credited_later(client, staff, fake_stripe, purchase):
    fake_stripe.add_session(purchase, payment_status="no_payment_required", amount_total=0)
    payments.fulfill_checkout(SESSION_ID)
    client.force_login(staff)
    client.post(
        "/admin/billing/purchase/", {"action": "reject_after_review", "_selected_action": [purchase.pk]}
    )
    assert payments.fulfill_checkout(SESSION_ID, source="reconciler").outcome == "rejected"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REJECTED
    assert ledger.balance_of(purchase.user) == 0


def test_reviewing_needs_its_own_permission(client, fake_stripe, purchase, django_user_model):
    fake_stripe.add_session(purchase, amount_total=2500)
    payments.fulfill_checkout(SESSION_ID)
    clerk = django_user_model.objects.create_user(email="clerk@example.org", password="x" * 12, is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_purchase", "change_purchase"], content_type__app_label="billing"
        )
    )
    client.force_login(clerk)
    page = client.get("/admin/billing/purchase/").content.decode()
    assert "fulfil_from_stripe" in page and "approve_after_review" not in page
    client.post(
        "/admin/billing/purchase/", {"action": "approve_after_review", "_selected_action": [purchase.pk]}
    )
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REVIEW
    assert ledger.balance_of(purchase.user) == 0
