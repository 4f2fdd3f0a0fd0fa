"""Each generation shows its provider cost and margin in admin, in a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from economics import services
from tests.economics.helpers import generation, pack, purchase

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_it_computes_cost_and_margin_per_generation(alice):
    pack(T0)  # $0.14 a unit
    purchase(alice, T0, credits=100, amount_minor=1000)  # $0.10 a credit
    ok = generation(alice, T0 + timedelta(hours=1), cost=10, units="2.5")
    failed_free = generation(alice, T0 + timedelta(hours=2), cost=10, units=None, status="failed")
    failed_billed = generation(alice, T0 + timedelta(hours=3), cost=10, units="2.5", status="failed")

    assert services.generation_cost(ok) == Decimal("0.3500")
    assert services.generation_margin(ok).margin == Decimal("0.6500")
    assert services.generation_margin(failed_free).margin == 0
    assert services.generation_margin(failed_billed).margin == Decimal("-0.3500")


def _list_page(client, n):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/generations/generation/")
    assert response.status_code == 200
    return response, len(queries)


def test_the_admin_list_shows_them_in_constant_queries(client, staff, alice):
    pack(T0)
    purchase(alice, T0, credits=1000, amount_minor=10000)
    client.force_login(staff)
    generation(alice, T0 + timedelta(hours=1), units="2.5", status="failed")
    response, few = _list_page(client, 1)
    assert "-0.3500 USD (loss)" in response.content.decode()
    for i in range(20):
        generation(alice, T0 + timedelta(hours=2 + i))
    response, many = _list_page(client, 21)
    assert "0.6500 USD" in response.content.decode()
    assert many == few
    assert few > 3, few


def test_the_change_page_shows_them(client, staff, alice):
    pack(T0)
    purchase(alice, T0)
    gen = generation(alice, T0 + timedelta(hours=1))
    client.force_login(staff)
    page = client.get(f"/admin/generations/generation/{gen.pk}/change/").content.decode()
    assert "0.3500 USD" in page
