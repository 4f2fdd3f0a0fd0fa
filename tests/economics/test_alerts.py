"""Alerts: staff are emailed once per condition (not once per check) and see a banner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from economics import alerts
from economics.models import Alert, PackSnapshot
from generations.models import Price
from tests.economics.helpers import generation, pack, purchase


def _snapshot(remaining: float, *, expires_in_days: int = 60, name: str = "Video-1000") -> PackSnapshot:
    return PackSnapshot.objects.create(
        packs=[
            {
                "name": name,
                "product_type": "video",
                "remaining": remaining,
                "total": 1000.0,
                "status": "online" if remaining > 0 else "runOut",
                "expires_at": (timezone.now() + timedelta(days=expires_in_days)).isoformat(),
            }
        ]
    )


@pytest.fixture
def burning(alice, staff):
    """70 units used in the last week: 10 a day. No price row to compare with."""
    Price.objects.all().delete()
    purchase(alice, timezone.now() - timedelta(days=2), credits=1000, amount_minor=10000)
    for _ in range(7):
        generation(alice, timezone.now() - timedelta(days=2), units="10")
    return alice


def test_a_low_pack_is_emailed_once_per_condition(burning):
    _snapshot(30.0)  # 3 days left, under the 7 configured
    assert [a.key for a in alerts.check()] == ["pack_low:video"]
    (message,) = mail.outbox
    assert message.to == ["staff@example.org"]
    assert "running low: 30.0 units left, 3.0 days left" in message.body
    assert "/admin/economics/" in message.body

    for _ in range(3):  # the 15-minute checks that follow
        assert alerts.check() == []
    assert len(mail.outbox) == 1 and Alert.objects.count() == 1

    _snapshot(900.0)  # a new pack: the condition is gone
    alerts.check()
    assert Alert.objects.get().cleared_at is not None and alerts.open_alerts() == []

    _snapshot(20.0)  # and back: a new condition, a new email
    assert len(alerts.check()) == 1
    assert len(mail.outbox) == 2 and Alert.objects.count() == 2


def test_a_units_threshold_warns_too(burning, settings):
    _snapshot(900.0)
    assert alerts.conditions() == {}
    settings.ECONOMICS_LOW_PACK_UNITS = 1000
    assert list(alerts.conditions()) == ["pack_low:video"]


def test_a_pack_about_to_expire_with_units_left_warns(burning):
    _snapshot(900.0, expires_in_days=3, name="Trial-Video")
    (key,) = alerts.conditions()
    assert key == "pack_expiring:Trial-Video"
    assert "expires on" in alerts.conditions()[key] and "900.0 units unused" in alerts.conditions()[key]


def test_a_price_below_cost_warns(alice, staff):
    Price.objects.all().delete()
    pack(timezone.now() - timedelta(days=1))  # $0.14 a unit
    purchase(alice, timezone.now() - timedelta(days=1), credits=100, amount_minor=1000)  # $0.10 a credit
    cheap = Price.objects.create(
        kind="text2video", model_name="kling-v2-6", mode="pro", duration=5, audio=False, credits=3
    )
    Price.objects.create(kind="text2video", model_name="kling-v2-6", mode="std", duration=5, credits=15)
    (alert,) = alerts.check()
    assert alert.key == f"below_cost:{cheap.pk}" and "margin -16.7 %" in alert.message
    assert "sells below Kling's cost" in mail.outbox[0].body


def test_an_unusual_refund_rate_in_the_last_hour_warns(alice, staff):
    Price.objects.all().delete()
    purchase(alice, timezone.now() - timedelta(days=2), credits=1000, amount_minor=10000)
    recent = timezone.now() - timedelta(minutes=10)
    for i in range(10):
        generation(alice, recent, status="failed" if i < 4 else "succeeded")
    assert "40.0 % of the last hour's 10 generations" in alerts.conditions()["refund_rate"]

    # Against the week before: unusual at twice its rate, usual under it.
    week = timezone.now() - timedelta(days=3)
    for i in range(10):
        generation(alice, week, status="failed" if i < 2 else "succeeded")
    assert "refund_rate" in alerts.conditions()  # 40 % against 20 %
    generation(alice, week, status="failed")
    assert "refund_rate" not in alerts.conditions()  # 40 % against 27.3 %


def test_a_quiet_hour_is_not_unusual(alice, staff):
    Price.objects.all().delete()
    purchase(alice, timezone.now() - timedelta(days=2), credits=100, amount_minor=1000)
    for _ in range(3):
        generation(alice, timezone.now() - timedelta(minutes=5), status="failed")
    assert alerts.conditions() == {}


def test_a_failed_email_is_sent_at_the_next_check(burning, monkeypatch):
    _snapshot(30.0)

    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(alerts, "send_mail", broken)
    assert alerts.check() == []
    assert Alert.objects.get().emailed_at is None
    monkeypatch.undo()
    assert len(alerts.check()) == 1 and len(mail.outbox) == 1


def test_one_condition_has_one_open_alert(db):
    Alert.objects.create(key="pack_low:video", message="low")
    with pytest.raises(IntegrityError):
        Alert.objects.create(key="pack_low:video", message="low again")


def test_only_staff_who_may_see_the_dashboard_are_emailed(staff, django_user_model):
    clerk = django_user_model.objects.create_user(email="clerk@example.org", password="x", is_staff=True)
    accountant = django_user_model.objects.create_user(
        email="accountant@example.org", password="x", is_staff=True
    )
    accountant.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    assert alerts.recipients() == ["accountant@example.org", "staff@example.org"]
    assert clerk.email not in alerts.recipients()


def test_open_alerts_show_as_a_banner_in_admin(client, staff, django_user_model, db):
    Alert.objects.create(key="pack_low:video", message="The Kling video pack is running low.")
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert 'id="economics-alerts"' in page and "running low" in page
    clerk = django_user_model.objects.create_user(email="clerk@example.org", password="x", is_staff=True)
    client.force_login(clerk)
    assert "economics-alerts" not in client.get("/admin/").content.decode()


def test_the_scheduled_refresh_checks_the_alerts(burning, monkeypatch):
    from economics import balance, tasks

    monkeypatch.setattr(balance, "refresh", lambda: _snapshot(10.0))
    tasks.refresh_pack_balance()
    assert len(mail.outbox) == 1
