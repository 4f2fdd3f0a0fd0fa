"""One account per mailbox, and sign-ups capped per address and per network."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User

PASSWORD = "a-very-good-passphrase"
TAKEN = "A user is already registered with this email address."
LIMITED = "Too many accounts were created from your network recently"


def _sign_up(client, email, **extra):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}, **extra
    )


def _email_field(response) -> str:
    content = response.content.decode()
    field = content[content.index('id="field-email"') :]
    return field[: field.index("</div>")]


@pytest.fixture
def foo(db, django_user_model):
    user = django_user_model.objects.create_user(email="foo@gmail.com", password="password-for-tests")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture(autouse=True)
def _optional_verification(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"


# --- one account per mailbox ------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["foo@gmail.com", "Foo+x@gmail.com", "f.o.o@gmail.com", "F.oo+shop@googlemail.com"]
)
def test_another_spelling_of_a_taken_mailbox_gets_allauths_taken_error(client, foo, spelling):
    response = _sign_up(client, spelling)
    assert response.status_code == 200
    assert TAKEN in _email_field(response)
    assert User.objects.count() == 1


def test_the_taken_error_is_the_same_for_the_exact_address_and_another_spelling(client, foo):
    exact = _email_field(_sign_up(client, "foo@gmail.com"))
    other = _email_field(_sign_up(client, "Foo+x@gmail.com"))
    assert other.replace("Foo+x@gmail.com", "foo@gmail.com") == exact


def test_with_mandatory_verification_it_reveals_no_more_than_for_the_exact_address(client, foo, settings):
    # allauth hides a taken address behind "check your inbox" and mails its owner: so
    # does another spelling, and the mail reaches the same mailbox.
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    exact = _sign_up(client, "foo@gmail.com")
    other = _sign_up(client, "f.o.o+x@gmail.com")
    assert (exact.status_code, other.status_code) == (302, 302)
    assert exact["Location"] == other["Location"]
    assert [m.to for m in mail.outbox] == [["foo@gmail.com"], ["f.o.o+x@gmail.com"]]
    assert mail.outbox[0].subject == mail.outbox[1].subject
    assert User.objects.count() == 1


def test_the_tag_and_dots_matter_where_the_provider_keeps_them(client, db, django_user_model):
    django_user_model.objects.create_user(email="foo@example.org")
    for email in ("foo+x@example.org", "f.oo@example.org"):
        assert _sign_up(client, email).status_code == 302, email
        client.logout()
    assert User.objects.count() == 3


def test_an_account_made_without_an_address_row_still_holds_its_mailbox(client, db, django_user_model):
    django_user_model.objects.create_user(email="Dana@Outlook.com")  # as in the admin
    response = _sign_up(client, "dana+promo@outlook.com")
    assert TAKEN in _email_field(response)


def test_the_mailbox_lookup_reads_only_candidates(foo, django_user_model, django_assert_max_num_queries):
    from accounts.adapter import AccountAdapter, _spellings_of

    for i in range(30):
        django_user_model.objects.create_user(email=f"someone{i}@gmail.com")
    django_user_model.objects.create_user(email="foo@example.org")
    # The database sends back the candidates only, not every Gmail address.
    assert _spellings_of(User.objects.all(), "foo@gmail.com") == ["foo@gmail.com"]
    with django_assert_max_num_queries(2):
        assert AccountAdapter().mailbox_in_use("F.O.O+x@googlemail.com") == "foo@gmail.com"
    assert AccountAdapter().mailbox_in_use("fo@gmail.com") is None
    assert AccountAdapter().mailbox_in_use("foo@gmail.com", exclude_user=foo) is None


def test_adding_another_accounts_mailbox_never_verifies_it(foo, bob, client, mailed_path):
    client.force_login(bob)
    response = client.post("/accounts/email/", {"action_add": "", "email": "Foo+x@gmail.com"})
    # Accepted as allauth accepts a taken address under enumeration prevention, and the
    # confirmation link only reaches the mailbox's owner anyway...
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["foo+x@gmail.com"]
    # ...who cannot use it to give the mailbox a second account.
    client.post(mailed_path("/accounts/confirm-email/"))
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"
    assert not EmailAddress.objects.filter(user=bob, email="foo+x@gmail.com", verified=True).exists()


def test_without_enumeration_prevention_adding_it_is_refused_next_to_the_field(foo, bob, client, settings):
    settings.ACCOUNT_PREVENT_ENUMERATION = False
    client.force_login(bob)
    response = client.post("/accounts/email/", {"action_add": "", "email": "f.oo@gmail.com"})
    assert response.status_code == 200
    assert TAKEN in _email_field(response)
    assert not EmailAddress.objects.filter(user=bob, email="f.oo@gmail.com").exists()


def test_a_person_may_add_another_spelling_of_their_own_mailbox(foo, client, mailed_path):
    client.force_login(foo)
    assert (
        client.post("/accounts/email/", {"action_add": "", "email": "foo+shop@gmail.com"}).status_code == 302
    )
    client.post(mailed_path("/accounts/confirm-email/"))
    foo.refresh_from_db()
    assert foo.email == "foo+shop@gmail.com"


# --- sign-ups per address and per network -----------------------------------------------


def _sign_up_from(ip: str, n: int):
    return _sign_up(Client(), f"person{n}@example.org", REMOTE_ADDR=ip)


def _refused(response) -> bool:
    return response.status_code == 200 and LIMITED in response.content.decode()


def test_the_sixth_sign_up_from_one_address_is_refused(db):
    assert [_sign_up_from("203.0.113.7", n).status_code for n in range(5)] == [302] * 5
    response = _sign_up_from("203.0.113.7", 5)
    assert _refused(response)
    assert b'class="form-errors"' in response.content
    assert not User.objects.filter(email="person5@example.org").exists()
    assert _sign_up_from("203.0.113.8", 6).status_code == 302


def test_the_twenty_first_sign_up_from_one_slash_24_is_refused(db):
    assert [_sign_up_from(f"198.51.100.{n}", n).status_code for n in range(1, 21)] == [302] * 20
    assert _refused(_sign_up_from("198.51.100.21", 21))
    assert User.objects.count() == 20
    # Another /24 is unaffected.
    assert _sign_up_from("198.51.101.21", 22).status_code == 302


def test_an_ipv6_host_counts_as_its_slash_64(db):
    for n in range(5):
        assert _sign_up_from(f"2001:db8:1:1::{n + 1:x}", n).status_code == 302
    assert _refused(_sign_up_from("2001:db8:1:1:ffff::1", 5))
    assert _sign_up_from("2001:db8:1:2::1", 6).status_code == 302


def test_a_refused_form_does_not_count(db):
    for n in range(10):
        client = Client()
        client.post(
            "/accounts/signup/",
            {"email": f"person{n}@example.org", "password1": PASSWORD, "password2": "typo"},
            REMOTE_ADDR="203.0.113.9",
        )
    assert _sign_up_from("203.0.113.9", 10).status_code == 302


def test_the_limits_follow_the_settings(db, settings):
    settings.SIGNUP_LIMIT_PER_IP = (1, 3600)
    assert _sign_up_from("203.0.113.10", 0).status_code == 302
    assert _refused(_sign_up_from("203.0.113.10", 1))
    settings.SIGNUP_LIMIT_PER_IP = (0, 1)
    assert _sign_up_from("203.0.113.10", 2).status_code == 302


def test_behind_a_trusted_proxy_the_client_address_counts(db, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1

    def via_proxy(client_ip: str, n: int):
        return _sign_up(
            Client(), f"person{n}@example.org", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_ip
        )

    # Six people behind one proxy are six addresses...
    assert [via_proxy(f"203.0.{n}.1", n).status_code for n in range(6)] == [302] * 6
    # ...and one of them is still held to its own limit.
    assert [via_proxy("203.0.0.1", n).status_code for n in range(6, 10)] == [302] * 4
    assert _refused(via_proxy("203.0.0.1", 10))


def test_a_malformed_limit_is_named_at_start_up():
    from tests.test_foundation import _manage

    result = _manage("check", env={"SIGNUP_LIMIT_PER_NETWORK": "20/fortnight"})
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Configuration error: SIGNUP_LIMIT_PER_NETWORK='20/fortnight': the period is one of second, "
        "minute, hour, day"
    )
