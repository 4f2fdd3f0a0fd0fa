"""The dashboard: figures from the ledger and generations, constant queries, staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ledger, reports
from economics import dashboard
from tests.economics.helpers import generation, pack, purchase

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = dashboard.Period("custom", T0.date(), (T0 + timedelta(days=6)).date())


def _data(alice, n, start=T0):
    pack(start - timedelta(days=1))  # $0.14 a unit
    purchase(alice, start, credits=10 * n + 20, amount_minor=(10 * n + 20) * 10)  # $0.10 a credit
    for i in range(n):
        generation(alice, start + timedelta(minutes=i % 100 + 1))
    generation(alice, start + timedelta(minutes=2), units="2.5", status="failed", error_code="risk_control")


def test_it_sums_money_and_volumes(alice):
    # The ledger dates its entries now, so this period is today's.
    _data(alice, 3, start=timezone.now() - timedelta(hours=3))
    ledger.grant(alice, 5, key="grant:welcome")
    figures = dashboard.build(dashboard.parse_period("7d"))
    total = figures["total"]
    assert (total.started, total.succeeded, total.failed) == (4, 3, 1)
    assert total.revenue == Decimal("3.0000")  # 30 credits kept at $0.10
    assert total.cost == Decimal("1.4000")  # 10 units at $0.14, the billed failure included
    assert total.margin == Decimal("1.6000")
    assert figures["failures"] == [("risk_control", 1)]
    assert figures["credits"] == {"sold": 50, "spent": 40, "refunded": 10, "granted": 5}
    assert figures["revenue_gross_minor"] == 500
    assert figures["refund_rate"] == Decimal("25.0")
    assert sum(d.line.cost for d in figures["days"]) == total.cost


def test_liability_splits_paid_and_granted(alice, bob):
    ledger.grant(alice, 30, key="grant:a")
    purchase(alice, T0, credits=100, amount_minor=1000)
    generation(alice, T0, cost=40)  # spends the 30 granted first, then 10 paid
    ledger.grant(bob, 20, key="grant:b")
    owed = reports.liability(now=T0 + timedelta(days=400))
    assert (owed.outstanding, owed.paid, owed.granted) == (110, 90, 20)
    assert owed.dormant == 0  # entries are dated now, not T0
    assert reports.liability(now=datetime.now(UTC) + timedelta(days=400)).dormant_accounts == 2


def _page(client, query="period=custom&first=2026-11-01&last=2026-11-07"):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/economics/?{query}")
    assert response.status_code == 200
    return response, len(queries)


def test_its_queries_stay_constant(client, staff, alice, bob):
    client.force_login(staff)
    _data(alice, 10)
    _, few = _page(client)
    _data(bob, 300)
    response, many = _page(client)
    assert many == few
    assert 5 <= few <= 20, few
    assert "kling-v2-6" in response.content.decode()


def test_it_exports_the_table_as_csv(client, staff, alice):
    _data(alice, 2)
    client.force_login(staff)
    response = client.get("/admin/economics/by-day.csv?period=custom&first=2026-11-01&last=2026-11-07")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("day,revenue_net_minor") and len(lines) == 8
    assert lines[1].startswith("2026-11-01,400,2.0000,1.0500,0.9500,7.500,3,2,1")


@pytest.mark.parametrize(
    "query", ["period=custom&first=2026-11-07&last=2026-11-01", "period=custom&first=nope", "period=bogus"]
)
def test_bad_periods_say_so(client, staff, query):
    client.force_login(staff)
    response, _ = _page(client, query)
    assert b"errornote" in response.content


def test_it_needs_its_own_permission(client, django_user_model):
    clerk = django_user_model.objects.create_user(email="clerk@example.org", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get("/admin/economics/").status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    assert client.get("/admin/economics/").status_code == 200


def test_it_sends_others_to_the_login(client, alice):
    client.force_login(alice)
    assert client.get("/admin/economics/").status_code == 302
