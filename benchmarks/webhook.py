"""Stripe webhook and fulfilment timings.

Prints p50/p95/max of:
- webhook handling, receipt to 200 (signature check, one insert, on-commit enqueue),
  for new events and for duplicates;
- fulfilment (the `process_stripe_event` task body: claim the event, retrieve the
  session, claim the purchase, post the ledger entry, write the audit line), for first
  deliveries and for replays of an already credited session.

The session is "retrieved" from the demo checkout's table, so the figures are our own
cost; with real Stripe add one API round trip (typically 150-400 ms) to fulfilment.

Runs on a temporary SQLite file, or on DATABASE_URL (and REDIS_URL) when set.
    .venv/bin/python benchmarks/webhook.py            # BENCH_N=300 events by default
"""

from __future__ import annotations

import json
import os
import statistics
import time

from _env import setup

# One person starts every checkout here: no cap on open ones.
setup(
    "webhook",
    env={"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": "whsec_benchmark", "MAX_PENDING_CHECKOUTS": "0"},
)

from django.conf import settings  # noqa: E402

# Production settings, but the demo checkout answers for Stripe (no network in a benchmark).
settings.STRIPE_DEMO = True

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from billing import demo_checkout, payments, stripe_api, webhooks  # noqa: E402
from billing.models import CreditPack, DemoCheckoutSession, Purchase, StripeEvent  # noqa: E402

N = int(os.environ.get("BENCH_N", "300"))


def summary(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(len(ms) * 0.95) - 1)]
    print(
        f"  {label:<44} n={len(ms):<4} p50={statistics.median(ms):7.2f} ms  p95={p95:7.2f} ms  max={ms[-1]:7.2f} ms"
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    if connection.vendor == "sqlite":
        # A running site always has another connection open (the workers). Without one,
        # SQLite checkpoints its WAL whenever the last connection closes, which Django
        # does after every request, and that would dominate the figures.
        import sqlite3

        keep_open = sqlite3.connect(connection.settings_dict["NAME"])
        keep_open.execute("SELECT 1")
    print(f"database: {connection.vendor}, broker: {'redis' if os.environ.get('REDIS_URL') else 'orm'}")
    stamp = int(time.time())
    user = User.objects.create_user(email=f"bench-{stamp}@example.org", password="bench-password-123")
    pack = CreditPack.objects.create(name=f"Bench {stamp}", credits=1200, price_minor=2000, order=999)

    events = []
    for _ in range(N):
        purchase, _url = payments.start_checkout(user, pack.pk, site_root="http://testserver")
        # Paid at "Stripe"; set directly so no delivery task is queued.
        DemoCheckoutSession.objects.filter(pk=purchase.stripe_session_id).update(
            status="complete",
            payment_status="paid",
            payment_intent_id=f"pi_bench_{purchase.pk}",
            charge_id=f"ch_bench_{purchase.pk}",
            completed_at=timezone.now(),
        )
        row = DemoCheckoutSession.objects.get(pk=purchase.stripe_session_id)
        event = demo_checkout.build_event(row, "checkout.session.completed")
        event["id"] = f"evt_bench_{stamp}_{purchase.pk}"
        events.append(json.dumps(event))
    CreditPack.objects.filter(pk=pack.pk).update(active=False)

    client = Client()

    def post(payload: str) -> float:
        header = stripe_api.signature_header(payload)
        started = time.perf_counter()
        response = client.post(
            "/billing/stripe/webhook/",
            payload,
            content_type="application/json",
            headers={"Stripe-Signature": header},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed

    # Pre-warm (URL resolver, template-free JSON response, first connection).
    post(
        json.dumps(
            {"id": f"evt_warm_{stamp}", "object": "event", "type": "customer.created", "data": {"object": {}}}
        )
    )

    first = [post(payload) for payload in events]
    duplicates = [post(payload) for payload in events]

    rows = list(
        StripeEvent.objects.filter(event_id__startswith=f"evt_bench_{stamp}_").values_list("pk", flat=True)
    )
    fulfil = []
    for pk in rows:
        started = time.perf_counter()
        outcome = webhooks.process_event(pk)
        fulfil.append(time.perf_counter() - started)
        assert outcome == "succeeded", outcome

    replays = []
    for session_id in Purchase.objects.filter(user=user).values_list("stripe_session_id", flat=True):
        started = time.perf_counter()
        result = payments.fulfill_checkout(session_id, source="reconciler")
        replays.append(time.perf_counter() - started)
        assert result.outcome == "already_credited"

    credited = Purchase.objects.filter(user=user, status="paid").count()
    print(f"events: {N}; purchases credited: {credited}; balance: {user.credit_account.balance}")
    summary("webhook, new event (receipt to 200)", first)
    summary("webhook, duplicate event (receipt to 200)", duplicates)
    summary("fulfilment task, first delivery", fulfil)
    summary("fulfilment, already credited (replay)", replays)

    # Leave nothing queued for a real worker to pick up later.
    from django_q.brokers import get_broker

    get_broker().purge_queue()


if __name__ == "__main__":
    main()
