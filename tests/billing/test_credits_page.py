import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import ledger
from billing.models import CreditAccount, Purchase
from generations.models import Generation


def _csv(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def alice_history(alice):
    purchase = Purchase.objects.create(
        user=alice, pack_name="Starter", credits=100, amount_minor=500, currency="usd"
    )
    generation = Generation.objects.create(
        owner=alice, kind="text2image", provider="simulator", model_name="kling-v2", cost=30
    )
    ledger.credit_purchase(alice, 100, key="checkout:cs_1", purchase=purchase, memo="Starter pack")
    ledger.charge(alice, 30, key=f"gen:{generation.pk}:charge", generation=generation, memo="Text to image")
    return purchase, generation


def test_it_requires_login(client, db):
    for url in ("/credits/", "/credits/export.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_it_shows_the_balance_and_history(alice_client, alice_history):
    _, generation = alice_history
    response = alice_client.get("/credits/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="credit-balance">70 <small>credits</small>' in html
    assert '<td class="num amount-pos">+100</td>' in html
    assert '<td class="num amount-neg">-30</td>' in html
    assert "Starter pack" in html and "Text to image" in html
    assert f'href="/generations/{generation.pk}/"' in html
    assert 'href="/credits/purchases/"' in html
    assert 'href="/credits/buy/" class="btn btn-accent">Buy credits' in html
    assert 'href="/credits/export.csv"' in html
    # Newest first.
    assert html.index("-30</td>") < html.index("+100</td>")


def test_it_shows_an_empty_state(alice_client):
    response = alice_client.get("/credits/")
    assert b"No credit movements yet" in response.content
    assert b'id="credit-balance">0 <small>' in response.content


def test_it_explains_a_negative_balance(alice_client, alice):
    ledger.grant(alice, 5, key="g")
    ledger.clawback(alice, 10, key="c")
    response = alice_client.get("/credits/")
    assert b'class="stat-value amount-neg" id="credit-balance">-5 <small>' in response.content
    assert b"refunded or disputed" in response.content


def test_it_shows_only_the_owners_history(client, alice_history, bob):
    ledger.grant(bob, 3, key="bob:g", memo="Bob's grant")
    client.force_login(bob)
    html = client.get("/credits/").content.decode()
    assert "Bob&#x27;s grant" in html
    assert "Starter pack" not in html
    rows = _csv(client.get("/credits/export.csv"))
    assert [row[4] for row in rows[1:]] == ["Bob's grant"]


def test_it_paginates(alice_client, alice):
    for i in range(30):
        ledger.grant(alice, 1, key=f"g{i}", memo=f"entry {i}")
    first = alice_client.get("/credits/").content.decode()
    assert first.count('<td class="num amount-pos">') == 25
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = alice_client.get("/credits/?page=2").content.decode()
    assert second.count('<td class="num amount-pos">') == 5
    assert "Page 2 of 2" in second and "entry 0<" in second
    # Nonsense page numbers land on a real page instead of failing.
    assert alice_client.get("/credits/?page=99").status_code == 200
    assert alice_client.get("/credits/?page=abc").status_code == 200


def test_the_page_uses_a_constant_number_of_queries(alice_client, alice, alice_history):
    with CaptureQueriesContext(connection) as few:
        alice_client.get("/credits/")
    for i in range(20):
        ledger.grant(alice, 1, key=f"g{i}")
    with CaptureQueriesContext(connection) as many:
        alice_client.get("/credits/")
    assert len(many) == len(few)


def test_it_exports_the_whole_history_as_csv(alice_client, alice, alice_history):
    purchase, generation = alice_history
    for i in range(40):
        ledger.grant(alice, 1, key=f"g{i}")
    response = alice_client.get("/credits/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="credits-')
    rows = _csv(response)
    assert rows[0] == ["date", "kind", "amount", "balance_after", "memo", "generation_id", "purchase_id"]
    assert len(rows) == 1 + 42
    # Oldest first, like a statement.
    assert rows[1][1:] == ["purchase", "100", "100", "Starter pack", "", str(purchase.pk)]
    assert rows[2][1:] == ["charge", "-30", "70", "Text to image", str(generation.pk), ""]
    assert rows[-1][3] == "110"


def test_the_csv_neutralises_spreadsheet_formulas(alice_client, alice, staff):
    ledger.grant(alice, 5, key="g", memo='=HYPERLINK("http://evil.example")', created_by=staff)
    rows = _csv(alice_client.get("/credits/export.csv"))
    assert rows[1][4] == '\'=HYPERLINK("http://evil.example")'


# The balance badge in the navigation


def test_the_badge_shows_zero_without_creating_an_account(alice_client, alice):
    response = alice_client.get("/account/")
    assert b'id="balance-badge" title="Your credit balance">0<' in response.content
    assert not CreditAccount.objects.filter(user=alice).exists()


def test_the_badge_shows_the_balance(alice_client, alice):
    ledger.grant(alice, 1234, key="g")
    response = alice_client.get("/account/")
    assert b'id="balance-badge" title="Your credit balance">1,234<' in response.content


def test_the_badge_marks_a_negative_balance(alice_client, alice):
    ledger.grant(alice, 5, key="g")
    ledger.clawback(alice, 8, key="c")
    response = alice_client.get("/account/")
    assert (
        b'class="badge badge-danger" id="balance-badge" title="Your credit balance">-3<' in response.content
    )


def test_the_badge_costs_one_query(alice_client, alice, settings):
    ledger.grant(alice, 5, key="g")
    with CaptureQueriesContext(connection) as queries:
        alice_client.get("/account/")
    assert sum("billing_creditaccount" in q["sql"] for q in queries) == 1


def test_anonymous_visitors_get_no_badge(client, db):
    assert b"balance-badge" not in client.get("/").content


@pytest.mark.parametrize(
    ("language", "amount", "balance", "date_pattern"),
    [
        ("en", "+1,000", "1,000", r"\d\d/\d\d/\d{4} \d"),
        # Django's Chinese formats group by ten thousand with no separator, so 1000 stays 1000.
        ("zh-hans", "+1000", "1000", r"\d{4}年\d{1,2}月\d{1,2}日 \d"),
    ],
)
def test_numbers_and_dates_have_one_style_per_page(
    alice_client, alice, language, amount, balance, date_pattern
):
    """A ledger amount is grouped like the balance beside it, and the Credits and Purchases
    pages write dates the same way, in the reader's language."""
    purchase = Purchase.objects.create(
        user=alice, pack_name="Starter", credits=1000, amount_minor=1000, currency="usd"
    )
    ledger.credit_purchase(alice, 1000, key="checkout:cs_style", purchase=purchase, memo="Starter pack")
    credits = alice_client.get("/credits/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    purchases = alice_client.get("/credits/purchases/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'<td class="num amount-pos">{amount}</td>' in credits
    assert f'id="credit-balance">{balance} <small>' in credits
    dates = [re.findall(r'<time datetime="[^"]+">([^<]+)</time>', page) for page in (credits, purchases)]
    assert all(dates) and all(re.match(date_pattern, d) for page in dates for d in page), dates
