"""Kling's pack figures: fetched on a schedule and on demand, days left at the burn rate."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django_q.models import Schedule

from economics import balance
from economics.apps import PACK_BALANCE_SCHEDULE, create_schedules
from economics.models import PackSnapshot
from generations.providers.base import ProviderError
from tests.economics.helpers import generation, purchase


def test_the_refresh_button_reads_the_simulator(client, staff, kling_simulator):
    client.force_login(staff)
    response = client.post("/admin/economics/refresh/", follow=True)
    assert response.status_code == 200
    snapshot = PackSnapshot.objects.get()
    assert snapshot.error == ""
    assert {p["name"]: p["product_type"] for p in snapshot.packs} == {
        "Trial-Video-1000Units-10Con-1Months": "video",
        "Trial-Image-10000Units-10Con-1Months": "image",
    }
    assert "Trial-Video-1000Units-10Con-1Months" in response.content.decode()


class _NoAccount:
    pass


class _Failing:
    def account_costs(self):
        raise ProviderError("rate_limited", "Too many requests", retryable=True)


def test_a_provider_without_an_account_endpoint_says_so(db, monkeypatch):
    monkeypatch.setattr(balance, "get_provider", _NoAccount)
    assert "no account endpoint" in balance.refresh().error
    monkeypatch.setattr(balance, "get_provider", _Failing)
    assert balance.refresh().error


def test_it_reckons_days_left_and_warns_when_low(alice, client, staff):
    now = timezone.now()
    purchase(alice, now - timedelta(days=1), credits=1000, amount_minor=10000)
    for _ in range(7):
        generation(alice, now - timedelta(days=1), units="10")  # 70 units a week: 10 a day
    snapshot = PackSnapshot.objects.create(
        packs=[
            {
                "name": "V",
                "product_type": "video",
                "remaining": 50.0,
                "total": 100.0,
                "status": "online",
                "expires_at": (now + timedelta(days=20)).isoformat(),
            },
            {
                "name": "Old",
                "product_type": "video",
                "remaining": 80.0,
                "total": 100.0,
                "status": "expired",
                "expires_at": None,
            },
        ]
    )
    (video,) = balance.outlook(snapshot, now=now)
    assert (video.remaining, video.burn_per_day, video.days_left, video.low) == (
        Decimal("50"),
        Decimal("10.000"),
        Decimal("5.0"),
        True,
    )
    client.force_login(staff)
    assert b'id="pack-low"' in client.get("/admin/economics/").content


def test_the_schedule_runs_every_15_minutes_and_a_pause_survives_migrate(db):
    create_schedules(sender=None)
    row = Schedule.objects.get(name=PACK_BALANCE_SCHEDULE)
    assert (row.func, row.minutes) == ("economics.tasks.refresh_pack_balance", 15)
    row.repeats = 0
    row.save()
    create_schedules(sender=None)
    assert Schedule.objects.get(name=PACK_BALANCE_SCHEDULE).repeats == 0
