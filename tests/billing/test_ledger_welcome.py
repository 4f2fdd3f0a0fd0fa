from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.core import mail

from accounts.models import User
from billing import ledger
from billing.models import LedgerEntry, WelcomeGrant
from billing.signup import grant_welcome_credits


def _sign_up(client, email="carol@example.org"):
    response = client.post(
        "/accounts/signup/",
        {"email": email, "password1": "a-very-good-passphrase", "password2": "a-very-good-passphrase"},
    )
    assert response.status_code == 302
    return User.objects.get(email=email)


def _confirm(client):
    body = mail.outbox[-1].body
    link = next(line for line in body.splitlines() if "/accounts/confirm-email/" in line).strip()
    response = client.post(link[link.index("/accounts/confirm-email/") :])
    assert response.status_code == 302


def test_it_grants_welcome_credits_at_signup_when_verification_is_optional(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    settings.WELCOME_CREDITS = 50
    carol = _sign_up(client)
    assert ledger.balance_of(carol) == 50
    entry = LedgerEntry.objects.get(account__user=carol)
    assert (entry.kind, entry.idempotency_key, entry.memo) == (
        "grant",
        f"welcome:{carol.pk}",
        "Welcome credits",
    )
    # Confirming the address later gives nothing more.
    _confirm(client)
    assert ledger.balance_of(carol) == 50
    assert LedgerEntry.objects.filter(account__user=carol).count() == 1


def test_it_waits_for_the_confirmed_email_when_verification_is_mandatory(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.WELCOME_CREDITS = 50
    carol = _sign_up(client)
    assert ledger.balance_of(carol) == 0
    _confirm(client)
    assert ledger.balance_of(carol) == 50
    # The signal again (a second address confirmed, staff marking it verified in admin).
    address = EmailAddress.objects.get(user=carol)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    assert ledger.balance_of(carol) == 50
    assert LedgerEntry.objects.filter(account__user=carol).count() == 1


def test_it_grants_the_configured_amount(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    settings.WELCOME_CREDITS = 7
    assert ledger.balance_of(_sign_up(client)) == 7


def test_it_grants_nothing_when_welcome_credits_are_off(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    settings.WELCOME_CREDITS = 0
    carol = _sign_up(client)
    assert not LedgerEntry.objects.filter(account__user=carol).exists()


def test_it_grants_welcome_credits_once_per_person(alice, bob, settings):
    settings.WELCOME_CREDITS = 50
    grant_welcome_credits(alice)
    grant_welcome_credits(alice)
    grant_welcome_credits(bob)
    assert (ledger.balance_of(alice), ledger.balance_of(bob)) == (50, 50)


def test_a_mailbox_gets_welcome_credits_once_whatever_its_spelling(client, db, settings):
    # Sign-up refuses another spelling of a mailbox (tests/accounts/test_signup_abuse.py);
    # accounts made another way (by staff in admin, say) still get nothing more.
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    settings.WELCOME_CREDITS = 50
    first = _sign_up(client, "dana.smith@gmail.com")
    others = [
        User.objects.create_user(email=email)
        for email in ("Dana.Smith+free@gmail.com", "danasmith@googlemail.com")
    ]
    for user in others:
        grant_welcome_credits(user)
    assert [ledger.balance_of(user) for user in (first, *others)] == [50, 0, 0]


def test_the_plus_tag_counts_only_where_the_provider_ignores_it():
    from accounts.emails import normalize_email

    assert normalize_email("Dana+x@Outlook.com") == "dana@outlook.com"
    assert normalize_email("d.a.n.a@gmail.com") == "dana@gmail.com"
    assert normalize_email("dana+x@example.org") == "dana+x@example.org"
    assert normalize_email("d.ana@example.org") == "d.ana@example.org"


def test_no_welcome_credits_when_set_to_zero(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    settings.WELCOME_CREDITS = 0
    erin = _sign_up(client, "erin@example.org")
    assert ledger.balance_of(erin) == 0
    assert not LedgerEntry.objects.filter(account__user=erin).exists()


def test_welcome_credits_at_zero_are_off_everywhere(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.WELCOME_CREDITS = 0
    for path in ("/", "/accounts/signup/", "/accounts/login/"):
        assert b"free credits" not in client.get(path).content, path
    erin = _sign_up(client, "erin@example.org")
    _confirm(client)
    assert EmailAddress.objects.get(user=erin).verified
    assert ledger.balance_of(erin) == 0
    assert not LedgerEntry.objects.filter(account__user=erin).exists()
    assert not WelcomeGrant.objects.exists()
    # The pages promise them again as soon as they are on.
    client.logout()
    settings.WELCOME_CREDITS = 50
    assert b"50 free credits" in client.get("/accounts/signup/").content
