"""The ledger's time index: the dashboard's "entries in [start, end)" queries (today's live
figures, billing.reports) read it instead of scanning the whole ledger, and the page makes
as many queries as before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry

INDEX = "ledger_created_kind"
TODAY = "/admin/economics/?period=7d"
DASHBOARD_QUERIES = 14  # what the page made before the index


def _today_page(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(TODAY)
    assert response.status_code == 200
    return len(queries)


def test_the_index_leads_with_created_at(db):
    columns = connection.introspection.get_constraints(connection.cursor(), LedgerEntry._meta.db_table)
    assert columns[INDEX]["index"] and columns[INDEX]["columns"] == ["created_at", "kind"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_a_range_of_entries_is_read_by_the_index(alice):
    ledger.grant(alice, 5, key="grant:index")
    now = timezone.now()
    start, end = now - timedelta(days=1), now + timedelta(days=1)
    # The filter of billing.reports.credits_by_day and economics.rollup.within.
    query = (
        LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("kind", "amount")
        .order_by()
        .query
    )
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    # SEARCH (a range of the index), not SCAN (every row of the ledger).
    assert f"SEARCH billing_ledgerentry USING INDEX {INDEX} (created_at>? AND created_at<?)" in plan, plan


def test_the_dashboard_makes_as_many_queries_with_a_longer_ledger(client, staff, alice, bob):
    client.force_login(staff)
    ledger.grant(alice, 5, key="grant:few")
    few = _today_page(client)
    for i in range(200):
        ledger.grant(bob, 1, key=f"grant:many:{i}")
    many = _today_page(client)
    assert many == few == DASHBOARD_QUERIES
