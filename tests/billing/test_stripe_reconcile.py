from django.core.management import call_command
from django_q.models import Schedule

from billing import ledger
from billing.models import Purchase, StripeEvent
from billing.schedules import RECONCILE_SCHEDULE
from billing.schedules import ensure_schedules as ensure_stripe_schedules
from billing.stripe_api import CheckoutSession
from tests.billing.stripe_support import SESSION_ID, entries_for, load_event

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_it_finds_and_credits_a_missed_session(fake_stripe, purchase, capsys):
    fake_stripe.add_session(purchase)  # paid at Stripe; the webhook never arrived
    call_command("reconcile_stripe")
    out = capsys.readouterr().out
    assert "1 credited now" in out
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.PAID
    assert ledger.balance_of(purchase.user) == 1200
    assert purchase.log.filter(source="reconciler").exists()

    call_command("reconcile_stripe")
    assert "0 credited now, 1 already credited" in capsys.readouterr().out
    assert entries_for(f"checkout:{SESSION_ID}") == 1


def test_it_looks_back_three_days(fake_stripe, db):
    from datetime import timedelta

    from django.utils import timezone

    from billing import payments

    payments.reconcile()
    name, since = fake_stripe.calls[0]
    assert name == "list_recent_paid_sessions"
    assert abs(timezone.now() - timedelta(days=3) - timezone.datetime.fromisoformat(since)) < timedelta(
        minutes=1
    )


def test_it_skips_sessions_that_are_not_ours(fake_stripe, db, capsys):
    fake_stripe.sessions["cs_other_app"] = CheckoutSession(
        id="cs_other_app", status="complete", payment_status="paid", amount_total=999, currency="usd"
    )
    call_command("reconcile_stripe")
    assert "1 not ours" in capsys.readouterr().out


def test_it_reports_sessions_it_cannot_match(fake_stripe, alice, capsys):
    fake_stripe.sessions["cs_orphan"] = CheckoutSession(
        id="cs_orphan",
        status="complete",
        payment_status="paid",
        amount_total=2000,
        currency="usd",
        metadata={"purchase_id": "999999", "user_id": str(alice.pk)},
    )
    call_command("reconcile_stripe")
    captured = capsys.readouterr()
    assert "No purchase matches Checkout Session cs_orphan" in captured.err
    assert ledger.balance_of(alice) == 0


def test_it_requeues_stored_events_whose_task_was_lost(
    fake_stripe, purchase, sync_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from billing import stripe_api

    fake_stripe.add_session(purchase)
    # Only the stored event can tell us about this payment: the list finds nothing.
    monkeypatch.setattr(stripe_api, "list_recent_paid_sessions", lambda since: iter([]))
    StripeEvent.objects.create(
        event_id="evt_lost",
        type="checkout.session.completed",
        payload=load_event("checkout.session.completed"),
        received_at=timezone.now() - timedelta(minutes=30),
    )
    from billing.tasks import requeue_stripe_events

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stripe_events() == 1
    assert StripeEvent.objects.get(event_id="evt_lost").status == "succeeded"
    assert ledger.balance_of(purchase.user) == 1200


def test_the_reconcile_schedule_exists_once(db):
    ensure_stripe_schedules()
    ensure_stripe_schedules()
    schedule = Schedule.objects.get(name=RECONCILE_SCHEDULE)
    assert schedule.func == "billing.tasks.reconcile_stripe"
    assert schedule.schedule_type == Schedule.MINUTES


def test_stuck_events_have_their_own_schedule_every_few_minutes(db):
    from billing.schedules import REQUEUE_EVENTS_SCHEDULE

    ensure_stripe_schedules()
    schedule = Schedule.objects.get(name=REQUEUE_EVENTS_SCHEDULE)
    assert schedule.func == "billing.tasks.requeue_stripe_events"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 5)


def test_an_operators_pause_survives_migrate(db):
    Schedule.objects.filter(name=RECONCILE_SCHEDULE).update(repeats=0)
    ensure_stripe_schedules()
    assert Schedule.objects.get(name=RECONCILE_SCHEDULE).repeats == 0


def test_a_stripe_error_while_listing_is_reported_not_raised(fake_stripe, purchase, monkeypatch):
    from billing import payments, stripe_api

    fake_stripe.add_session(purchase)

    def listing_breaks(since):
        yield fake_stripe.sessions[SESSION_ID]
        raise stripe_api.StripeApiError("Stripe is unavailable")

    monkeypatch.setattr(stripe_api, "list_recent_paid_sessions", listing_breaks)
    report = payments.reconcile()
    assert report.credited == 1
    assert report.errors == ["Listing paid Checkout Sessions failed: Stripe is unavailable"]
    assert ledger.balance_of(purchase.user) == 1200


def test_the_reconcile_task_returns_a_summary(fake_stripe, purchase):
    from billing.tasks import reconcile_stripe

    fake_stripe.add_session(purchase)
    assert reconcile_stripe()["credited"] == 1
