"""Lock order against a charge that is committing, on PostgreSQL.

Django declares foreign keys DEFERRABLE INITIALLY DEFERRED there, so a generation
inserted in the charging transaction takes its FOR KEY SHARE lock on the owner's user row
at COMMIT, after the charge's UPDATE has locked the credit account. A transaction that
locks that user row FOR UPDATE and then moves the balance waits for the account while
the committing charge waits for the user row: PostgreSQL aborts one of them as a
deadlock. The chaos soak found it as an HTTP 500 on a create page during a Stripe
clawback (docs/soak.md). These tests hold a charge at exactly that point, start the
other transaction, wait until it is blocked, then let the charge commit: both must end
normally.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from accounts.erasure import ErasureRefused, erase_account
from billing import ledger, payments
from billing.models import Purchase
from generations.models import Generation
from tests.billing.stripe_support import CHARGE_ID

pytest_plugins = ["tests.billing.stripe_fixtures"]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COST = 100


def _blocked_on_a_lock() -> bool:
    # pg_stat_activity is read afresh per transaction; this connection is in autocommit.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _while_a_charge_commits(owner, other) -> tuple[object, object]:
    """Run `other()` while a create-and-charge transaction of `owner` is between its charge
    and its commit; return (the charge's result, other's result), exceptions included."""
    charged, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def create_and_charge() -> None:
        try:
            with transaction.atomic():
                generation = Generation.objects.create(
                    owner=owner,
                    kind="text2image",
                    provider="kling",
                    model_name="kling-v2-1",
                    prompt="a fox",
                    cost=COST,
                )
                ledger.charge(owner, COST, key=f"gen:{generation.pk}:charge", generation=generation)
                charged.set()
                release.wait(timeout=30)
            results["charge"] = generation
        except Exception as error:
            results["charge"] = error
        finally:
            charged.set()
            connection.close()

    def run_other() -> None:
        try:
            results["other"] = other()
        except Exception as error:
            results["other"] = error
        finally:
            connection.close()

    charging = threading.Thread(target=create_and_charge)
    charging.start()
    assert charged.wait(timeout=30)
    competing = threading.Thread(target=run_other)
    competing.start()
    deadline = time.monotonic() + 10
    while not _blocked_on_a_lock() and competing.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    charging.join(timeout=30)
    competing.join(timeout=30)
    assert not charging.is_alive() and not competing.is_alive()
    return results["charge"], results["other"]


def test_a_stripe_clawback_waits_for_a_committing_charge_instead_of_deadlocking(fake_stripe, paid_purchase):
    alice = paid_purchase.user
    fake_stripe.stripe_refund(CHARGE_ID, "re_full", 2000)

    charge, clawback = _while_a_charge_commits(alice, lambda: payments.sync_clawbacks(CHARGE_ID))

    assert isinstance(charge, Generation), charge
    assert isinstance(clawback, Purchase), clawback
    assert clawback.status == Purchase.Status.REFUNDED
    assert ledger.balance_of(alice) == 1200 - COST - 1200  # a clawback may leave a debt


def test_a_dispute_waits_for_a_committing_charge_instead_of_deadlocking(fake_stripe, paid_purchase):
    from tests.billing.stripe_support import DISPUTE_ID

    alice = paid_purchase.user
    fake_stripe.dispute("needs_response")

    charge, disputed = _while_a_charge_commits(alice, lambda: payments.sync_dispute(DISPUTE_ID))

    assert isinstance(charge, Generation), charge
    assert isinstance(disputed, Purchase), disputed
    assert disputed.status == Purchase.Status.DISPUTED
    assert ledger.balance_of(alice) == 1200 - COST - 1200


def test_erasing_an_account_waits_for_a_committing_charge_instead_of_deadlocking(alice):
    ledger.grant(alice, 500, key="welcome-test")

    charge, erasure = _while_a_charge_commits(alice, lambda: erase_account(alice))

    assert isinstance(charge, Generation), charge
    # The erasure saw the committed generation still queued, and says so in words.
    assert isinstance(erasure, ErasureRefused), erasure
    assert ledger.balance_of(alice) == 500 - COST
