"""The price list as a price sheet: units, provider cost, sale value, margin, and prices set
to a target margin."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from economics import price_sheet
from generations import pricing
from generations.models import Price
from tests.economics.helpers import pack, purchase


@pytest.fixture
def priced(alice):
    """$0.14 a video unit, $0.0035 an image unit, $0.10 a credit, and three rows."""
    now = timezone.now()
    pack(now - timedelta(days=1))
    pack(now - timedelta(days=1), units="1000", price="3.50", product_type="image", name="Image-1000")
    purchase(alice, now - timedelta(days=1), credits=100, amount_minor=1000)
    Price.objects.all().delete()
    return {
        "clip": Price.objects.create(
            kind="text2video", model_name="kling-v2-6", mode="std", duration=5, credits=15
        ),
        "cheap": Price.objects.create(
            kind="text2video", model_name="kling-v2-6", mode="pro", duration=5, audio=False, credits=3
        ),
        "image": Price.objects.create(kind="text2image", model_name="kling-v3", credits=1),
        "wildcard": Price.objects.create(kind="text2video", model_name="kling-v3", credits=50),
    }


def test_every_default_row_has_its_units():
    for row in pricing.default_price_rows():
        units = pricing.price_units(
            row["kind"], row["model_name"], row["mode"], row["duration"], row["audio"]
        )
        assert units is not None, row


def test_it_computes_each_row_exactly(priced):
    clip = price_sheet.row(priced["clip"], price_sheet.load_context())
    assert (clip.units, clip.cost, clip.sale_value) == (Decimal("1.5"), Decimal("0.2100"), Decimal("1.5000"))
    assert clip.margin.margin == Decimal("1.2900") and clip.margin.percent == Decimal("86.0")
    assert not clip.below_cost

    image = price_sheet.row(priced["image"], price_sheet.load_context())
    assert (image.units, image.cost, image.margin.percent) == (
        Decimal("8"),
        Decimal("0.0280"),
        Decimal("72.0"),
    )


def test_it_flags_rows_sold_below_cost(priced):
    # 2.5 units at $0.14 = $0.35, sold for 3 credits at $0.10.
    (cheap,) = price_sheet.below_cost()
    assert cheap.price == priced["cheap"]
    assert cheap.margin.margin == Decimal("-0.0500") and cheap.margin.percent == Decimal("-16.7")


def test_a_wildcard_row_or_a_missing_pack_has_no_margin(priced):
    wildcard = price_sheet.row(priced["wildcard"], price_sheet.load_context())
    assert wildcard.units is None and wildcard.margin is None and "wildcard" in wildcard.why_unknown
    later = price_sheet.row(
        priced["clip"], price_sheet.load_context(), now=timezone.now() + timedelta(days=60)
    )
    assert later.cost is None and later.margin is None and later.why_unknown == "no pack covers today"


def test_credits_for_a_margin_are_the_fewest_that_reach_it():
    assert price_sheet.credits_for_margin(Decimal("0.21"), Decimal("0.10"), Decimal("50")) == 5
    assert price_sheet.credits_for_margin(Decimal("0.20"), Decimal("0.10"), Decimal("0")) == 2
    assert price_sheet.credits_for_margin(Decimal("0.0001"), Decimal("0.10"), Decimal("10")) == 1
    for bad in (Decimal("-1"), Decimal("100")):
        with pytest.raises(ValueError):
            price_sheet.credits_for_margin(Decimal("1"), Decimal("0.10"), bad)
    with pytest.raises(ValueError):
        price_sheet.credits_for_margin(Decimal("1"), Decimal("0"), Decimal("10"))


def test_it_sets_rows_to_a_target_margin(priced):
    result = price_sheet.set_target_margin(Price.objects.all(), Decimal("50"))
    assert (result.changed, result.unchanged) == (2, 1)
    assert [p for p, _why in result.skipped] == [priced["wildcard"]]
    credits = dict(Price.objects.values_list("pk", "credits"))
    assert credits[priced["clip"].pk] == 5  # $0.21 / ($0.10 x 0.5) = 4.2, rounded up
    assert credits[priced["cheap"].pk] == 7  # $0.35 / $0.05
    assert credits[priced["image"].pk] == 1
    assert credits[priced["wildcard"].pk] == 50
    assert price_sheet.below_cost() == []


def test_without_any_sale_nothing_is_changed(db):
    pack(timezone.now() - timedelta(days=1))
    row = Price.objects.create(
        kind="text2video", model_name="kling-v2-6", mode="std", duration=10, credits=30
    )
    result = price_sheet.set_target_margin([row], Decimal("30"))
    assert result.changed == 0 and result.skipped[0][1] == "no credit sold yet"


def test_the_admin_price_list_shows_the_sheet(client, staff, priced):
    client.force_login(staff)
    page = client.get("/admin/generations/price/").content.decode()
    assert "Kling units" in page and "0.2100" in page and "86.0 %" in page
    assert "-16.7 % below cost" in page


def test_the_sheet_needs_the_dashboard_permission(client, django_user_model, priced):
    clerk = django_user_model.objects.create_user(email="clerk@example.org", password="x", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_price", "change_price"]))
    client.force_login(clerk)
    page = client.get("/admin/generations/price/").content.decode()
    assert "Kling units" not in page and "set_target_margin" not in page


def test_the_bulk_action_asks_the_margin_then_sets_it(client, staff, priced):
    client.force_login(staff)
    selected = [priced["clip"].pk, priced["cheap"].pk]
    form = {"action": "set_target_margin", "_selected_action": selected}
    page = client.post("/admin/generations/price/", form)
    assert page.status_code == 200 and b"Target margin" in page.content
    assert b"-16.7 %" in page.content

    bad = client.post("/admin/generations/price/", {**form, "apply": "1", "margin": "100"})
    assert bad.status_code == 200 and b"errorlist" in bad.content
    assert Price.objects.get(pk=priced["cheap"].pk).credits == 3

    done = client.post("/admin/generations/price/", {**form, "apply": "1", "margin": "50"}, follow=True)
    assert "2 prices changed" in done.content.decode()
    assert Price.objects.get(pk=priced["cheap"].pk).credits == 7
    assert Price.objects.get(pk=priced["image"].pk).credits == 1  # not selected
