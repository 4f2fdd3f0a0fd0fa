"""The demo checkout, end to end through the real webhook view and the real fulfilment.

The demo delivers events the way Stripe does, with an HTTP POST from a worker; here the
worker runs inline and `responses` hands its POST to the Django test client, so the
signed body reaches the production webhook view unchanged.
"""

import re

import pytest
import requests
import responses
from django.test import Client
from django_q.models import Schedule

from billing import demo_checkout, ledger
from billing.models import DemoCheckoutSession, Purchase, StripeEvent

pytest_plugins = ["tests.billing.stripe_fixtures"]

SITE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def stripe_posts(demo_mode, settings, sync_tasks):
    """Route the demo's webhook deliveries into the Django test client."""
    settings.SITE_URL = SITE_URL
    webhook_client = Client()
    delivered = []

    def to_django(request):
        response = webhook_client.post(
            request.path_url,
            request.body,
            content_type="application/json",
            headers={"Stripe-Signature": request.headers["Stripe-Signature"]},
        )
        delivered.append(response.status_code)
        return response.status_code, {}, response.content

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, f"{SITE_URL}/billing/stripe/webhook/", callback=to_django)
        yield delivered


def _start(client, pack) -> tuple[Purchase, str]:
    response = client.post("/credits/buy/", {"pack": pack.pk})
    assert response.status_code == 303
    path = response["Location"].removeprefix("http://testserver")
    assert re.fullmatch(r"/billing/demo/checkout/cs_demo_\w+/", path)
    return Purchase.objects.get(), path


def test_it_buys_a_pack_end_to_end(
    stripe_posts, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    page = alice_client.get(checkout)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Demo: no real payment" in html
    # One demo notice: the site-wide banner (in demo mode), not a second one of the page's own.
    assert html.count('class="demo-banner"') <= 1
    assert "1,200 credits (Creator)" in html and "$20.00" in html
    assert "alice@example.org" in html
    assert "Simulate a declined card" in html and "Simulate a delayed payment" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(checkout, {"action": "pay", **_card()})
    assert response.status_code == 303
    assert (
        response["Location"]
        == f"http://testserver/credits/buy/success/?session_id={purchase.stripe_session_id}"
    )

    # Stripe's part: one signed event, delivered to our webhook, stored and processed.
    assert stripe_posts == [200]
    event = StripeEvent.objects.get()
    assert (event.type, event.status) == ("checkout.session.completed", "succeeded")
    purchase.refresh_from_db()
    assert purchase.status == "paid"
    assert purchase.receipt_url.startswith("http://testserver/billing/demo/receipt/ch_demo_")
    assert ledger.balance_of(alice) == 1200
    assert purchase.log.filter(source="webhook").exists()

    success = alice_client.get(response["Location"].removeprefix("http://testserver"))
    assert "1,200 credits added" in success.content.decode()
    assert ledger.balance_of(alice) == 1200
    receipt = alice_client.get(purchase.receipt_url.removeprefix("http://testserver"))
    assert receipt.status_code == 200 and b"$20.00" in receipt.content


def test_the_success_page_credits_even_when_the_event_is_late(
    demo_mode, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # the worker is slow
        response = alice_client.post(checkout, {"action": "pay", **_card()})
    assert len(callbacks) == 1
    alice_client.get(response["Location"].removeprefix("http://testserver"))
    purchase.refresh_from_db()
    assert purchase.status == "paid"
    assert ledger.balance_of(alice) == 1200


def test_a_declined_card_shows_an_error_and_charges_nothing(
    stripe_posts, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(checkout, {"action": "decline", **_card()})
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        r'id="field-card_number".*?<ul class="errorlist"[^>]*><li>Your card was declined', html, re.S
    )
    assert stripe_posts == []
    purchase.refresh_from_db()
    assert purchase.status == "pending"
    assert ledger.balance_of(alice) == 0
    assert DemoCheckoutSession.objects.get().card_declines == 1


def test_it_checks_the_card_form_like_a_checkout(demo_mode, alice_client, pack):
    _purchase, checkout = _start(alice_client, pack)
    response = alice_client.post(
        checkout, {"action": "pay", "card_number": "4242 4242 4242 4241", "expiry": "13/30", "cvc": "1"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["card_number"] == ["Your card number is invalid."]
    assert errors["expiry"] == ["Use MM / YY."]
    assert "cvc" in errors
    assert DemoCheckoutSession.objects.get().status == "open"


def test_a_delayed_payment_completes_unpaid_then_settles(
    stripe_posts, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(checkout, {"action": "delay", **_card()})
    assert response.status_code == 303
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_processing) == ("pending", True)
    assert ledger.balance_of(alice) == 0
    page = alice_client.get(response["Location"].removeprefix("http://testserver")).content.decode()
    assert "Your payment is processing" in page
    schedule = Schedule.objects.get(name=f"demo-settle-{purchase.stripe_session_id}")
    assert schedule.func == "billing.tasks.settle_demo_payment"

    from billing.tasks import settle_demo_payment

    with django_capture_on_commit_callbacks(execute=True):
        assert settle_demo_payment(purchase.stripe_session_id) is True
    assert stripe_posts == [200, 200]
    assert list(StripeEvent.objects.order_by("id").values_list("type", "status")) == [
        ("checkout.session.completed", "succeeded"),
        ("checkout.session.async_payment_succeeded", "succeeded"),
    ]
    purchase.refresh_from_db()
    assert purchase.status == "paid"
    assert ledger.balance_of(alice) == 1200


def test_cancel_expires_the_demo_session_through_the_webhook(
    stripe_posts, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.get(f"/credits/buy/cancel/?purchase={purchase.pk}")
    assert response.status_code == 200
    assert stripe_posts == [200]
    assert StripeEvent.objects.get().type == "checkout.session.expired"
    purchase.refresh_from_db()
    assert purchase.status == "expired"
    page = alice_client.get(checkout)
    assert b"This checkout has expired" in page.content
    # Paying an expired session does nothing.
    alice_client.post(checkout, {"action": "pay", **_card()})
    assert ledger.balance_of(alice) == 0


def test_paying_twice_credits_once(
    stripe_posts, alice_client, alice, pack, django_capture_on_commit_callbacks
):
    purchase, checkout = _start(alice_client, pack)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(checkout, {"action": "pay", **_card()})
        alice_client.post(checkout, {"action": "pay", **_card()})
        demo_checkout.deliver_event(purchase.stripe_session_id, "checkout.session.completed")
    assert stripe_posts == [200, 200]  # the redelivery is recognised as a duplicate
    assert StripeEvent.objects.count() == 1
    assert ledger.balance_of(alice) == 1200


def test_the_reconciler_credits_a_demo_payment_whose_event_was_lost(
    demo_mode, settings, alice_client, alice, pack, monkeypatch, django_capture_on_commit_callbacks
):
    from billing import payments

    settings.SITE_URL = SITE_URL
    monkeypatch.setattr(demo_checkout, "DELIVERY_ATTEMPTS", 1)
    purchase, checkout = _start(alice_client, pack)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, f"{SITE_URL}/billing/stripe/webhook/", body=requests.ConnectionError("refused")
        )
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            alice_client.post(checkout, {"action": "pay", **_card()})
        with pytest.raises(demo_checkout.DeliveryFailed):
            demo_checkout.deliver_event(purchase.stripe_session_id, "checkout.session.completed")
    assert len(callbacks) == 1
    assert ledger.balance_of(alice) == 0
    assert payments.reconcile().credited == 1
    assert ledger.balance_of(alice) == 1200


def test_the_demo_keeps_stripes_idempotency_promise(demo_mode, alice, pack):
    from billing import stripe_api

    purchase = Purchase.objects.create(
        user=alice, pack=pack, pack_name=pack.name, credits=1200, amount_minor=2000, currency="usd"
    )
    first = stripe_api.create_checkout_session(purchase, "http://x/s?id={CHECKOUT_SESSION_ID}", "http://x/c")
    again = stripe_api.create_checkout_session(purchase, "http://x/s?id={CHECKOUT_SESSION_ID}", "http://x/c")
    assert first.id == again.id
    assert DemoCheckoutSession.objects.count() == 1


def test_the_demo_pages_do_not_exist_with_real_stripe(settings, client, db):
    session = DemoCheckoutSession.objects.create(
        id="cs_demo_x",
        idempotency_key="k",
        amount_total=1,
        currency="usd",
        description="d",
        success_url="http://x/",
        cancel_url="http://x/",
        charge_id="ch_demo_x",
    )
    settings.STRIPE_DEMO = False
    assert client.get(f"/billing/demo/checkout/{session.id}/").status_code == 404
    assert client.get("/billing/demo/receipt/ch_demo_x/").status_code == 404


def test_an_unknown_demo_session_is_a_404(demo_mode, client, db):
    assert client.get("/billing/demo/checkout/cs_demo_nope/").status_code == 404


def _card() -> dict:
    return {"card_number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Alice"}
