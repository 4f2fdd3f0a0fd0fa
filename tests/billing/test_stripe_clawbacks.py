from billing import ledger
from billing.models import Purchase
from tests.billing.stripe_support import CHARGE_ID, SESSION_ID, assert_ledger_consistent, entries_for

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_it_claws_back_everything_on_a_full_stripe_refund(send_event, fake_stripe, paid_purchase):
    fake_stripe.stripe_refund(CHARGE_ID, "re_full", 2000)
    event = send_event("charge.refunded")
    assert event.status == "succeeded"
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.REFUNDED
    assert paid_purchase.amount_refunded_minor == 2000
    assert entries_for("refund:re_full") == 1
    assert ledger.balance_of(paid_purchase.user) == 0
    assert_ledger_consistent()


def test_it_claws_back_in_proportion_on_partial_stripe_refunds(send_event, fake_stripe, paid_purchase):
    fake_stripe.stripe_refund(CHARGE_ID, "re_first", 500, created=100)
    send_event("charge.refunded.partial")
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.PARTIALLY_REFUNDED
    assert paid_purchase.amount_refunded_minor == 500
    assert ledger.balance_of(paid_purchase.user) == 900  # a quarter of 1,200 taken back

    fake_stripe.stripe_refund(CHARGE_ID, "re_rest", 1500, created=200)
    send_event("charge.refunded", event_id="evt_second_refund")
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.REFUNDED
    assert entries_for("refund:re_first") == entries_for("refund:re_rest") == 1
    assert ledger.balance_of(paid_purchase.user) == 0
    assert_ledger_consistent()


def test_it_never_loses_a_credit_to_rounding(fake_stripe, alice, pack):
    from billing import payments

    purchase = Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name="Odd",
        credits=500,
        amount_minor=1000,
        currency="usd",
        stripe_session_id=SESSION_ID,
    )
    fake_stripe.add_session(purchase)
    payments.fulfill_checkout(SESSION_ID)
    for i, amount in enumerate([333, 333, 334]):
        fake_stripe.stripe_refund(CHARGE_ID, f"re_third_{i}", amount, created=i)
        payments.sync_clawbacks(CHARGE_ID)
    amounts = [
        payments.clawbacks_by_stripe_refund(500, fake_stripe.charges[CHARGE_ID])[i][1] for i in range(3)
    ]
    assert amounts == [166, 167, 167]
    assert ledger.balance_of(alice) == 0


def test_it_claws_back_each_stripe_refund_once_however_often_the_event_comes(
    send_event, fake_stripe, paid_purchase
):
    fake_stripe.stripe_refund(CHARGE_ID, "re_partial", 500)
    for i in range(10):
        send_event("charge.refunded.partial", event_id=f"evt_replay_{i % 3}")
    assert entries_for("refund:re_partial") == 1
    assert ledger.balance_of(paid_purchase.user) == 900


def test_it_lets_a_clawback_take_the_balance_below_zero(send_event, fake_stripe, paid_purchase):
    ledger.charge(paid_purchase.user, 1000, key="gen:1:charge")
    fake_stripe.stripe_refund(CHARGE_ID, "re_full", 2000)
    send_event("charge.refunded")
    # The money went back, so the credits go too; the debt blocks spending until topped up.
    assert ledger.balance_of(paid_purchase.user) == -1000
    assert_ledger_consistent()


def test_it_claws_back_nothing_for_a_stripe_refund_that_failed(fake_stripe, paid_purchase):
    from dataclasses import replace

    from billing import payments
    from billing.stripe_api import StripeRefund

    charge = fake_stripe.charges[CHARGE_ID]
    fake_stripe.charges[CHARGE_ID] = replace(
        charge, stripe_refunds=(StripeRefund("re_failed", 2000, "failed", 1),)
    )
    payments.sync_clawbacks(CHARGE_ID)
    assert entries_for("refund:re_failed") == 0
    assert ledger.balance_of(paid_purchase.user) == 1200


def test_it_credits_first_when_the_stripe_refund_arrives_before_the_checkout_event(
    send_event, fake_stripe, purchase
):
    fake_stripe.add_session(purchase)
    fake_stripe.stripe_refund(CHARGE_ID, "re_full", 2000)
    event = send_event("charge.refunded")
    assert event.status == "succeeded"
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    assert entries_for(f"checkout:{SESSION_ID}") == entries_for("refund:re_full") == 1
    assert ledger.balance_of(purchase.user) == 0
    # The checkout event that comes afterwards changes nothing.
    send_event("checkout.session.completed")
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    assert ledger.balance_of(purchase.user) == 0


def test_it_records_a_stripe_refund_for_a_charge_we_do_not_know(send_event, fake_stripe, alice):
    from billing.stripe_api import Charge

    fake_stripe.charges[CHARGE_ID] = Charge(CHARGE_ID, 2000, 2000, "usd", "pi_elsewhere")
    event = send_event("charge.refunded")
    assert event.status == "ignored"
    assert "No purchase matches charge ch_3TestCharge00000001" in event.error
    assert ledger.balance_of(alice) == 0


def test_it_gives_the_credits_back_once_when_a_stripe_refund_fails_after_its_clawback(
    send_event, fake_stripe, paid_purchase
):
    from dataclasses import replace

    from billing.stripe_api import StripeRefund

    fake_stripe.stripe_refund(CHARGE_ID, "re_pending", 2000)
    charge = fake_stripe.charges[CHARGE_ID]
    fake_stripe.charges[CHARGE_ID] = replace(
        charge, stripe_refunds=(StripeRefund("re_pending", 2000, "pending", 1763785000),)
    )
    send_event("charge.refunded")
    assert ledger.balance_of(paid_purchase.user) == 0  # taken back while the refund is pending

    # The bank refuses the refund: Stripe marks it failed and the money stays with us.
    fake_stripe.charges[CHARGE_ID] = replace(
        charge, stripe_refunds=(StripeRefund("re_pending", 2000, "failed", 1763785000),), amount_refunded=0
    )
    event = send_event("refund.failed")
    assert event.status == "succeeded"
    send_event("refund.failed", event_id="evt_replayed_failure")
    paid_purchase.refresh_from_db()
    assert ledger.balance_of(paid_purchase.user) == 1200
    assert entries_for("refund:re_pending") == entries_for("refund:re_pending:reversed") == 1
    assert paid_purchase.status == Purchase.Status.PAID
    assert paid_purchase.amount_refunded_minor == 0
    assert_ledger_consistent()
