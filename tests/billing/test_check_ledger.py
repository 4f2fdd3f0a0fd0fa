import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_q.models import Schedule

from billing import ledger
from billing.models import CreditAccount, LedgerEntry
from billing.schedules import CHECK_LEDGER_SCHEDULE
from billing.schedules import ensure_schedules as create_schedules
from billing.tasks import check_ledger

ROOT = Path(__file__).resolve().parents[2]


def _raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def planted_drift(alice):
    """Alice's cached balance moved by raw SQL behind the ledger's back; undone afterwards
    so the suite's own invariant check passes."""
    ledger.grant(alice, 100, key="g")
    ledger.charge(alice, 30, key="c")
    account = CreditAccount.objects.get(user=alice)
    _raw("UPDATE billing_creditaccount SET balance = balance + 5 WHERE id = %s", account.pk)
    yield account
    _raw("UPDATE billing_creditaccount SET balance = balance - 5 WHERE id = %s", account.pk)


def test_it_reports_a_clean_ledger(alice, bob, capsys):
    ledger.grant(alice, 10, key="g")
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out


def test_it_detects_a_drift_planted_by_raw_sql(planted_drift, bob, capsys):
    ledger.grant(bob, 10, key="bob")  # a healthy account is not reported
    with pytest.raises(CommandError, match="1 ledger problem"):
        call_command("check_ledger")
    out = capsys.readouterr().out
    assert (
        f"drift: account {planted_drift.pk} (alice@example.org): balance 75, entries sum to 70 "
        "(difference +5), newest entry says 70"
    ) in out
    assert "bob@example.org" not in out


def _manage_against_the_test_database(*args: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = db["NAME"]
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_drift(planted_drift):
    result = _manage_against_the_test_database("check_ledger")
    assert result.returncode == 1
    assert "drift: account" in result.stdout
    assert "1 ledger problem(s) found" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_zero_on_a_clean_ledger(alice):
    ledger.grant(alice, 10, key="g")
    result = _manage_against_the_test_database("check_ledger")
    assert result.returncode == 0, result.stderr
    assert "Ledger OK" in result.stdout


def test_it_detects_a_wrong_balance_after(alice, capsys):
    entry = ledger.grant(alice, 10, key="g")
    _raw("UPDATE billing_ledgerentry SET balance_after = 11 WHERE id = %s", entry.pk)
    try:
        with pytest.raises(CommandError):
            call_command("check_ledger")
        assert "newest entry says 11" in capsys.readouterr().out
    finally:
        _raw("UPDATE billing_ledgerentry SET balance_after = 10 WHERE id = %s", entry.pk)


def test_it_detects_a_negative_balance_without_a_clawback(alice, capsys):
    account = CreditAccount.objects.for_user(alice)
    _raw("UPDATE billing_creditaccount SET balance = -5 WHERE id = %s", account.pk)
    LedgerEntry.objects.create(
        account=account, kind="adjustment", amount=-5, balance_after=0, idempotency_key="x"
    )
    try:
        with pytest.raises(CommandError):
            call_command("check_ledger")
        assert f"negative: account {account.pk} is below zero without a clawback" in capsys.readouterr().out
    finally:
        # Make the planted rows consistent again for the suite's invariant check.
        _raw("UPDATE billing_creditaccount SET balance = 0 WHERE id = %s", account.pk)
        _raw(
            "UPDATE billing_ledgerentry SET amount = 5, kind = 'grant' WHERE id = (SELECT MAX(id) FROM billing_ledgerentry)"
        )
        _raw("UPDATE billing_creditaccount SET balance = 5 WHERE id = %s", account.pk)
        _raw("UPDATE billing_ledgerentry SET balance_after = 5 WHERE account_id = %s", account.pk)


def test_the_task_returns_and_logs_the_problems(planted_drift, caplog):
    with caplog.at_level(logging.ERROR, logger="billing.tasks"):
        assert check_ledger() == 1
    assert "Ledger drift: account" in caplog.text


def test_the_task_is_quiet_on_a_clean_ledger(alice, caplog):
    ledger.grant(alice, 10, key="g")
    with caplog.at_level(logging.ERROR, logger="billing.tasks"):
        assert check_ledger() == 0
    assert caplog.text == ""


def test_the_task_runs_through_the_queue(alice, monkeypatch):
    import django_q.conf
    from django_q.tasks import async_task, result

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    task_id = async_task("billing.tasks.check_ledger")
    assert result(task_id) == 0


def test_migrate_creates_one_hourly_schedule(db):
    schedule = Schedule.objects.get(name=CHECK_LEDGER_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "billing.tasks.check_ledger",
        Schedule.HOURLY,
        -1,
    )


def test_the_schedule_is_created_idempotently_by_name(db):
    Schedule.objects.filter(name=CHECK_LEDGER_SCHEDULE).update(schedule_type=Schedule.DAILY)
    next_run = Schedule.objects.get(name=CHECK_LEDGER_SCHEDULE).next_run
    create_schedules(sender=None)
    create_schedules(sender=None)
    schedule = Schedule.objects.get(name=CHECK_LEDGER_SCHEDULE)
    assert schedule.schedule_type == Schedule.HOURLY
    assert schedule.next_run == next_run
    Schedule.objects.filter(name=CHECK_LEDGER_SCHEDULE).delete()
    create_schedules(sender=None)
    assert Schedule.objects.filter(name=CHECK_LEDGER_SCHEDULE).count() == 1
