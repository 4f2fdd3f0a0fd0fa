"""The live backend of billing.stripe_api, checked at the HTTP seam with `responses`."""

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from billing import ledger, stripe_api
from billing.models import Purchase

pytest_plugins = ["tests.billing.stripe_fixtures"]

API = "https://stripe.test"


@pytest.fixture
def live_stripe(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_kling"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_kling"
    settings.STRIPE_API_BASE = API
    settings.STRIPE_DEMO = False
    with responses.RequestsMock() as mock:
        yield mock


def _session_json(**extra) -> dict:
    return {
        "id": "cs_test_live123",
        "object": "checkout.session",
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": 2000,
        "currency": "usd",
        "url": "https://checkout.stripe.com/c/pay/cs_test_live123",
        "client_reference_id": "1",
        "metadata": {},
        "customer": None,
        "payment_intent": None,
        "created": 1763780000,
        **extra,
    }


def _form(request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.body).items()}


def test_it_creates_the_checkout_session_stripe_expects(live_stripe, alice_client, alice, pack):
    live_stripe.post(f"{API}/v1/checkout/sessions", json=_session_json())
    response = alice_client.post("/credits/buy/", {"pack": pack.pk})

    assert response.status_code == 303
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_live123"
    purchase = Purchase.objects.get()
    assert (purchase.status, purchase.stripe_session_id) == ("pending", "cs_test_live123")
    assert (purchase.credits, purchase.amount_minor, purchase.currency) == (1200, 2000, "usd")

    request = live_stripe.calls[0].request
    assert request.headers["Authorization"] == "Bearer sk_test_kling"
    assert request.headers["Idempotency-Key"] == f"purchase:{purchase.pk}"
    assert request.headers["Stripe-Version"] == stripe_api.API_VERSION
    form = _form(request)
    assert form["mode"] == "payment"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][unit_amount]"] == "2000"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == "1,200 credits (Creator)"
    assert form["client_reference_id"] == str(purchase.pk)
    assert form["metadata[purchase_id]"] == str(purchase.pk)
    assert form["metadata[user_id]"] == str(alice.pk)
    assert form["payment_intent_data[metadata][purchase_id]"] == str(purchase.pk)
    assert form["success_url"] == "http://testserver/credits/buy/success/?session_id={CHECKOUT_SESSION_ID}"
    assert form["cancel_url"] == f"http://testserver/credits/buy/cancel/?purchase={purchase.pk}"
    assert form["customer_email"] == "alice@example.org"
    assert form["customer_creation"] == "always"
    # API 2026-09 removed it: sending it would be refused.
    assert not any(key.startswith("payment_method_types") for key in form)
    assert purchase.log.get().message == "Checkout Session cs_test_live123 created"


def test_it_uses_the_packs_stripe_price_and_the_stored_customer(live_stripe, alice_client, alice, pack):
    pack.stripe_price_id = "price_1Creator"
    pack.save()
    Purchase.objects.create(
        user=alice,
        pack_name="Old",
        credits=1,
        amount_minor=100,
        currency="usd",
        status="paid",
        stripe_customer_id="cus_Alice",
    )
    live_stripe.post(f"{API}/v1/checkout/sessions", json=_session_json())
    alice_client.post("/credits/buy/", {"pack": pack.pk})
    form = _form(live_stripe.calls[0].request)
    assert form["line_items[0][price]"] == "price_1Creator"
    assert "line_items[0][price_data][unit_amount]" not in form
    assert form["customer"] == "cus_Alice"
    assert "customer_email" not in form


def test_it_talks_to_api_stripe_com_by_default(live_stripe, settings, alice_client, pack):
    settings.STRIPE_API_BASE = ""
    live_stripe.post("https://api.stripe.com/v1/checkout/sessions", json=_session_json())
    response = alice_client.post("/credits/buy/", {"pack": pack.pk})
    assert response.status_code == 303


def test_it_tells_the_buyer_when_stripe_refuses(live_stripe, alice_client, pack):
    live_stripe.post(
        f"{API}/v1/checkout/sessions",
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Invalid currency"}},
    )
    response = alice_client.post("/credits/buy/", {"pack": pack.pk}, follow=True)
    assert response.redirect_chain == [("/credits/buy/", 302)]
    assert b"Payments are not available right now" in response.content
    purchase = Purchase.objects.get()
    assert purchase.status == "failed"
    assert "Invalid currency" in purchase.log.get().message


def test_it_retrieves_a_session_with_its_charge_and_receipt(live_stripe):
    live_stripe.get(
        f"{API}/v1/checkout/sessions/cs_test_live123",
        match=[matchers.query_param_matcher({"expand[0]": "payment_intent.latest_charge"})],
        json=_session_json(
            status="complete",
            payment_status="paid",
            customer="cus_Alice",
            customer_details={"email": "alice@example.org"},
            metadata={"purchase_id": "7", "user_id": "3"},
            payment_intent={
                "id": "pi_123",
                "object": "payment_intent",
                "status": "succeeded",
                "latest_charge": {
                    "id": "ch_123",
                    "object": "charge",
                    "receipt_url": "https://pay.stripe.com/r/1",
                },
            },
        ),
    )
    session = stripe_api.retrieve_checkout_session("cs_test_live123")
    assert session.is_paid
    assert session.purchase_id == 7
    assert (session.payment_intent_id, session.payment_intent_status) == ("pi_123", "succeeded")
    assert (session.charge_id, session.receipt_url) == ("ch_123", "https://pay.stripe.com/r/1")
    assert (session.customer_id, session.customer_email) == ("cus_Alice", "alice@example.org")


def test_it_reports_a_missing_session_as_not_found(live_stripe):
    live_stripe.get(
        f"{API}/v1/checkout/sessions/cs_nope",
        status=404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such session",
            }
        },
    )
    with pytest.raises(stripe_api.NotFound):
        stripe_api.retrieve_checkout_session("cs_nope")


def test_it_lists_paid_sessions_across_pages(live_stripe):
    since = datetime(2026, 11, 19, tzinfo=UTC)
    first = [
        _session_json(id="cs_1", status="complete", payment_status="paid"),
        _session_json(id="cs_2", status="complete", payment_status="unpaid"),
    ]
    live_stripe.get(
        f"{API}/v1/checkout/sessions",
        match=[
            matchers.query_param_matcher(
                {"created[gte]": str(int(since.timestamp())), "status": "complete", "limit": "100"}
            )
        ],
        json={"object": "list", "data": first, "has_more": True, "url": "/v1/checkout/sessions"},
    )
    live_stripe.get(
        f"{API}/v1/checkout/sessions",
        match=[
            matchers.query_param_matcher(
                {
                    "created[gte]": str(int(since.timestamp())),
                    "status": "complete",
                    "limit": "100",
                    "starting_after": "cs_2",
                }
            )
        ],
        json={
            "object": "list",
            "data": [_session_json(id="cs_3", status="complete", payment_status="paid")],
            "has_more": False,
            "url": "/v1/checkout/sessions",
        },
    )
    assert [s.id for s in stripe_api.list_recent_paid_sessions(since)] == ["cs_1", "cs_3"]


def test_it_retrieves_a_charge_with_all_its_stripe_refunds(live_stripe):
    live_stripe.get(
        f"{API}/v1/charges/ch_123",
        json={
            "id": "ch_123",
            "object": "charge",
            "amount": 2000,
            "amount_refunded": 700,
            "currency": "usd",
            "payment_intent": "pi_123",
            "receipt_url": "https://pay.stripe.com/r/1",
        },
    )
    live_stripe.get(
        f"{API}/v1/refunds",
        match=[matchers.query_param_matcher({"charge": "ch_123", "limit": "100"})],
        json={
            "object": "list",
            "has_more": False,
            "url": "/v1/refunds",
            "data": [
                {"id": "re_1", "object": "refund", "amount": 500, "status": "succeeded", "created": 2},
                {"id": "re_2", "object": "refund", "amount": 200, "status": "pending", "created": 3},
            ],
        },
    )
    charge = stripe_api.retrieve_charge("ch_123")
    assert (charge.amount, charge.amount_refunded, charge.payment_intent_id) == (2000, 700, "pi_123")
    assert [(r.id, r.amount, r.counts) for r in charge.stripe_refunds] == [
        ("re_1", 500, True),
        ("re_2", 200, True),
    ]


def test_it_retrieves_a_dispute(live_stripe):
    live_stripe.get(
        f"{API}/v1/disputes/du_1",
        json={
            "id": "du_1",
            "object": "dispute",
            "amount": 2000,
            "charge": "ch_123",
            "currency": "usd",
            "payment_intent": "pi_123",
            "status": "needs_response",
        },
    )
    dispute = stripe_api.retrieve_dispute("du_1")
    assert (dispute.charge_id, dispute.amount, dispute.status) == ("ch_123", 2000, "needs_response")


def test_the_cancel_page_expires_the_open_session(live_stripe, alice_client, alice, pack):
    purchase = Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name=pack.name,
        credits=1200,
        amount_minor=2000,
        currency="usd",
        stripe_session_id="cs_test_live123",
    )
    live_stripe.post(
        f"{API}/v1/checkout/sessions/cs_test_live123/expire", json=_session_json(status="expired")
    )
    response = alice_client.get(f"/credits/buy/cancel/?purchase={purchase.pk}")
    assert response.status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == "expired"


def test_it_fulfils_from_signed_events_against_the_real_api(
    live_stripe, client, alice, pack, sync_tasks, django_capture_on_commit_callbacks
):
    from tests.billing.stripe_support import SESSION_ID, load_event, post_event

    purchase = Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name=pack.name,
        credits=1200,
        amount_minor=2000,
        currency="usd",
        stripe_session_id=SESSION_ID,
    )
    live_stripe.get(
        f"{API}/v1/checkout/sessions/{SESSION_ID}",
        json=_session_json(
            id=SESSION_ID,
            status="complete",
            payment_status="paid",
            payment_intent={
                "id": "pi_9",
                "status": "succeeded",
                "latest_charge": {"id": "ch_9", "receipt_url": ""},
            },
        ),
    )
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert (
                post_event(
                    client, load_event("checkout.session.completed"), secret="whsec_test_kling"
                ).status_code
                == 200
            )
    purchase.refresh_from_db()
    assert (purchase.status, purchase.stripe_charge_id) == ("paid", "ch_9")
    assert ledger.balance_of(alice) == 1200
    assert len(live_stripe.calls) == 1  # one event stored once, one retrieve


def test_it_speaks_the_api_version_the_library_pins():
    # The request shapes above (no payment_method_types) are those of this version.
    assert stripe_api.API_VERSION == "2026-10-28.endive"


def test_production_without_a_stripe_key_sells_nothing(settings, alice_client, pack):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_DEMO = False
    response = alice_client.post("/credits/buy/", {"pack": pack.pk}, follow=True)
    assert b"Payments are not available right now" in response.content
    assert Purchase.objects.get().status == "failed"
    assert alice_client.get("/billing/demo/checkout/cs_demo_x/").status_code == 404


def test_only_demo_mode_gets_the_demo_checkout():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "KLING_", "ALLOW_SIMULATOR", "DATABASE_URL", "REDIS_URL"))
    }
    production = {
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-secret-key-for-the-stripe-check-1234567890",
        "ALLOWED_HOSTS": "studio.example.com",
    }
    code = (
        "from django.conf import settings; print(settings.STRIPE_DEMO, repr(settings.STRIPE_WEBHOOK_SECRET))"
    )
    root = Path(__file__).resolve().parents[2]

    def stripe_settings(extra: dict) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=root,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    assert stripe_settings({}) == "True 'whsec_demo_checkout_secret'"
    assert stripe_settings({**production, "KLING_PROVIDER": "kling", "KLING_API_KEY": "k"}) == "False ''"
    # Not even on a staging site that runs the simulator in production mode.
    assert stripe_settings({**production, "ALLOW_SIMULATOR_IN_PRODUCTION": "1"}) == "False ''"


def test_a_stripe_request_waits_at_most_the_timeout_and_retries_once(settings):
    settings.STRIPE_TIMEOUT = 7
    stripe_api._client.cache_clear()
    client = stripe_api._client("sk_test_timeouts", "")
    # The library keeps these on its requestor; no public getter exists.
    assert client._requestor._client._timeout == 7
    assert client._requestor._options.max_network_retries == 1
    stripe_api._client.cache_clear()
