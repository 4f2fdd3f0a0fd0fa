"""Reconciliation: the units we recorded against how much Kling's packs went down."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from economics import balance, reconcile, tasks
from economics.apps import RECONCILE_SCHEDULE, create_schedules
from economics.models import PackSnapshot, Reconciliation
from generations.providers.base import ResourcePack
from tests.economics.helpers import generation, purchase


class _Kling:
    """Kling's answer at the end of the period: 12.5 video units and 16 image units gone."""

    def account_costs(self):
        return [
            ResourcePack(name="Video-100", remaining=87.5, total=100.0, status="online"),
            # Bought during the period: everything it lost counts.
            ResourcePack(name="Image-1000", remaining=984.0, total=1000.0, status="online"),
        ]


@pytest.fixture
def period(alice, monkeypatch):
    now = timezone.now()
    start = PackSnapshot.objects.create(
        packs=[
            {
                "name": "Video-100",
                "product_type": "video",
                "remaining": 100.0,
                "total": 100.0,
                "status": "online",
            }
        ]
    )
    PackSnapshot.objects.filter(pk=start.pk).update(fetched_at=now - timedelta(days=1, minutes=5))
    monkeypatch.setattr(balance, "get_provider", _Kling)
    purchase(alice, now - timedelta(days=2), credits=1000, amount_minor=10000)
    generation(alice, now - timedelta(days=2), units="50")  # before the period: not counted
    for _ in range(4):
        generation(alice, now - timedelta(hours=3), units="2.5")  # 10 units recorded
    generation(alice, now - timedelta(hours=2), units="16", kind="text2image")
    return alice


def test_it_finds_a_planted_difference(period):
    video, image = reconcile.run(days=1)
    assert (video.product_type, video.recorded_units, video.kling_units) == (
        "video",
        Decimal("10.000"),
        Decimal("12.500"),
    )
    assert video.difference == Decimal("2.500")  # Kling took 2.5 units we have no record of
    assert (image.recorded_units, image.kling_units, image.difference) == (
        Decimal("16.000"),
        Decimal("16.000"),
        0,
    )
    assert Reconciliation.objects.count() == 2


def test_the_command_prints_it_and_the_admin_shows_it(period, client, staff, capsys):
    call_command("reconcile_units", "--days", "1")
    out = capsys.readouterr().out
    assert "video: recorded 10.000 units, Kling 12.500, difference 2.500" in out
    client.force_login(staff)
    page = client.get("/admin/economics/reconciliation/").content.decode()
    assert "2.500" in page and "color:#ba2121" in page


@pytest.mark.parametrize("days", ["0", "40"])
def test_the_command_refuses_a_bad_number_of_days(db, days):
    with pytest.raises(CommandError, match="Reconcile at"):
        call_command("reconcile_units", "--days", days)


def test_without_kling_figures_from_the_start_it_says_so(db, monkeypatch):
    monkeypatch.setattr(balance, "get_provider", _Kling)
    with pytest.raises(CommandError, match="No figures from Kling"):
        call_command("reconcile_units", "--days", "1")
    PackSnapshot.objects.create(packs=[{"name": "V", "product_type": "video", "remaining": 1, "total": 1}])
    with pytest.raises(CommandError, match="not kept"):
        call_command("reconcile_units", "--days", "3")


def test_a_provider_without_an_account_endpoint_is_said(period, monkeypatch):
    monkeypatch.setattr(balance, "get_provider", object)
    with pytest.raises(reconcile.ReconcileError, match="no account endpoint"):
        reconcile.run(days=1)
    tasks.reconcile_units()  # the nightly task logs it instead of failing
    assert Reconciliation.objects.count() == 0


def test_it_runs_nightly(db):
    create_schedules(sender=None)
    schedule = Schedule.objects.get(name=RECONCILE_SCHEDULE)
    assert schedule.func == "economics.tasks.reconcile_units" and schedule.schedule_type == Schedule.DAILY
    assert timezone.localtime(schedule.next_run).hour == 3
