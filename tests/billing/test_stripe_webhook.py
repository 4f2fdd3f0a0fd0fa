import json
import time

import pytest
from django.db import OperationalError

from billing import ledger, webhooks
from billing.models import Purchase, StripeEvent
from tests.billing.stripe_support import (
    SESSION_ID,
    WEBHOOK_URL,
    assert_ledger_consistent,
    entries_for,
    load_event,
    post_event,
    sign,
)

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_it_credits_a_paid_checkout(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    fake_stripe.add_session(purchase)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(webhook_client, load_event("checkout.session.completed"))
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "stored"}
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert purchase.stripe_payment_intent_id == "pi_3TestPaymentIntent0001"
    assert purchase.stripe_charge_id == "ch_3TestCharge00000001"
    assert purchase.stripe_customer_id == "cus_TestCustomer0001"
    assert purchase.receipt_url.startswith("https://pay.stripe.com/receipts/")
    assert ledger.balance_of(purchase.user) == 1200
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    event = StripeEvent.objects.get()
    assert (event.status, event.attempts, event.error) == ("succeeded", 1, "")
    assert event.payload["type"] == "checkout.session.completed"
    assert_ledger_consistent()


def test_it_processes_on_commit_not_inside_the_request(
    webhook_client, fake_stripe, purchase, django_capture_on_commit_callbacks
):
    fake_stripe.add_session(purchase)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_event(webhook_client, load_event("checkout.session.completed"))
    assert response.status_code == 200
    assert len(callbacks) == 1
    # Nothing was fetched from Stripe or credited while answering.
    assert fake_stripe.calls == []
    assert StripeEvent.objects.get().status == "received"
    assert ledger.balance_of(purchase.user) == 0


def test_it_does_not_trust_the_event_body(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    # The event says paid; Stripe, asked directly, says the payment has not arrived.
    fake_stripe.add_session(purchase, payment_status="unpaid")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(webhook_client, load_event("checkout.session.completed"))
    purchase.refresh_from_db()
    assert purchase.status == "pending"
    assert ledger.balance_of(purchase.user) == 0
    assert ("retrieve_checkout_session", SESSION_ID) in fake_stripe.calls


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=1,v1=deadbeef", "v1=abc"],
    ids=["missing", "empty", "garbage", "wrong-mac", "no-timestamp"],
)
def test_it_rejects_a_bad_signature(webhook_client, purchase, header):
    payload = json.dumps(load_event("checkout.session.completed"))
    headers = {} if header is None else {"Stripe-Signature": header}
    response = webhook_client.post(WEBHOOK_URL, payload, content_type="application/json", headers=headers)
    assert response.status_code == 400
    # A fixed answer: no exception text about how the check failed.
    assert response.json() == {"error": "invalid_signature"}
    assert StripeEvent.objects.count() == 0
    assert Purchase.objects.get().status == "pending"


def test_it_rejects_a_signature_made_with_another_secret(webhook_client, purchase):
    response = post_event(
        webhook_client, load_event("checkout.session.completed"), secret="whsec_someone_else"
    )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_it_rejects_a_body_changed_after_signing(webhook_client, purchase):
    payload = json.dumps(load_event("checkout.session.completed"))
    header = sign(payload)
    tampered = payload.replace('"amount_total": 2000', '"amount_total": 1')
    response = webhook_client.post(
        WEBHOOK_URL, tampered, content_type="application/json", headers={"Stripe-Signature": header}
    )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_it_rejects_an_old_replayed_delivery(webhook_client, purchase):
    payload = json.dumps(load_event("checkout.session.completed"))
    header = sign(payload, timestamp=int(time.time()) - 3600)
    response = webhook_client.post(
        WEBHOOK_URL, payload, content_type="application/json", headers={"Stripe-Signature": header}
    )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_it_rejects_a_signed_body_that_is_not_json(webhook_client, db):
    response = webhook_client.post(
        WEBHOOK_URL,
        "not json",
        content_type="application/json",
        headers={"Stripe-Signature": sign("not json")},
    )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_it_records_and_acknowledges_unknown_types(webhook_client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_event(webhook_client, load_event("customer.created"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    event = StripeEvent.objects.get()
    assert (event.type, event.status) == ("customer.created", "ignored")
    assert event.processed_at is not None
    assert callbacks == []


def test_it_acknowledges_a_duplicate_and_stores_it_once(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    fake_stripe.add_session(purchase)
    event = load_event("checkout.session.completed")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_event(webhook_client, event)
        second = post_event(webhook_client, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["outcome"] == "duplicate"
    assert StripeEvent.objects.count() == 1
    assert ledger.balance_of(purchase.user) == 1200


def test_it_answers_without_a_trailing_slash_and_without_redirecting(webhook_client, db):
    response = post_event(webhook_client, load_event("customer.created"), url="/billing/stripe/webhook")
    assert response.status_code == 200
    assert StripeEvent.objects.count() == 1


def test_it_needs_no_csrf_token(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = post_event(client, load_event("customer.created"))
    assert response.status_code == 200


def test_it_only_accepts_post(webhook_client, db):
    assert webhook_client.get(WEBHOOK_URL).status_code == 405


def test_it_answers_503_when_the_event_cannot_be_stored(webhook_client, purchase, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(StripeEvent.objects, "create", broken)
    response = post_event(webhook_client, load_event("checkout.session.completed"))
    assert response.status_code == 503


def test_it_still_answers_200_when_the_queue_is_down(
    webhook_client, purchase, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("billing.queue.async_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(webhook_client, load_event("checkout.session.completed"))
    assert response.status_code == 200
    # Stored and waiting: the reconciler re-queues it.
    assert StripeEvent.objects.get().status == "received"


def test_it_records_an_event_for_an_unknown_session_as_failed(
    webhook_client, fake_stripe, alice, sync_tasks, django_capture_on_commit_callbacks
):
    from billing.stripe_api import CheckoutSession

    # A session that names a purchase of ours that does not exist: staff should look.
    fake_stripe.sessions[SESSION_ID] = CheckoutSession(
        id=SESSION_ID,
        status="complete",
        payment_status="paid",
        amount_total=2000,
        currency="usd",
        metadata={"purchase_id": "424242", "user_id": str(alice.pk)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(webhook_client, load_event("checkout.session.completed"))
    assert response.status_code == 200
    event = StripeEvent.objects.get()
    assert event.status == "failed"
    assert "No purchase matches Checkout Session cs_test_" in event.error
    assert "purchase_id=424242" in event.error
    assert ledger.balance_of(alice) == 0


def test_it_ignores_a_session_another_integration_created(
    webhook_client, fake_stripe, alice, sync_tasks, django_capture_on_commit_callbacks
):
    from billing.stripe_api import CheckoutSession

    fake_stripe.sessions[SESSION_ID] = CheckoutSession(
        id=SESSION_ID, status="complete", payment_status="paid", amount_total=2000, currency="usd"
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_event(webhook_client, load_event("checkout.session.completed"))
    event = StripeEvent.objects.get()
    assert event.status == "ignored"
    assert "was not created by this site" in event.error
    assert ledger.balance_of(alice) == 0


def test_it_records_an_event_stripe_does_not_know(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(webhook_client, load_event("checkout.session.completed"))
    event = StripeEvent.objects.get()
    assert event.status == "failed"
    assert "Stripe has no checkout session" in event.error
    assert Purchase.objects.get().status == "pending"


def test_it_reprocesses_a_failed_event(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_event(webhook_client, load_event("checkout.session.completed"))
    event = StripeEvent.objects.get()
    assert event.status == "failed"
    fake_stripe.add_session(purchase)  # Stripe answers again
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.reprocess(event.pk) is True
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == ("succeeded", 2, "")
    assert ledger.balance_of(purchase.user) == 1200


def test_it_does_not_process_an_event_another_worker_holds(fake_stripe, purchase):
    from django.utils import timezone

    fake_stripe.add_session(purchase)
    event = StripeEvent.objects.create(
        event_id="evt_held",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
        status="processing",
        started_at=timezone.now(),
    )
    assert webhooks.process_event(event.pk) == "not claimed"
    assert ledger.balance_of(purchase.user) == 0


def test_it_takes_over_an_event_whose_worker_died(fake_stripe, purchase):
    from datetime import timedelta

    from django.utils import timezone

    fake_stripe.add_session(purchase)
    event = StripeEvent.objects.create(
        event_id="evt_abandoned",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
        status="processing",
        attempts=1,
        started_at=timezone.now() - timedelta(hours=1),
    )
    assert webhooks.process_event(event.pk) == "succeeded"
    assert ledger.balance_of(purchase.user) == 1200


def test_it_takes_over_an_event_soon_after_its_worker_was_killed(fake_stripe, purchase, settings):
    """A worker killed with -9 mid-task leaves its claim behind; once no task could still be
    running (django-q's timeout has passed), the next delivery or sweep processes it, rather
    than leaving a dispute or refund unapplied for many minutes."""
    from datetime import timedelta

    from django.utils import timezone

    fake_stripe.add_session(purchase)
    timeout = settings.Q_CLUSTER["timeout"]
    event = StripeEvent.objects.create(
        event_id="evt_killed_worker",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
        status="processing",
        attempts=1,
        started_at=timezone.now() - timedelta(seconds=timeout + 60),
    )
    assert webhooks.requeue_stuck_events() == 1
    assert webhooks.process_event(event.pk) == "succeeded"
    assert ledger.balance_of(purchase.user) == 1200
