from billing import ledger, payments
from billing.models import Purchase
from tests.billing.stripe_support import SESSION_ID, entries_for

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_it_waits_for_a_delayed_payment_then_credits_it(send_event, fake_stripe, purchase):
    fake_stripe.add_session(purchase, payment_status="unpaid")
    event = send_event("checkout.session.completed.unpaid")
    assert event.status == "succeeded"
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_processing) == ("pending", True)
    assert purchase.stripe_payment_intent_id == "pi_3TestPaymentIntent0001"
    assert ledger.balance_of(purchase.user) == 0

    fake_stripe.pay(SESSION_ID)
    send_event("checkout.session.async_payment_succeeded")
    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_processing) == ("paid", False)
    assert purchase.stripe_charge_id == "ch_3TestCharge00000001"
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    assert ledger.balance_of(purchase.user) == 1200


def test_it_fails_the_purchase_when_the_delayed_payment_fails(send_event, fake_stripe, purchase):
    fake_stripe.add_session(purchase, payment_status="unpaid")
    send_event("checkout.session.completed.unpaid")
    fake_stripe.update_session(SESSION_ID, payment_intent_status="requires_payment_method")
    event = send_event("checkout.session.async_payment_failed")
    assert event.status == "succeeded"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    assert not purchase.payment_processing
    assert "payment failed" in purchase.error
    assert ledger.balance_of(purchase.user) == 0
    assert list(purchase.log.values_list("source", flat=True)) == ["webhook", "webhook"]


def test_a_failure_event_does_not_fail_a_payment_that_stripe_says_is_paid(send_event, fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    send_event("checkout.session.async_payment_failed")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert ledger.balance_of(purchase.user) == 1200


def test_it_expires_an_abandoned_checkout(send_event, fake_stripe, purchase):
    fake_stripe.add_session(purchase, status="expired", payment_status="unpaid")
    send_event("checkout.session.expired")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.EXPIRED
    assert ledger.balance_of(purchase.user) == 0


def test_a_paid_session_wins_over_an_earlier_failure(fake_stripe, purchase):
    # Stripe is the source of truth: if it says paid, a purchase we marked failed is credited.
    fake_stripe.add_session(purchase, payment_status="unpaid", payment_intent_status="canceled")
    payments.fail_checkout(SESSION_ID)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    fake_stripe.pay(SESSION_ID)
    assert payments.fulfill_checkout(SESSION_ID, source="reconciler").credited
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert ledger.balance_of(purchase.user) == 1200


def test_it_links_a_session_whose_id_we_never_saved(fake_stripe, purchase):
    # We crashed between creating the session and saving its id; the metadata still names us.
    Purchase.objects.filter(pk=purchase.pk).update(stripe_session_id=None)
    purchase.stripe_session_id = None
    fake_stripe.add_session(purchase, id="cs_test_unsaved")
    assert payments.fulfill_checkout("cs_test_unsaved").credited
    purchase.refresh_from_db()
    assert purchase.stripe_session_id == "cs_test_unsaved"
    assert ledger.balance_of(purchase.user) == 1200


def test_it_does_not_link_a_session_to_someone_elses_purchase(fake_stripe, purchase, bob):
    from dataclasses import replace

    import pytest

    Purchase.objects.filter(pk=purchase.pk).update(stripe_session_id=None)
    purchase.stripe_session_id = None
    session = fake_stripe.add_session(purchase, id="cs_test_forged")
    fake_stripe.sessions["cs_test_forged"] = replace(
        session, metadata={**session.metadata, "user_id": str(bob.pk)}
    )
    with pytest.raises(payments.UnknownCheckoutSession):
        payments.fulfill_checkout("cs_test_forged")
    assert ledger.balance_of(purchase.user) == 0
