"""Every paid checkout is credited exactly once, however often and in whatever order
Stripe's events arrive, and whoever else (success page, reconciler) races them."""

import random
import threading

import pytest
from django.db import connection
from django.test import Client

from billing import ledger, payments
from billing.models import CreditAccount, Purchase, StripeEvent
from tests.billing.stripe_support import (
    CHARGE_ID,
    DISPUTE_ID,
    SESSION_ID,
    assert_ledger_consistent,
    entries_for,
    load_event,
    post_event,
)

pytest_plugins = ["tests.billing.stripe_fixtures"]

EVENTS = [
    "checkout.session.completed",
    "checkout.session.completed.unpaid",
    "checkout.session.async_payment_succeeded",
    "charge.refunded.partial",
    "charge.dispute.created",
    "charge.dispute.closed.won",
]


def _final_stripe_state(fake_stripe, purchase) -> None:
    """Paid, then refunded 5.00 of 20.00, then disputed for the other 15.00 and won."""
    fake_stripe.add_session(purchase)
    fake_stripe.stripe_refund(CHARGE_ID, "re_3TestRefund00000001", 500)
    fake_stripe.dispute("won", amount=1500)


def _assert_final_ledger(purchase: Purchase) -> None:
    purchase.refresh_from_db()
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    assert entries_for("refund:re_3TestRefund00000001") == 1
    assert entries_for(f"dispute:{DISPUTE_ID}:open") == 1
    assert entries_for(f"dispute:{DISPUTE_ID}:won") == 1
    # +1200 bought, -300 for a quarter refunded, -900 then +900 for the dispute.
    assert ledger.balance_of(purchase.user) == 900
    assert purchase.status == Purchase.Status.PARTIALLY_REFUNDED
    assert purchase.amount_refunded_minor == 500
    assert purchase.dispute_status == "won"
    assert not CreditAccount.objects.get(user=purchase.user).is_frozen
    assert_ledger_consistent()


def test_it_credits_once_when_every_event_is_replayed_ten_times_in_shuffled_order(
    webhook_client, fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks
):
    _final_stripe_state(fake_stripe, purchase)
    deliveries = [load_event(name) for name in EVENTS] * 10
    random.Random(6).shuffle(deliveries)
    for event in deliveries:
        with django_capture_on_commit_callbacks(execute=True):
            assert post_event(webhook_client, event).status_code == 200
    assert StripeEvent.objects.count() == len(EVENTS)
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}
    _assert_final_ledger(purchase)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_ends_the_same_whatever_order_the_events_are_processed_in(fake_stripe, purchase, seed):
    from billing import webhooks

    _final_stripe_state(fake_stripe, purchase)
    rows = [
        StripeEvent.objects.create(
            event_id=load_event(name)["id"], type=load_event(name)["type"], payload=load_event(name)
        )
        for name in EVENTS
    ]
    order = [row.pk for row in rows] * 3
    random.Random(seed).shuffle(order)
    for pk in order:
        StripeEvent.objects.filter(pk=pk).update(status="received")
        webhooks.process_event(pk)
    _assert_final_ledger(purchase)


def _run_together(workers: list) -> list:
    """Start the callables at the same moment, each in its own thread and DB connection."""
    barrier = threading.Barrier(len(workers))
    results: list = [None] * len(workers)

    def run(i, work):
        try:
            barrier.wait(timeout=30)
            results[i] = work()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_it_credits_once_when_events_arrive_from_concurrent_threads(fake_stripe, purchase, sync_tasks):
    _final_stripe_state(fake_stripe, purchase)
    deliveries = [load_event(name) for name in EVENTS] * 10
    random.Random(66).shuffle(deliveries)
    shares = [deliveries[i::5] for i in range(5)]

    def deliver(share):
        def work():
            client = Client()
            return [post_event(client, event).status_code for event in share]

        return work

    workers = [deliver(share) for share in shares]
    # The success page and the reconciler race the webhook for the same session.
    workers += [lambda: payments.fulfill_checkout(SESSION_ID, source="success_page").outcome] * 2
    workers += [lambda: payments.reconcile().credited]
    results = _run_together(workers)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(code == 200 for codes in results[:5] for code in codes)
    assert StripeEvent.objects.count() == len(EVENTS)
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}
    _assert_final_ledger(purchase)


@pytest.mark.django_db(transaction=True)
def test_it_credits_once_when_ten_callers_fulfil_the_same_session_at_once(fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    results = _run_together([lambda: payments.fulfill_checkout(SESSION_ID).outcome] * 10)
    assert sorted(results) == ["already_credited"] * 9 + ["credited"]
    assert entries_for(f"checkout:{SESSION_ID}") == 1
    assert ledger.balance_of(purchase.user) == 1200
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_it_processes_one_event_once_when_workers_receive_it_together(fake_stripe, purchase):
    from billing import webhooks

    fake_stripe.add_session(purchase)
    event = StripeEvent.objects.create(
        event_id="evt_concurrent",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
    )
    results = _run_together([lambda: webhooks.process_event(event.pk)] * 8)
    assert sorted(results) == ["not claimed"] * 7 + ["succeeded"]
    event.refresh_from_db()
    assert event.attempts == 1
    assert ledger.balance_of(purchase.user) == 1200
