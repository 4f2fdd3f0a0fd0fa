import pytest

from billing import ledger
from billing.models import CreditAccount, Purchase
from tests.billing.stripe_support import DISPUTE_ID, assert_ledger_consistent, entries_for

pytest_plugins = ["tests.billing.stripe_fixtures"]


def _account(purchase) -> CreditAccount:
    return CreditAccount.objects.get(user=purchase.user)


def test_it_claws_back_and_freezes_when_a_dispute_opens(send_event, fake_stripe, paid_purchase):
    fake_stripe.dispute("needs_response")
    event = send_event("charge.dispute.created")
    assert event.status == "succeeded"
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.DISPUTED
    assert (paid_purchase.stripe_dispute_id, paid_purchase.dispute_status) == (DISPUTE_ID, "needs_response")
    assert entries_for(f"dispute:{DISPUTE_ID}:open") == 1
    assert ledger.balance_of(paid_purchase.user) == 0
    account = _account(paid_purchase)
    assert account.is_frozen
    assert DISPUTE_ID in account.frozen_reason


def test_a_frozen_account_cannot_spend(send_event, fake_stripe, paid_purchase):
    ledger.grant(paid_purchase.user, 100, key="goodwill")
    fake_stripe.dispute("needs_response")
    send_event("charge.dispute.created")
    with pytest.raises(ledger.AccountFrozen):
        ledger.charge(paid_purchase.user, 10, key="gen:1:charge")


def test_it_gives_the_credits_back_and_unfreezes_when_the_dispute_is_won(
    send_event, fake_stripe, paid_purchase
):
    fake_stripe.dispute("needs_response")
    send_event("charge.dispute.created")
    fake_stripe.dispute("won")
    send_event("charge.dispute.closed.won")
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.PAID
    assert paid_purchase.dispute_status == "won"
    assert entries_for(f"dispute:{DISPUTE_ID}:open") == entries_for(f"dispute:{DISPUTE_ID}:won") == 1
    assert ledger.balance_of(paid_purchase.user) == 1200
    assert not _account(paid_purchase).is_frozen
    assert_ledger_consistent()


def test_it_keeps_the_credits_clawed_back_and_unfreezes_when_the_dispute_is_lost(
    send_event, fake_stripe, paid_purchase
):
    ledger.charge(paid_purchase.user, 200, key="gen:1:charge")
    fake_stripe.dispute("needs_response")
    send_event("charge.dispute.created")
    fake_stripe.dispute("lost")
    send_event("charge.dispute.closed.lost")
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.DISPUTED
    assert paid_purchase.dispute_status == "lost"
    assert entries_for(f"dispute:{DISPUTE_ID}:won") == 0
    # 1,200 bought, 200 spent, 1,200 clawed back: a debt that blocks spending until topped up.
    assert ledger.balance_of(paid_purchase.user) == -200
    assert not _account(paid_purchase).is_frozen
    with pytest.raises(ledger.InsufficientCredits):
        ledger.charge(paid_purchase.user, 10, key="gen:2:charge")
    assert_ledger_consistent()


def test_it_handles_the_closing_event_arriving_before_the_opening_one(send_event, fake_stripe, paid_purchase):
    fake_stripe.dispute("won")
    send_event("charge.dispute.closed.won")
    send_event("charge.dispute.created")  # late, and Stripe now says "won"
    assert entries_for(f"dispute:{DISPUTE_ID}:open") == entries_for(f"dispute:{DISPUTE_ID}:won") == 1
    assert ledger.balance_of(paid_purchase.user) == 1200
    assert not _account(paid_purchase).is_frozen
    paid_purchase.refresh_from_db()
    assert paid_purchase.status == Purchase.Status.PAID


def test_a_closed_dispute_never_reopens_on_a_stale_read(fake_stripe, paid_purchase):
    from billing import payments

    fake_stripe.dispute("lost")
    payments.sync_dispute(DISPUTE_ID)
    fake_stripe.dispute("needs_response")  # an answer from before the dispute closed
    payments.sync_dispute(DISPUTE_ID)
    paid_purchase.refresh_from_db()
    assert paid_purchase.dispute_status == "lost"
    assert not _account(paid_purchase).is_frozen


def test_it_replays_dispute_events_without_moving_credits_twice(send_event, fake_stripe, paid_purchase):
    fake_stripe.dispute("needs_response")
    for i in range(10):
        send_event("charge.dispute.created", event_id=f"evt_dispute_{i}")
    assert entries_for(f"dispute:{DISPUTE_ID}:open") == 1
    assert ledger.balance_of(paid_purchase.user) == 0


def test_it_does_not_lift_a_freeze_staff_set_for_another_reason(send_event, fake_stripe, paid_purchase):
    CreditAccount.objects.filter(user=paid_purchase.user).update(
        is_frozen=True, frozen_reason="Chargeback ring"
    )
    fake_stripe.dispute("needs_response")
    send_event("charge.dispute.created")
    fake_stripe.dispute("won")
    send_event("charge.dispute.closed.won")
    account = _account(paid_purchase)
    assert account.is_frozen
    assert account.frozen_reason == "Chargeback ring"


def test_it_keeps_the_account_frozen_while_another_dispute_is_open(fake_stripe, paid_purchase, alice, pack):
    from billing import payments

    other = Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name=pack.name,
        credits=1200,
        amount_minor=2000,
        currency="usd",
        status=Purchase.Status.DISPUTED,
        stripe_dispute_id="du_other",
        dispute_status="under_review",
    )
    fake_stripe.dispute("needs_response")
    payments.sync_dispute(DISPUTE_ID)
    fake_stripe.dispute("won")
    payments.sync_dispute(DISPUTE_ID)
    assert _account(paid_purchase).is_frozen
    assert other.dispute_status == "under_review"


def test_it_claws_back_only_the_disputed_share(send_event, fake_stripe, paid_purchase):
    fake_stripe.dispute("needs_response", amount=1000)
    send_event("charge.dispute.created")
    assert ledger.balance_of(paid_purchase.user) == 600
