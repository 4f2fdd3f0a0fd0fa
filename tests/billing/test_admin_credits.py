import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from billing import ledger
from billing.models import LedgerEntry


def _staff_with(*codenames: str, email: str = "clerk@example.org") -> User:
    user = User.objects.create_user(email=email, password="password-for-tests", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _submit(client, user, amount, reason="Support ticket 42", key=None):
    return client.post(
        f"/admin/accounts/user/{user.pk}/credits/",
        {"amount": amount, "reason": reason, "key": key or str(uuid.uuid4())},
    )


# The user list and page


def test_the_user_list_shows_balances_and_finds_people_by_email(staff_client, alice, bob):
    ledger.grant(alice, 120, key="g")
    response = staff_client.get("/admin/accounts/user/", {"q": "alice@"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "alice@example.org" in html and "bob@example.org" not in html
    assert '<td class="field-credit_balance">120</td>' in html
    response = staff_client.get("/admin/accounts/user/")
    assert '<td class="field-credit_balance">0</td>' in response.content.decode()  # bob: no account


def test_the_user_list_does_not_query_per_row(staff_client, django_user_model):
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/admin/accounts/user/")
    for i in range(10):
        ledger.grant(django_user_model.objects.create_user(email=f"u{i}@example.org"), i + 1, key=f"g{i}")
    with CaptureQueriesContext(connection) as many:
        staff_client.get("/admin/accounts/user/")
    assert len(many) == len(few)


def test_the_user_list_sorts_by_balance(staff_client, alice, bob):
    ledger.grant(alice, 5, key="a")
    ledger.grant(bob, 9, key="b")
    html = staff_client.get("/admin/accounts/user/", {"o": "-3"}).content.decode()
    assert html.index("bob@example.org") < html.index("alice@example.org")


def test_the_user_page_shows_the_recent_ledger_read_only(staff_client, alice):
    for i in range(25):
        ledger.grant(alice, 1, key=f"g{i}", memo=f"memo {i:02d}")
    html = staff_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert "<strong>25</strong> credits" in html
    assert "memo 24" in html and "memo 05" in html and "memo 04" not in html  # newest 20
    assert html.index("memo 24") < html.index("memo 23")
    assert f'href="/admin/accounts/user/{alice.pk}/credits/"' in html
    assert 'name="balance"' not in html


# The grant or deduct form


def test_it_grants_credits_with_a_reason_and_the_person_sees_them(staff_client, staff, alice, client):
    page = staff_client.get(f"/admin/accounts/user/{alice.pk}/credits/")
    assert page.status_code == 200
    assert b'id="admin-credit-balance">0<' in page.content
    assert b'name="key"' in page.content
    response = _submit(staff_client, alice, 100, reason="Sorry for the outage")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/accounts/user/{alice.pk}/change/"
    entry = LedgerEntry.objects.get(account__user=alice)
    assert (entry.kind, entry.amount, entry.memo, entry.created_by) == (
        "grant",
        100,
        "Sorry for the outage",
        staff,
    )
    assert entry.idempotency_key.startswith("admin:")
    message = staff_client.get(response["Location"]).content.decode()
    assert "Grant of +100 credits recorded for alice@example.org; the balance is now 100." in message
    # ...and alice sees it on her credits page.
    client.force_login(alice)
    html = client.get("/credits/").content.decode()
    assert "Sorry for the outage" in html and ">+100<" in html


def test_it_deducts_credits(staff_client, staff, alice):
    ledger.grant(alice, 100, key="g")
    assert _submit(staff_client, alice, -30, reason="Granted twice by mistake").status_code == 302
    entry = LedgerEntry.objects.filter(account__user=alice).latest("id")
    assert (entry.kind, entry.amount, entry.balance_after, entry.created_by) == ("adjustment", -30, 70, staff)


def test_a_double_submit_posts_once(staff_client, alice):
    key = str(uuid.uuid4())
    assert _submit(staff_client, alice, 100, key=key).status_code == 302
    assert _submit(staff_client, alice, 100, key=key).status_code == 302
    assert ledger.balance_of(alice) == 100
    assert LedgerEntry.objects.filter(account__user=alice).count() == 1


def test_a_reused_form_with_another_amount_is_refused(staff_client, alice):
    key = str(uuid.uuid4())
    _submit(staff_client, alice, 100, key=key)
    response = _submit(staff_client, alice, 200, key=key)
    assert response.status_code == 200
    assert b"This form was already used" in response.content
    assert ledger.balance_of(alice) == 100


def test_it_refuses_to_deduct_more_than_the_balance(staff_client, alice):
    ledger.grant(alice, 10, key="g")
    response = _submit(staff_client, alice, -11)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [
        "alice@example.org has 10 credits: a deduction cannot take the balance below zero."
    ]
    assert ledger.balance_of(alice) == 10
    assert LedgerEntry.objects.filter(account__user=alice).count() == 1


@pytest.mark.parametrize(
    ("amount", "reason", "field", "message"),
    [
        ("0", "Reason", "amount", "other than zero"),
        ("1.5", "Reason", "amount", "whole number"),
        ("abc", "Reason", "amount", "whole number"),
        ("", "Reason", "amount", "required"),
        ("10", "", "reason", "required"),
        ("10", "   ", "reason", "required"),
        ("10000001", "Reason", "amount", "less than or equal"),
    ],
)
def test_it_refuses_bad_input_next_to_the_field(staff_client, alice, amount, reason, field, message):
    response = _submit(staff_client, alice, amount, reason=reason)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not LedgerEntry.objects.filter(account__user=alice).exists()


def test_the_action_opens_the_form_for_one_user(staff_client, alice, bob):
    response = staff_client.post(
        "/admin/accounts/user/", {"action": "grant_or_deduct_credits", "_selected_action": [alice.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/accounts/user/{alice.pk}/credits/"
    response = staff_client.post(
        "/admin/accounts/user/",
        {"action": "grant_or_deduct_credits", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )
    assert b"Select exactly one user" in response.content


# Who may do it


def test_staff_without_the_permission_are_refused(client, alice):
    clerk = _staff_with("view_user", "change_user")
    client.force_login(clerk)
    assert client.get(f"/admin/accounts/user/{alice.pk}/credits/").status_code == 403
    assert _submit(client, alice, 100).status_code == 403
    assert ledger.balance_of(alice) == 0
    changelist = client.get("/admin/accounts/user/").content.decode()
    assert "grant_or_deduct_credits" not in changelist


def test_staff_with_the_permission_may_grant(client, alice):
    clerk = _staff_with("view_user", "grant_credits")
    client.force_login(clerk)
    assert "grant_or_deduct_credits" in client.get("/admin/accounts/user/").content.decode()
    assert _submit(client, alice, 100).status_code == 302
    assert LedgerEntry.objects.get(account__user=alice).created_by == clerk


def test_the_permission_alone_does_not_open_user_pages(client, alice):
    client.force_login(_staff_with("grant_credits"))
    assert client.get(f"/admin/accounts/user/{alice.pk}/credits/").status_code == 403


def test_people_who_are_not_staff_get_no_access(client, alice, bob):
    bob.user_permissions.set(Permission.objects.filter(codename="grant_credits"))
    client.force_login(bob)
    response = _submit(client, alice, 100)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert ledger.balance_of(alice) == 0


def test_anonymous_visitors_get_no_access(client, alice):
    response = client.get(f"/admin/accounts/user/{alice.pk}/credits/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# Accounts and entries are read-only in admin


def test_accounts_and_entries_are_read_only(staff_client, alice):
    entry = ledger.grant(alice, 5, key="g")
    account = entry.account
    assert staff_client.get("/admin/billing/creditaccount/").status_code == 200
    assert staff_client.get("/admin/billing/ledgerentry/").status_code == 200
    for url in (
        "/admin/billing/creditaccount/add/",
        "/admin/billing/ledgerentry/add/",
        f"/admin/billing/creditaccount/{account.pk}/delete/",
        f"/admin/billing/ledgerentry/{entry.pk}/delete/",
    ):
        assert staff_client.get(url).status_code == 403, url
    page = staff_client.get(f"/admin/billing/creditaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert b'name="balance"' not in page.content
    assert b'name="_save"' not in page.content
    # A forged POST changes nothing either.
    response = staff_client.post(f"/admin/billing/creditaccount/{account.pk}/change/", {"balance": 1000})
    assert response.status_code == 403
    assert ledger.balance_of(alice) == 5
    entry_page = staff_client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/")
    assert b'name="amount"' not in entry_page.content
