import importlib
from datetime import timedelta

from django.utils import timezone

from billing import ledger
from billing.models import CreditPack, DemoCheckoutSession, Purchase
from billing.stripe_api import StripeApiError
from tests.billing.stripe_support import RECEIPT_URL, SESSION_ID
from tests.pages import without_pulse

pytest_plugins = ["tests.billing.stripe_fixtures"]


def test_it_shows_the_packs_with_price_per_credit_and_badge(alice_client, db):
    CreditPack.objects.all().delete()
    CreditPack.objects.create(name="Starter", credits=500, price_minor=1000, order=1)
    CreditPack.objects.create(name="Studio", credits=3500, price_minor=5000, badge="Best value", order=2)
    CreditPack.objects.create(name="Retired", credits=10, price_minor=100, active=False, order=3)
    response = alice_client.get("/credits/buy/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Starter" in page and "500" in page and "$10.00" in page
    assert "$2.00 per 100 credits" in page
    assert "3,500" in page and "$50.00" in page and "$1.43 per 100 credits" in page
    assert "Best value" in page
    assert "Retired" not in page


def test_it_asks_anonymous_visitors_to_log_in(client, db):
    response = client.get("/credits/buy/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/credits/purchases/").status_code == 302


def test_it_refuses_an_inactive_or_unknown_pack(alice_client, pack):
    pack.active = False
    pack.save()
    for value in (pack.pk, 999999, "", "abc"):
        response = alice_client.post("/credits/buy/", {"pack": value}, follow=True)
        assert response.redirect_chain == [("/credits/buy/", 302)]
        assert b"That credit pack is not available" in response.content
    assert Purchase.objects.count() == 0


def test_buying_creates_a_pending_purchase_and_sends_the_buyer_to_checkout(
    demo_mode, alice_client, alice, pack
):
    response = alice_client.post("/credits/buy/", {"pack": pack.pk})
    assert response.status_code == 303
    purchase = Purchase.objects.get()
    assert (purchase.user, purchase.status, purchase.credits, purchase.amount_minor) == (
        alice,
        "pending",
        1200,
        2000,
    )
    assert purchase.stripe_session_id.startswith("cs_demo_")
    assert response["Location"] == f"http://testserver/billing/demo/checkout/{purchase.stripe_session_id}/"
    session = DemoCheckoutSession.objects.get()
    assert session.idempotency_key == f"purchase:{purchase.pk}"
    assert session.metadata["purchase_id"] == str(purchase.pk)
    assert session.customer_email == "alice@example.org"


def test_the_success_page_credits_right_away(alice_client, fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    response = alice_client.get(f"/credits/buy/success/?session_id={SESSION_ID}")
    assert response.status_code == 200
    page = without_pulse(response.content.decode())
    assert "1,200 credits added" in page
    assert "hx-trigger" not in page
    assert ledger.balance_of(purchase.user) == 1200
    assert purchase.log.get().source == "success_page"


def test_the_success_page_polls_while_credits_are_on_their_way(
    alice_client, fake_stripe, purchase, monkeypatch
):
    from billing import stripe_api

    def stripe_down(session_id):
        raise StripeApiError("Stripe did not answer")

    monkeypatch.setattr(stripe_api, "retrieve_checkout_session", stripe_down)
    response = alice_client.get(f"/credits/buy/success/?session_id={SESSION_ID}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Payment received, credits arriving" in page
    assert f'hx-get="/credits/purchases/{purchase.pk}/status/"' in page
    assert "every 2s" in page


def test_the_success_page_says_when_a_payment_is_still_processing(alice_client, fake_stripe, purchase):
    fake_stripe.add_session(purchase, payment_status="unpaid")
    page = alice_client.get(f"/credits/buy/success/?session_id={SESSION_ID}").content.decode()
    assert "Your payment is processing" in page
    assert "hx-trigger" in page


def test_the_success_page_is_only_for_the_buyer(client, bob, fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    client.force_login(bob)
    assert client.get(f"/credits/buy/success/?session_id={SESSION_ID}").status_code == 404
    assert client.get("/credits/buy/success/?session_id=cs_unknown").status_code == 404
    assert client.get("/credits/buy/success/").status_code == 404
    assert ledger.balance_of(purchase.user) == 0


def test_the_status_fragment_stops_polling_once_credited(alice_client, fake_stripe, purchase):
    url = f"/credits/purchases/{purchase.pk}/status/"
    pending = alice_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" in pending
    assert "balance-badge" not in pending

    from billing import payments

    fake_stripe.add_session(purchase)
    payments.fulfill_checkout(SESSION_ID)
    done = alice_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "1,200 credits added" in done
    assert "hx-trigger" not in done and "hx-get" not in done
    assert 'id="balance-badge" hx-swap-oob="true">1,200<' in done


def test_the_status_fragment_gives_up_polling_after_half_an_hour(alice_client, purchase):
    Purchase.objects.filter(pk=purchase.pk).update(created_at=timezone.now() - timedelta(hours=1))
    page = without_pulse(alice_client.get(f"/credits/purchases/{purchase.pk}/status/").content.decode())
    assert "hx-trigger" not in page
    assert "check your purchase history" in page


def test_the_status_fragment_is_only_for_the_buyer(client, bob, purchase):
    client.force_login(bob)
    assert client.get(f"/credits/purchases/{purchase.pk}/status/").status_code == 404


def test_the_purchase_history_shows_only_my_purchases(alice_client, alice, bob, pack):
    Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name="Creator",
        credits=1200,
        amount_minor=2000,
        currency="usd",
        status="paid",
        receipt_url=RECEIPT_URL,
        paid_at=timezone.now(),
    )
    Purchase.objects.create(
        user=alice,
        pack=pack,
        pack_name="Yen pack",
        credits=100,
        amount_minor=1500,
        currency="jpy",
        status="partially_refunded",
        amount_refunded_minor=500,
        paid_at=timezone.now(),
    )
    Purchase.objects.create(
        user=bob, pack=pack, pack_name="Bobs pack", credits=1, amount_minor=1, currency="usd"
    )
    page = alice_client.get("/credits/purchases/").content.decode()
    assert "Creator" in page and "$20.00" in page and "1,200" in page
    assert 'class="chip chip-succeeded">Paid<' in page
    assert f'href="{RECEIPT_URL}"' in page
    assert "¥1,500" in page and "¥500 refunded" in page and "Partially refunded" in page
    assert "Bobs pack" not in page


def test_the_purchase_history_pages(alice_client, alice):
    for i in range(30):
        Purchase.objects.create(user=alice, pack_name=f"P{i}", credits=1, amount_minor=100, currency="usd")
    page = alice_client.get("/credits/purchases/").content.decode()
    assert "Page 1 of 2" in page
    assert alice_client.get("/credits/purchases/?page=2").status_code == 200


def test_the_purchase_history_has_an_empty_state(alice_client):
    assert b"You have not bought any credits yet" in alice_client.get("/credits/purchases/").content


def test_the_cancel_page_closes_the_checkout(alice_client, fake_stripe, purchase):
    fake_stripe.add_session(purchase, status="open", payment_status="unpaid")
    response = alice_client.get(f"/credits/buy/cancel/?purchase={purchase.pk}")
    assert response.status_code == 200
    assert b"Nothing was charged" in response.content
    purchase.refresh_from_db()
    assert purchase.status == "expired"


def test_the_cancel_page_leaves_a_paid_checkout_alone(alice_client, fake_stripe, purchase):
    fake_stripe.add_session(purchase)
    response = alice_client.get(f"/credits/buy/cancel/?purchase={purchase.pk}")
    assert b"your credits will still arrive" in response.content
    purchase.refresh_from_db()
    assert purchase.status == "pending"


def test_the_cancel_page_ignores_other_peoples_purchases(client, bob, fake_stripe, purchase):
    fake_stripe.add_session(purchase, status="open", payment_status="unpaid")
    client.force_login(bob)
    assert client.get(f"/credits/buy/cancel/?purchase={purchase.pk}").status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == "pending"


def test_the_default_packs_are_created_by_migration(db):
    from django.apps import apps

    migration = importlib.import_module("billing.migrations.0004_default_credit_packs")
    CreditPack.objects.all().delete()
    migration.create_default_packs(apps, None)
    migration.create_default_packs(apps, None)  # never twice
    packs = list(CreditPack.objects.values_list("credits", "price_minor", "currency", "badge"))
    assert packs == [
        (500, 1000, "usd", ""),
        (1200, 2000, "usd", "Popular"),
        (3500, 5000, "usd", "Best value"),
    ]


def test_amounts_are_formatted_from_minor_units_without_floats():
    from billing.money import format_minor, per_hundred_credits

    assert format_minor(1000, "usd") == "$10.00"
    assert format_minor(123456789, "eur") == "€1,234,567.89"
    assert format_minor(5, "chf") == "0.05 CHF"
    assert format_minor(1500, "JPY") == "¥1,500"
    assert format_minor(1234, "kwd") == "1.234 KWD"
    assert format_minor(-250, "gbp") == "-£2.50"
    assert per_hundred_credits(5000, 3500) == 143  # 1.428... rounds to 1.43
    assert per_hundred_credits(2000, 1200) == 167


def test_open_checkouts_are_capped_per_person(demo_mode, alice_client, alice, pack, settings):
    settings.MAX_PENDING_CHECKOUTS = 2
    for _ in range(2):
        assert alice_client.post("/credits/buy/", {"pack": pack.pk}).status_code == 303
    response = alice_client.post("/credits/buy/", {"pack": pack.pk}, follow=True)
    assert response.redirect_chain == [("/credits/buy/", 302)]
    assert "You have 2 checkouts open" in response.content.decode()
    assert Purchase.objects.filter(user=alice).count() == 2
    assert DemoCheckoutSession.objects.count() == 2  # no third call to Stripe


def test_starting_checkouts_is_rate_limited(demo_mode, alice_client, alice, pack, settings, monkeypatch):
    from billing import views

    settings.MAX_PENDING_CHECKOUTS = 0
    monkeypatch.setattr(views, "BUY_ATTEMPTS", 3)
    for _ in range(3):
        assert alice_client.post("/credits/buy/", {"pack": pack.pk}).status_code == 303
    response = alice_client.post("/credits/buy/", {"pack": pack.pk}, follow=True)
    assert "Too many checkouts started" in response.content.decode()
    assert Purchase.objects.filter(user=alice).count() == 3


def test_it_starts_a_checkout_while_the_cache_is_down(demo_mode, alice_client, alice, pack, monkeypatch):
    # The per-person checkout rate limit lives in the cache; Redis restarting must not make
    # the buy page answer 500. The cap on open checkouts (in the database) still applies.
    from redis.exceptions import ConnectionError as RedisConnectionError

    from kling_site import rate_limits

    def cache_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(rate_limits.cache, "add", cache_down)
    monkeypatch.setattr(rate_limits.cache, "incr", cache_down)
    response = alice_client.post("/credits/buy/", {"pack": pack.pk})
    assert response.status_code == 303
    assert Purchase.objects.filter(user=alice).count() == 1
