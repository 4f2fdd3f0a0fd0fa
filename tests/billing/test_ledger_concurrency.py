"""Real races: threads with their own database connections, committed transactions.

SQLite serialises writers (IMMEDIATE transactions on a file database); PostgreSQL lets
them run and relies on the conditional UPDATE re-checking its WHERE after a row lock wait.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from billing import ledger
from billing.models import LedgerEntry

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
COST = 10


def _race(work, threads: int = THREADS) -> list:
    """Run work(i) in `threads` threads released at once; return each result or exception."""
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    return results


def _outcomes(results: list) -> Counter:
    return Counter(type(result).__name__ for result in results)


def _twenty_charges_seven_affordable(alice) -> None:
    ledger.grant(alice, 7 * COST, key="grant")
    results = _race(lambda i: ledger.charge(alice, COST, key=f"gen:{i}:charge"))
    assert _outcomes(results) == {"LedgerEntry": 7, "InsufficientCredits": 13}
    assert ledger.balance_of(alice) == 0
    charges = LedgerEntry.objects.filter(account__user=alice, kind="charge").order_by("id")
    assert charges.count() == 7
    # Each success saw its own balance: 60, 50, ... 0, in posting order.
    assert [entry.balance_after for entry in charges] == [60, 50, 40, 30, 20, 10, 0]


def test_it_charges_exactly_what_the_balance_affords_on_sqlite(alice):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite run of this race")
    assert (
        connection.settings_dict["NAME"] != ":memory:"
        and "mode=memory" not in connection.settings_dict["NAME"]
    )
    _twenty_charges_seven_affordable(alice)


@pytest.mark.postgres
def test_it_charges_exactly_what_the_balance_affords_on_postgres(alice):
    _twenty_charges_seven_affordable(alice)


def test_concurrent_posts_of_one_key_make_one_entry(alice):
    ledger.grant(alice, 100, key="grant")
    results = _race(lambda i: ledger.charge(alice, COST, key="gen:1:charge"))
    assert _outcomes(results) == {"LedgerEntry": THREADS}
    assert len({entry.pk for entry in results}) == 1
    assert ledger.balance_of(alice) == 90


def test_concurrent_posts_of_one_key_succeed_even_when_only_one_is_affordable(alice):
    # The losers find the balance short; they must see the winner's entry as their own
    # success rather than report "insufficient credits" for a charge that went through.
    ledger.grant(alice, COST, key="grant")
    results = _race(lambda i: ledger.charge(alice, COST, key="gen:1:charge"))
    assert _outcomes(results) == {"LedgerEntry": THREADS}
    assert ledger.balance_of(alice) == 0


def test_concurrent_grants_create_one_account(alice):
    results = _race(lambda i: ledger.grant(alice, 1, key=f"grant:{i}"))
    assert _outcomes(results) == {"LedgerEntry": THREADS}
    assert ledger.balance_of(alice) == THREADS


@pytest.mark.postgres
def test_mixed_traffic_on_two_accounts_keeps_every_balance_exact(alice, bob):
    # Charges, refunds of those charges and clawbacks interleaving on two rows: no
    # deadlock, no lost update, nothing below zero but by clawback.
    for user in (alice, bob):
        ledger.grant(user, 50, key=f"grant:{user.pk}")

    def work(i: int):
        user = alice if i % 2 else bob
        entry = ledger.charge(user, 5, key=f"gen:{i}:charge")
        if i % 3 == 0:
            ledger.refund(user, 5, key=f"gen:{i}:refund")
        if i % 7 == 0:
            ledger.clawback(user, 3, key=f"refund:{i}")
        return entry

    results = _race(work, threads=40)
    assert all(isinstance(r, LedgerEntry | ledger.InsufficientCredits) for r in results), results
    for user in (alice, bob):
        amounts = LedgerEntry.objects.filter(account__user=user).values_list("amount", flat=True)
        assert ledger.balance_of(user) == sum(amounts)
