"""Slow services cannot take every thread of a web process (kling_site.outbound, docs/deploy.md)."""

from __future__ import annotations

import contextlib
import re
import runpy
from pathlib import Path

import pytest
import responses
import stripe
from django.conf import settings
from django.core import mail
from django.core.mail import get_connection

from billing import stripe_api
from billing.models import Purchase
from kling_site import outbound
from tests.billing.stripe_support import load_event, post_event

pytest_plugins = ["tests.billing.stripe_fixtures"]

API = "https://stripe.test"
PASSWORD = "a-very-good-passphrase"


@pytest.fixture
def every_slot_taken(settings):
    """What a Stripe or SMTP outage looks like to the next request: every slot held by a
    thread still waiting on the service."""
    settings.OUTBOUND_CALLS_PER_PROCESS = 3
    with contextlib.ExitStack() as held:
        for _ in range(3):
            held.enter_context(outbound.slot("a service that does not answer"))
        yield


@pytest.fixture
def live_stripe(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_kling"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_kling"
    settings.STRIPE_API_BASE = API
    settings.STRIPE_DEMO = False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_it_refuses_the_call_after_the_last_slot_at_once_and_frees_slots_after_use(settings):
    settings.OUTBOUND_CALLS_PER_PROCESS = 2
    with (
        outbound.slot("Stripe"),
        outbound.slot("Stripe"),
        pytest.raises(outbound.Busy),
        outbound.slot("Stripe"),
    ):
        pass
    # Every slot came back: the same number can be taken again.
    with outbound.slot("Stripe"), outbound.slot("Stripe"):
        pass


def test_a_checkout_during_an_outage_is_refused_with_words_and_without_calling_stripe(
    live_stripe, every_slot_taken, alice_client, pack
):
    response = alice_client.post("/credits/buy/", {"pack": pack.pk}, follow=True)

    assert response.status_code == 200
    assert len(live_stripe.calls) == 0
    purchase = Purchase.objects.get()
    assert purchase.status == Purchase.Status.FAILED
    assert "Payments are not available right now. Nothing was charged" in response.content.decode()


def test_a_refused_stripe_attempt_is_not_retried(live_stripe, every_slot_taken):
    with pytest.raises(stripe_api.StripeApiError, match="Payments are busy"):
        stripe_api.retrieve_checkout_session("cs_test_live123")
    assert len(live_stripe.calls) == 0


def test_pages_and_webhooks_still_answer_with_every_slot_taken(
    every_slot_taken, alice_client, webhook_client, fake_stripe, purchase
):
    assert alice_client.get("/credits/").status_code == 200
    assert post_event(webhook_client, load_event("checkout.session.completed")).status_code == 200


@pytest.mark.django_db
def test_a_signup_email_is_handed_to_a_worker_when_every_slot_is_taken(client, settings, monkeypatch):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    queued = []
    monkeypatch.setattr(outbound, "async_task", lambda func, *args, **kwargs: queued.append((func, args)))

    with contextlib.ExitStack() as held:
        for _ in range(settings.OUTBOUND_CALLS_PER_PROCESS):
            held.enter_context(outbound.slot("SMTP that does not answer"))
        response = client.post(
            "/accounts/signup/", {"email": "new@example.org", "password1": PASSWORD, "password2": PASSWORD}
        )

    assert response.status_code == 302
    assert mail.outbox == []
    [(func, args)] = queued
    assert func == "kling_site.outbound.send_queued"

    outbound.send_queued(*args)
    [message] = mail.outbox
    assert message.to == ["new@example.org"]
    assert re.search(r"/accounts/confirm-email/\S+", message.body)


@pytest.mark.django_db
def test_a_signup_email_goes_out_in_the_request_when_a_slot_is_free(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.post(
        "/accounts/signup/", {"email": "new@example.org", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert [m.to for m in mail.outbox] == [["new@example.org"]]


def test_smtp_connections_use_email_timeout(settings):
    settings.EMAIL_TIMEOUT = 7
    assert get_connection("django.core.mail.backends.smtp.EmailBackend").timeout == 7


def test_the_worst_stripe_wait_fits_inside_gunicorns_timeout():
    gunicorn = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    client = stripe_api._client("sk_test_kling", API)
    attempts = 1 + client._requestor._options.max_network_retries
    assert attempts == 2
    assert isinstance(client._requestor._client, stripe_api._CappedRequestsClient)
    assert client._requestor._client._timeout == settings.STRIPE_TIMEOUT
    # Each attempt a connect and a read timeout, plus stripe-python's longest back-off.
    worst = attempts * 2 * settings.STRIPE_TIMEOUT + stripe._http_client.HTTPClient.MAX_DELAY
    assert worst < gunicorn["timeout"]
    assert gunicorn["timeout"] > settings.EMAIL_TIMEOUT
    # One thread of each web process is always left for pages, polls and webhooks.
    assert 1 <= settings.OUTBOUND_CALLS_PER_PROCESS < gunicorn["threads"]
