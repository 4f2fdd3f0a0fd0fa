"""Daily rollups: the dashboard's figures from summed days equal those from the raw rows."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ledger, reports
from billing.models import Purchase
from economics import dashboard, rollup, tasks
from economics.apps import ROLLUP_SCHEDULE, create_schedules
from economics.models import GenerationDay, LedgerDay, RollupDay
from generations.models import Generation
from tests.economics.helpers import pack, purchase

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ZONES = ["UTC", "Asia/Shanghai", "America/Los_Angeles"]
MODELS = [
    ("text2video", "kling-v2-6", "std", 5),
    ("text2video", "kling-v2-6", "pro", 10),
    ("image2video", "kling-v2-1", "pro", 5),
    ("text2image", "kling-v2", "", None),
]


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _at(when: datetime):
    return time_machine.travel(when, tick=False)


def _when(rng: random.Random, days: int = 9) -> datetime:
    """A moment in the last `days` days, often within minutes of a local midnight."""
    if rng.random() < 0.4:
        day = timezone.localdate(NOW) - timedelta(days=rng.randrange(days))
        when = rollup.start_of(day) + timedelta(seconds=rng.randrange(-300, 300))
    else:
        when = NOW - timedelta(seconds=rng.randrange(60, days * 86400))
    return min(when, NOW - timedelta(seconds=1))


def _generation(rng, user, created, status):
    kind, model, mode, duration = rng.choice(MODELS)
    billed = status == "succeeded" or (status == "failed" and rng.random() < 0.3)
    finished = None if status == "processing" else min(created + timedelta(minutes=rng.randrange(90)), NOW)
    gen = Generation.objects.create(
        owner=user,
        kind=kind,
        provider="simulator",
        model_name=model,
        mode=mode,
        duration=duration,
        cost=rng.choice([4, 10, 35]),
        status=status,
        error_code=rng.choice(["risk_control", "generation_failed", ""]) if status == "failed" else "",
        units_charged=Decimal(rng.choice(["0.333", "1.5", "2.5", "8"])) if billed else None,
        created_at=created,
        finished_at=finished,
    )
    with _at(created):
        ledger.charge(user, gen.cost, key=f"gen:{gen.pk}:charge", generation=gen)
    if status == "failed":
        with _at(finished):
            ledger.refund(user, gen.cost, key=f"gen:{gen.pk}:refund", generation=gen)
    return gen


def _seed(rng: random.Random, people: list, n: int = 150) -> None:
    """Packs that change mid-period, purchases (one refunded), grants and generations."""
    pack(NOW - timedelta(days=40), days=35, units="1000", price="120.00")  # expires 5 days ago
    pack(NOW - timedelta(days=7), days=60, units="5000", price="650.00", name="Video-5000")
    pack(NOW - timedelta(days=20), days=60, units="300", price="9.00", product_type="image", name="Image-300")
    for i, person in enumerate(people):
        with _at(NOW - timedelta(days=10, minutes=i)):
            purchase(person, timezone.now(), credits=5000, amount_minor=50_000)
        for _ in range(3):
            when = _when(rng)
            with _at(when):
                ledger.grant(person, rng.randrange(1, 50), key=f"grant:{person.pk}:{when.timestamp()}")
                purchase(person, when, credits=200, amount_minor=rng.choice([1800, 2000]))
    for _ in range(n):
        created = _when(rng)
        recent = NOW - created < timedelta(days=2)
        status = rng.choices(["succeeded", "failed", "processing"], [70, 20, 10 if recent else 0])[0]
        _generation(rng, rng.choice(people), created, status)


def _raw(period: dashboard.Period) -> dict:
    """The figures as if nothing had been summed."""
    with mock.patch.object(rollup, "coverage", return_value=rollup.Coverage({}, frozenset(), None)):
        return _comparable(dashboard.build(period))


def _comparable(figures: dict) -> dict:
    return {
        "total": dataclasses.asdict(figures["total"]),
        "days": [
            (d.day, dataclasses.asdict(d.line), d.revenue_gross_minor, d.revenue_refunded_minor, d.credits)
            for d in figures["days"]
        ],
        "by_model": {k: dataclasses.asdict(v) for k, v in figures["by_model"]},
        "by_kind": {k: dataclasses.asdict(v) for k, v in figures["by_kind"]},
        "failures": dict(figures["failures"]),
        **{
            k: figures[k]
            for k in (
                "refund_rate",
                "revenue_gross_minor",
                "revenue_refunded_minor",
                "credits",
                "top_spenders",
                "liability",
            )
        },
    }


PERIODS = [
    ("7d", None, None),
    ("30d", None, None),
    ("custom", "2026-11-12", "2026-11-17"),  # past days only
    ("custom", "2026-11-19", "2026-11-20"),  # yesterday and today
]


def _check(periods=PERIODS) -> None:
    for preset, first, last in periods:
        period = dashboard.parse_period(preset, first, last)
        assert _comparable(dashboard.build(period)) == _raw(period), (preset, first, last)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("seed", [1, 2])
def test_summed_days_give_the_raw_figures(settings, now, alice, bob, staff, zone, seed):
    settings.TIME_ZONE = zone
    _seed(random.Random(seed), [alice, bob, staff])
    before = {p[0] + str(p[1]): _raw(dashboard.parse_period(*p)) for p in PERIODS}
    assert rollup.refresh() >= 9
    assert GenerationDay.objects.exists() and LedgerDay.objects.exists()
    # Today is never summed; the days before it are.
    assert not RollupDay.objects.filter(day__gte=timezone.localdate()).exists()
    assert RollupDay.objects.filter(
        day=timezone.localdate() - timedelta(days=3), generations_closed=True
    ).exists()
    _check()
    assert {p[0] + str(p[1]): _raw(dashboard.parse_period(*p)) for p in PERIODS} == before
    # And the liability's dormant part, read a year later.
    cov = rollup.coverage(list(dashboard.load_context().packs))
    later = NOW + timedelta(days=400)
    assert rollup.liability(cov, now=later) == reports.liability(now=later)
    assert rollup.liability(cov, now=later).dormant_accounts == 3


def test_a_refund_or_dispute_of_an_old_day_shows_at_once(now, alice, bob):
    _seed(random.Random(3), [alice, bob], n=40)
    old = Purchase.objects.filter(user=alice, paid_at__lt=NOW - timedelta(days=3)).order_by("paid_at").first()
    rollup.refresh()
    period = dashboard.parse_period("30d")
    before = dashboard.build(period)["revenue_refunded_minor"]
    Purchase.objects.filter(pk=old.pk).update(
        amount_refunded_minor=old.amount_minor, status=Purchase.Status.REFUNDED
    )
    ledger.clawback(alice, old.credits, key=f"refund:re_{old.pk}", purchase=old)
    dispute = (
        Purchase.objects.filter(user=bob, paid_at__lt=NOW - timedelta(days=3)).order_by("paid_at").first()
    )
    Purchase.objects.filter(pk=dispute.pk).update(amount_refunded_minor=dispute.amount_minor)
    after = dashboard.build(period)
    assert after["revenue_refunded_minor"] == before + old.amount_minor + dispute.amount_minor
    day = next(d for d in after["days"] if d.day == timezone.localdate(old.paid_at))
    assert day.revenue_refunded_minor >= old.amount_minor
    _check()


def test_a_day_with_work_in_flight_is_read_raw_until_it_finishes(now, alice):
    purchase(alice, NOW - timedelta(days=3), credits=500, amount_minor=5000)
    pack(NOW - timedelta(days=30))
    late = rollup.start_of(timezone.localdate()) - timedelta(minutes=5)  # yesterday, 23:55
    gen = _generation(random.Random(4), alice, late, "processing")
    rollup.refresh()
    day = RollupDay.objects.get(day=timezone.localdate(late))
    assert not day.generations_closed and not GenerationDay.objects.filter(rollup=day).exists()
    # It fails after midnight, and is refunded today.
    Generation.objects.filter(pk=gen.pk).update(
        status="failed", finished_at=NOW, units_charged=Decimal("2.5")
    )
    ledger.refund(alice, gen.cost, key=f"gen:{gen.pk}:refund", generation=gen)
    _check()
    assert rollup.refresh() == 1
    assert RollupDay.objects.get(day=timezone.localdate(late)).generations_closed
    _check()


def test_a_pack_whose_dates_change_sends_its_days_back_to_the_raw_rows(now, alice, bob):
    _seed(random.Random(5), [alice, bob], n=60)
    rollup.refresh()
    first = dashboard.load_context().packs[0]
    first.expires_at = NOW - timedelta(days=2)
    first.save()
    assert rollup.coverage(dashboard.load_context().packs).generations == frozenset()
    _check()
    assert rollup.refresh() >= 9
    _check()


def test_days_cut_in_another_time_zone_are_not_reused(settings, now, alice, bob):
    _seed(random.Random(6), [alice, bob], n=60)
    rollup.refresh()
    settings.TIME_ZONE = "Asia/Shanghai"
    assert rollup.coverage(dashboard.load_context().packs).ledger == {}
    _check()
    rollup.refresh()
    assert set(RollupDay.objects.values_list("zone", flat=True)) == {"Asia/Shanghai"}
    _check()


def test_summing_again_changes_nothing_and_a_raced_run_gives_up(now, alice, bob):
    _seed(random.Random(7), [alice, bob], n=30)
    assert rollup.refresh() > 0
    closed = list(RollupDay.objects.filter(generations_closed=True).values_list("pk", "day"))
    still_open = RollupDay.objects.filter(generations_closed=False).count()
    # Only days summed while work was in flight are summed again.
    assert rollup.refresh() == still_open
    assert list(RollupDay.objects.filter(generations_closed=True).values_list("pk", "day")) == closed
    rows = list(RollupDay.objects.values_list("pk", "day"))
    # A run that read the days before another one rewrote them writes nothing.
    stale = {d: RollupDay(pk=-1, day=d) for _, d in rows}
    with pytest.raises(rollup._Raced):
        rollup._write("UTC", "", [rows[0][1]], stale, set(), [], [])
    assert list(RollupDay.objects.values_list("pk", "day")) == rows


def test_the_command_rebuilds_and_the_task_is_scheduled(now, alice, bob, capsys):
    _seed(random.Random(8), [alice, bob], n=30)
    tasks.roll_up_days()
    first = set(RollupDay.objects.values_list("pk", flat=True))
    call_command("rebuild_rollups")
    assert "day(s) summed, through 2026-11-19" in capsys.readouterr().out
    assert first.isdisjoint(RollupDay.objects.values_list("pk", flat=True))
    _check()
    create_schedules(sender=None)
    from django_q.models import Schedule

    assert Schedule.objects.get(name=ROLLUP_SCHEDULE).func == "economics.tasks.roll_up_days"


def test_no_data_sums_nothing(now, db):
    assert rollup.refresh() == 0
    assert dashboard.build(dashboard.parse_period("30d"))["total"].started == 0


def test_summed_pages_keep_their_queries_constant(client, staff, alice, bob):
    client.force_login(staff)
    with time_machine.travel(NOW, tick=False):
        _seed(random.Random(9), [alice, bob], n=10)
        rollup.refresh()

        def page():
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/admin/economics/?period=30d").status_code == 200
            return len(queries)

        few = page()
        rng = random.Random(10)
        for _ in range(300):
            _generation(rng, rng.choice([alice, bob]), _when(rng), "succeeded")
        rollup.refresh(full=True)
        assert page() == few
