"""Two poll sweeps racing over the same finished tasks at the simulator, in real threads
with real transactions: every generation is finished, copied and (if failed) refunded once."""

import threading

import pytest

from billing import ledger
from billing.models import LedgerEntry
from generations import follow, services
from generations.models import Generation, LimiterSlot, Status
from generations.simulator.models import SimTask
from tests.generations.fakes import record_finishes


@pytest.fixture
def prices(transactional_db):
    """An earlier transactional test may have flushed the default prices."""
    from generations.models import Price
    from generations.pricing import default_price_rows

    if not Price.objects.exists():
        Price.objects.bulk_create(Price(**row) for row in default_price_rows())


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_racing_against_the_simulator_process_each_generation_once(
    prices, kling_simulator, alice, monkeypatch, settings
):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    settings.KLING_MAX_CONCURRENCY = 100
    kling_simulator.set_timings(1, 2)
    kling_simulator.set_faults(rate_callback_lost=1, concurrency_limit=0)
    ledger.grant(alice, 5000, key="race:grant")
    from tests.simulator.pipeline import form

    for i in range(16):
        prompt = f"A fox number {i}" + (" [sim:fail]" if i % 2 else "")
        data = form("text2video", prompt, token=f"race-{i}")
        data.pop("client_token")
        data["duration"] = int(data["duration"])
        data["sound"] = True
        # Autocommit: the submit runs at once (on_commit outside a transaction).
        services.create_generation(alice, "text2video", data, f"race-{i}")
    assert Generation.objects.filter(status=Status.SUBMITTED).count() == 16
    kling_simulator.finish()
    kling_simulator.advance(follow.poll_base_seconds())

    applied = record_finishes(monkeypatch)  # terminal moves, one by one or in a batch
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        from django.db import connection

        try:
            barrier.wait()
            reports.append(follow.sweep())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(applied) == sorted(set(applied)) and len(applied) == 16
    assert sum(r.polled for r in reports) == 16  # each claimed by one sweep only
    assert SimTask.objects.count() == 16
    assert Generation.objects.filter(status=Status.SUCCEEDED, assets_saved_at__isnull=False).count() == 8
    assert Generation.objects.filter(status=Status.FAILED).count() == 8
    for generation in Generation.objects.all():
        refunds = LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.REFUND).count()
        assert refunds == (1 if generation.status == Status.FAILED else 0)
        assert LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.CHARGE).count() == 1
        if generation.status == Status.SUCCEEDED:
            assert generation.assets.count() == 1
    assert LimiterSlot.objects.count() == 0
    assert ledger.find_drifts() == []
    assert ledger.balance_of(alice) == 5000 - 8 * Generation.objects.first().cost
