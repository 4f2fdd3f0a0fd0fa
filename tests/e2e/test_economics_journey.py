"""Browser journey: a staff member sees the alert banner in admin, opens the economics
dashboard from it, reads the chart and its table, exports the CSV, and sees the price
sheet flag a row sold below cost."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from economics import alerts
from generations.models import Price
from tests.economics.helpers import generation, pack, purchase

pytestmark = pytest.mark.e2e


@pytest.mark.journey("30-economics-dashboard")
def test_staff_open_the_dashboard_and_export_its_csv(page, people, screenshot):
    alice = people.make_person("alice@example.org", welcome=False)
    people.make_staff("staff@example.org")
    yesterday = timezone.now() - timedelta(days=1)
    pack(yesterday - timedelta(days=1))  # $0.14 a unit
    purchase(alice, yesterday, credits=100, amount_minor=1000)  # $0.10 a credit
    for _ in range(3):
        generation(alice, yesterday, cost=10, units="2.5")
    generation(alice, yesterday, cost=10, units="2.5", status="failed", error_code="risk_control")
    Price.objects.update_or_create(
        kind="text2video",
        model_name="kling-v2-6",
        mode="pro",
        duration=5,
        audio=False,
        defaults={"credits": 3},
    )
    alerts.check()  # that row sells below cost

    page.goto("/admin/")
    page.fill("#id_username", "staff@example.org")
    page.fill("#id_password", people.password)
    page.get_by_role("button", name="Log in").click()
    banner = page.locator("#economics-alerts")
    expect(banner).to_contain_text("sells below Kling's cost")
    banner.get_by_role("link", name="Economics").first.click()
    expect(page).to_have_url(re.compile(r"/admin/economics/$"))

    summary = page.locator("#summary")
    expect(summary).to_contain_text("4 / 3 / 1")  # started / succeeded / failed
    expect(summary).to_contain_text("25.0 %")  # refund rate
    expect(page.locator("svg").first).to_be_visible()
    day_row = page.locator("#by-day tbody tr", has_text=f"{yesterday:%Y-%m-%d}")
    expect(day_row).to_contain_text("3.0000")  # 30 credits kept at $0.10
    expect(day_row).to_contain_text("1.4000")  # 10 units at $0.14, the billed failure included
    screenshot(page, "dashboard")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export by day (CSV)").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.DictReader(io.StringIO(exported.read())))
    (day,) = [r for r in rows if r["day"] == f"{yesterday:%Y-%m-%d}"]
    assert (day["credit_value"], day["provider_cost"], day["margin"]) == ("3.0000", "1.4000", "1.6000")
    assert (day["started"], day["failed"]) == ("4", "1")

    page.goto("/admin/generations/price/?model_name=kling-v2-6&mode=pro&duration=5")
    expect(page.locator(".below-cost")).to_contain_text("-16.7 % below cost")
    screenshot(page, "price-sheet")
