"""A crash between creating the Checkout Session and saving its id on the purchase.

start_checkout creates the purchase, asks Stripe for the session, then saves the session
id. A web worker killed or a database restart in between (the chaos soak does both)
leaves a purchase without a session id and a session at Stripe the site cannot find by
id. The buyer never saw its URL, but Stripe's events for it must still land on the right
purchase, through the purchase_id and user_id the site put in the session's metadata,
exactly once.
"""

from __future__ import annotations

from billing import ledger
from billing.models import Purchase
from tests.billing.stripe_support import SESSION_ID, entries_for

pytest_plugins = ["tests.billing.stripe_fixtures"]


def _orphan(purchase: Purchase, fake_stripe, **session) -> Purchase:
    fake_stripe.add_session(purchase, **session)
    Purchase.objects.filter(pk=purchase.pk).update(stripe_session_id=None)
    purchase.refresh_from_db()
    assert purchase.stripe_session_id is None
    return purchase


def test_a_paid_session_whose_id_was_never_saved_is_credited_once(send_event, fake_stripe, purchase):
    purchase = _orphan(purchase, fake_stripe)

    first = send_event("checkout.session.completed")
    again = send_event("checkout.session.completed", event_id="evt_replayed_completed")

    assert first.status == again.status == "succeeded"
    purchase.refresh_from_db()
    assert purchase.stripe_session_id == SESSION_ID
    assert purchase.status == Purchase.Status.PAID
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    assert ledger.balance_of(purchase.user) == purchase.credits
    assert purchase.log.filter(message__contains="linked from its metadata").count() == 1


def test_an_unpaid_session_whose_id_was_never_saved_expires_its_purchase(send_event, fake_stripe, purchase):
    purchase = _orphan(purchase, fake_stripe, status="expired", payment_status="unpaid")

    event = send_event("checkout.session.expired")

    assert event.status == "succeeded"
    purchase.refresh_from_db()
    assert (purchase.stripe_session_id, purchase.status) == (SESSION_ID, Purchase.Status.EXPIRED)
    assert ledger.balance_of(purchase.user) == 0


def test_a_session_naming_someone_elses_purchase_is_not_adopted(send_event, fake_stripe, purchase, bob):
    purchase = _orphan(purchase, fake_stripe)
    session = fake_stripe.sessions[SESSION_ID]
    fake_stripe.sessions[SESSION_ID] = session.__class__(
        **{**session.__dict__, "metadata": {**session.metadata, "user_id": str(bob.pk)}}
    )

    event = send_event("checkout.session.completed")

    assert event.status == "failed"
    purchase.refresh_from_db()
    assert purchase.stripe_session_id is None
    assert ledger.balance_of(purchase.user) == ledger.balance_of(bob) == 0
