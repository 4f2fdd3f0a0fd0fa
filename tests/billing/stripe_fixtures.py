"""Fixtures for the Stripe tests; modules load them with `pytest_plugins`."""

from __future__ import annotations

import django_q.conf
import pytest
from django.test import Client

from billing import stripe_api
from billing.models import CreditPack, Purchase
from tests.billing.stripe_support import SESSION_ID, FakeStripe


@pytest.fixture
def fake_stripe(monkeypatch) -> FakeStripe:
    fake = FakeStripe()
    for name in (
        "retrieve_checkout_session",
        "expire_checkout_session",
        "list_recent_paid_sessions",
        "find_checkout_session",
        "retrieve_charge",
        "retrieve_dispute",
    ):
        monkeypatch.setattr(stripe_api, name, getattr(fake, name))
    return fake


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2 runs tasks inline, so on-commit enqueues process right away."""
    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)


@pytest.fixture
def pack(db) -> CreditPack:
    return CreditPack.objects.create(name="Creator", credits=1200, price_minor=2000, currency="usd", order=1)


@pytest.fixture
def purchase(alice, pack) -> Purchase:
    """Alice's pending purchase of the 1,200-credit pack, with the session id the samples use."""
    return Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name=pack.name,
        credits=pack.credits,
        amount_minor=pack.price_minor,
        currency="usd",
        stripe_session_id=SESSION_ID,
    )


@pytest.fixture
def webhook_client() -> Client:
    return Client()


@pytest.fixture
def send_event(webhook_client, sync_tasks, django_capture_on_commit_callbacks):
    """Post a signed sample event and run its processing task; returns the stored event."""
    from billing.models import StripeEvent
    from tests.billing.stripe_support import load_event, post_event

    def send(name: str, *, event_id: str | None = None) -> StripeEvent:
        event = load_event(name)
        if event_id:
            event["id"] = event_id
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(webhook_client, event)
        assert response.status_code == 200
        return StripeEvent.objects.get(event_id=event["id"])

    return send


@pytest.fixture
def paid_purchase(fake_stripe, purchase) -> Purchase:
    """Alice's purchase, paid at Stripe and credited (1,200 credits for 20.00)."""
    from billing import payments

    fake_stripe.add_session(purchase)
    payments.fulfill_checkout(SESSION_ID, source="webhook")
    purchase.refresh_from_db()
    return purchase


@pytest.fixture
def demo_mode(settings):
    """No Stripe keys: the demo checkout answers for Stripe, signing with the demo secret."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_DEMO = True
    settings.STRIPE_WEBHOOK_SECRET = "whsec_demo_checkout_secret"
    return settings
