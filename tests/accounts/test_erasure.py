"""Erasing an account: files and personal data go, the ledger stays exact (accounts.erasure)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import erasure
from accounts.models import User
from billing import account_flags, ledger
from billing.models import (
    CreditAccount,
    DemoCheckoutSession,
    LedgerEntry,
    Purchase,
    StripeEvent,
    WelcomeGrant,
)
from billing.signup import grant_welcome_credits
from generations.models import Asset, Generation, Status

PASSWORD = "password-for-tests"
ALICE_NAME = "Alice Liddell"
ALICE_WORK = "Alice.Work@example.com"
ALICE_PROMPT = "a secret red fox in the snow"
ALICE_NEGATIVE = "no rabbits please"


@pytest.fixture(autouse=True)
def _welcome(settings):
    settings.WELCOME_CREDITS = 50
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"


def _generation(owner, prompt: str, *, status=Status.SUCCEEDED, negative: str = "") -> Generation:
    generation = Generation.objects.create(
        owner=owner,
        kind="text2image",
        provider="simulator",
        model_name="kling-v2-1",
        prompt=prompt,
        params={"model_name": "kling-v2-1", "prompt": prompt, "negative_prompt": negative, "n": 1},
        cost=10,
        status=status,
        result_media=[{"kind": "image", "index": 0, "url": "https://cdn.example.com/out.png"}],
        assets_saved_at=timezone.now() if status == Status.SUCCEEDED else None,
    )
    ledger.charge(owner, 10, key=f"gen:{generation.pk}:charge", generation=generation)
    if status == Status.FAILED:
        ledger.refund(owner, 10, key=f"gen:{generation.pk}:refund", generation=generation)
    generation.input_image.save("upload.png", ContentFile(b"input image"), save=True)
    if status == Status.SUCCEEDED:
        asset = Asset(generation=generation, kind=Asset.Kind.IMAGE, content_type="image/png", size=6)
        asset.file.save("image-0.png", ContentFile(b"result"), save=False)
        asset.thumbnail.save("image-0-thumb.jpg", ContentFile(b"thumb"), save=False)
        asset.source_url = "https://cdn.example.com/out.png"
        asset.save()
    return generation


def _purchase(owner, suffix: str) -> Purchase:
    purchase = Purchase.objects.create(
        user=owner,
        pack_name="Starter",
        credits=100,
        amount_minor=500,
        currency="usd",
        status=Purchase.Status.PAID,
        paid_at=timezone.now(),
        stripe_session_id=f"cs_test_{suffix}",
        stripe_payment_intent_id=f"pi_{suffix}",
        stripe_charge_id=f"ch_{suffix}",
        stripe_customer_id=f"cus_{suffix}",
        receipt_url=f"https://pay.stripe.com/receipts/{suffix}",
    )
    ledger.credit_purchase(owner, 100, key=f"checkout:cs_test_{suffix}", purchase=purchase)
    DemoCheckoutSession.objects.create(
        id=f"cs_test_{suffix}",
        idempotency_key=f"demo:{suffix}",
        amount_total=500,
        currency="usd",
        description="Starter",
        customer_email=owner.email,
        success_url="https://example.com/ok",
        cancel_url="https://example.com/no",
    )
    details = {"email": owner.email, "name": owner.display_name, "address": {"line1": "1 Rabbit Hole"}}
    StripeEvent.objects.create(
        event_id=f"evt_session_{suffix}",
        type="checkout.session.completed",
        status=StripeEvent.Status.SUCCEEDED,
        payload={
            "id": f"evt_session_{suffix}",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": f"cs_test_{suffix}",
                    "object": "checkout.session",
                    "amount_total": 500,
                    "customer_details": details,
                    "customer_email": owner.email,
                }
            },
        },
    )
    StripeEvent.objects.create(
        event_id=f"evt_refund_{suffix}",
        type="refund.updated",
        payload={
            "id": f"evt_refund_{suffix}",
            "type": "refund.updated",
            "data": {"object": {"id": f"re_{suffix}", "charge": f"ch_{suffix}", "billing_details": details}},
        },
    )
    return purchase


@pytest.fixture
def history(alice, bob, staff):
    """Alice and Bob with a bit of everything: credits, purchases, generations, files."""
    for person, name in ((alice, ALICE_NAME), (bob, "Bob Builder")):
        person.display_name = name
        person.first_name = name.split()[0]
        person.save()
        grant_welcome_credits(person)
        _purchase(person, person.email.split("@")[0])
    EmailAddress.objects.create(user=alice, email=ALICE_WORK, verified=True)
    EmailAddress.objects.create(user=alice, email="alice-unconfirmed@example.net", verified=False)
    alice_files = [
        _generation(alice, ALICE_PROMPT, negative=ALICE_NEGATIVE),
        _generation(alice, "the same fox, failed", status=Status.FAILED),
    ]
    bob_files = [_generation(bob, "a blue whale")]
    ledger.grant_or_deduct(
        alice, 5, key="admin:goodwill", reason=f"Goodwill for {alice.email}", created_by=staff
    )
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(alice.pk),
        object_repr=str(alice),
        action_flag=CHANGE,
        change_message="[]",
    )
    return {"alice": alice_files, "bob": bob_files}


def _files_of(generations: list[Generation]) -> list[str]:
    names = []
    for generation in generations:
        names += [f.name for f in (generation.input_image, generation.input_image_tail) if f]
        for asset in Asset.objects.filter(generation=generation):
            names += [asset.file.name, asset.thumbnail.name]
    return names


def _ledger_snapshot() -> list[tuple]:
    return list(
        LedgerEntry.objects.order_by("pk").values_list(
            "pk",
            "account_id",
            "amount",
            "kind",
            "idempotency_key",
            "balance_after",
            "generation_id",
            "purchase_id",
        )
    )


def _everything_mentioning(*needles: str) -> list[str]:
    """Every row of every table whose values mention one of `needles`, case-insensitively."""
    found = []
    for model in apps.get_models():
        for row in model.objects.values():
            text = repr(row).lower()
            found += [
                f"{model._meta.label} {row.get('id', row.get('pk'))}" for n in needles if n.lower() in text
            ]
    return found


def _erase(user, django_capture_on_commit_callbacks, **kwargs) -> erasure.ErasureReport:
    with django_capture_on_commit_callbacks(execute=True):
        return erasure.erase_account(user, **kwargs)


# --- what goes ------------------------------------------------------------------------


def test_it_deletes_the_persons_files_from_storage_and_leaves_others(
    alice, history, django_capture_on_commit_callbacks
):
    alice_names, bob_names = _files_of(history["alice"]), _files_of(history["bob"])
    assert len(alice_names) == 4 and all(default_storage.exists(n) for n in alice_names + bob_names)

    report = _erase(alice, django_capture_on_commit_callbacks)

    assert sorted(report.files) == sorted(alice_names)
    assert not any(default_storage.exists(name) for name in alice_names)
    assert all(default_storage.exists(name) for name in bob_names)
    assert not Asset.objects.filter(generation__owner=alice).exists()
    assert Asset.objects.filter(generation__owner__email="bob@example.org").count() == 1


def test_no_file_is_deleted_when_the_erasure_rolls_back(alice, history, django_capture_on_commit_callbacks):
    _generation(alice, "still cooking", status=Status.PROCESSING)
    names = _files_of(history["alice"])
    with pytest.raises(erasure.ErasureRefused):
        _erase(alice, django_capture_on_commit_callbacks)
    assert all(default_storage.exists(name) for name in names)


def test_no_row_anywhere_mentions_the_person_afterwards(alice, history, django_capture_on_commit_callbacks):
    needles = (
        "alice@example.org",
        ALICE_WORK,
        "alice-unconfirmed",
        ALICE_NAME,
        "secret red fox",
        ALICE_NEGATIVE,
    )
    client = Client()
    client.force_login(alice)  # a session row that names her
    assert _everything_mentioning(*needles)

    _erase(alice, django_capture_on_commit_callbacks)

    assert _everything_mentioning(*needles) == []
    alice.refresh_from_db()
    assert alice.email == f"erased-{alice.pk}@erased.invalid"
    assert (alice.first_name, alice.display_name, alice.notify_on_finish) == ("", "", False)
    assert not alice.is_active and not alice.has_usable_password() and alice.erased_at is not None
    assert not EmailAddress.objects.filter(user=alice).exists()
    generation = Generation.objects.get(pk=history["alice"][0].pk)
    assert (generation.prompt, generation.input_image.name, generation.result_media) == ("", "", [])
    assert generation.params == {"model_name": "kling-v2-1", "n": 1}
    assert generation.deleted_at is not None
    purchase = Purchase.objects.get(user=alice)
    assert purchase.receipt_url == ""
    assert not DemoCheckoutSession.objects.filter(customer_email__icontains="alice").exists()


def test_it_ends_the_persons_sessions_only(alice, bob, history, django_capture_on_commit_callbacks):
    for person in (alice, alice, bob):
        Client().force_login(person)
    assert Session.objects.count() == 3

    report = _erase(alice, django_capture_on_commit_callbacks)

    assert report.sessions == 2
    (left,) = Session.objects.all()
    assert left.get_decoded()["_auth_user_id"] == str(bob.pk)


def test_stored_stripe_events_keep_what_the_handlers_need(alice, history, django_capture_on_commit_callbacks):
    _erase(alice, django_capture_on_commit_callbacks)
    session = StripeEvent.objects.get(event_id="evt_session_alice").payload
    refund = StripeEvent.objects.get(event_id="evt_refund_alice").payload
    assert session["data"]["object"] == {
        "id": "cs_test_alice",
        "object": "checkout.session",
        "amount_total": 500,
    }
    assert refund["data"]["object"] == {"id": "re_alice", "charge": "ch_alice"}
    assert refund["type"] == "refund.updated"


# --- what stays -----------------------------------------------------------------------


def test_the_ledger_keeps_every_entry_and_stays_exact(
    alice, history, django_capture_on_commit_callbacks, capsys
):
    before = _ledger_snapshot()
    balance = ledger.balance_of(alice)
    assert balance == 50 + 100 - 10 + 5  # welcome, purchase, one charge kept, goodwill

    report = _erase(alice, django_capture_on_commit_callbacks)

    assert _ledger_snapshot() == before
    assert report.forfeited_credits == balance
    assert ledger.balance_of(alice) == balance  # forfeited, not moved: the sum stays exact
    assert ledger.find_drifts() == []
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    purchase = Purchase.objects.get(user=alice)
    assert (
        purchase.amount_minor,
        purchase.credits,
        purchase.stripe_charge_id,
        purchase.stripe_customer_id,
    ) == (
        500,
        100,
        "ch_alice",
        "cus_alice",
    )
    # The staff memo keeps its words, not the address.
    memo = LedgerEntry.objects.get(idempotency_key="admin:goodwill").memo
    assert memo == f"Goodwill for erased-{alice.pk}@erased.invalid"


def test_the_erased_account_can_never_spend_again(alice, history, django_capture_on_commit_callbacks):
    _erase(alice, django_capture_on_commit_callbacks)
    with pytest.raises(ledger.AccountFrozen):
        ledger.charge(alice, 1, key="after-erasure")
    # A dispute ending lifts only its own freezes.
    assert not account_flags.release_dispute_freeze(alice)
    assert CreditAccount.objects.get(user=alice).is_frozen


def test_a_second_erasure_changes_nothing(alice, history, django_capture_on_commit_callbacks):
    _erase(alice, django_capture_on_commit_callbacks)
    user_row = User.objects.filter(pk=alice.pk).values().get()
    ledger_rows = _ledger_snapshot()
    generations = list(Generation.objects.filter(owner=alice).values())

    report = _erase(alice, django_capture_on_commit_callbacks)

    assert report.already_erased and report.files == []
    assert User.objects.filter(pk=alice.pk).values().get() == user_row
    assert _ledger_snapshot() == ledger_rows
    assert list(Generation.objects.filter(owner=alice).values()) == generations


def test_other_peoples_data_is_untouched(alice, bob, history, django_capture_on_commit_callbacks):
    tables = (
        User,
        EmailAddress,
        Generation,
        Asset,
        Purchase,
        StripeEvent,
        DemoCheckoutSession,
        CreditAccount,
    )

    def bobs() -> dict:
        return {
            "user": User.objects.filter(pk=bob.pk).values().get(),
            "addresses": list(EmailAddress.objects.filter(user=bob).values()),
            "generations": list(Generation.objects.filter(owner=bob).values()),
            "assets": list(Asset.objects.filter(generation__owner=bob).values()),
            "purchases": list(Purchase.objects.filter(user=bob).values()),
            "events": list(StripeEvent.objects.filter(event_id__endswith="_bob").values()),
            "demo": list(DemoCheckoutSession.objects.filter(pk="cs_test_bob").values()),
            "account": CreditAccount.objects.filter(user=bob).values().get(),
        }

    before = bobs()
    assert all(model.objects.exists() for model in tables)
    _erase(alice, django_capture_on_commit_callbacks)
    assert bobs() == before
    assert _everything_mentioning("bob@example.org", "Bob Builder", "a blue whale")


# --- signing up again -------------------------------------------------------------------


def _sign_up(email: str) -> User:
    response = Client().post(
        reverse("account_signup"),
        {"email": email, "password1": "a-very-good-passphrase", "password2": "a-very-good-passphrase"},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return User.objects.get(email__iexact=email)


@pytest.mark.parametrize("spelling", ["alice@example.org", "ALICE@example.org", ALICE_WORK])
def test_the_mailbox_can_sign_up_again_without_a_second_welcome(
    alice, history, django_capture_on_commit_callbacks, spelling
):
    _erase(alice, django_capture_on_commit_callbacks)
    again = _sign_up(spelling)
    assert again.pk != alice.pk
    assert ledger.balance_of(again) == 0
    assert not LedgerEntry.objects.filter(account__user=again).exists()
    # Remembered by digest only, and not tied to anyone.
    assert not WelcomeGrant.objects.filter(user=alice).exists()


def test_a_mailbox_the_account_never_confirmed_still_earns_its_welcome(
    alice, history, django_capture_on_commit_callbacks
):
    _erase(alice, django_capture_on_commit_callbacks)
    stranger = _sign_up("alice-unconfirmed@example.net")
    assert ledger.balance_of(stranger) == 50


# --- when it must wait ----------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [Status.QUEUED, Status.SUBMITTED, Status.PROCESSING, "saving results"], ids=str
)
def test_unfinished_work_blocks_erasure_and_nothing_changes(
    alice, history, status, django_capture_on_commit_callbacks
):
    if status == "saving results":
        generation = _generation(alice, "almost there")
        Generation.objects.filter(pk=generation.pk).update(assets_saved_at=None, fetch_attempts=1)
    else:
        _generation(alice, "still cooking", status=status)
    before = _ledger_snapshot()

    with pytest.raises(erasure.ErasureRefused, match="still running or saving"):
        _erase(alice, django_capture_on_commit_callbacks)

    alice.refresh_from_db()
    assert alice.email == "alice@example.org" and alice.is_active and alice.erased_at is None
    assert not CreditAccount.objects.get(user=alice).is_frozen
    assert _ledger_snapshot() == before
    assert Generation.objects.filter(owner=alice, prompt=ALICE_PROMPT).exists()


def test_money_on_its_way_blocks_erasure(alice, history, django_capture_on_commit_callbacks):
    Purchase.objects.create(
        user=alice,
        pack_name="Starter",
        credits=100,
        amount_minor=500,
        currency="usd",
        stripe_session_id="cs_open",
    )
    with pytest.raises(erasure.ErasureRefused, match="not settled yet"):
        _erase(alice, django_capture_on_commit_callbacks)
    # An abandoned checkout stops counting once Stripe would have expired it.
    Purchase.objects.filter(stripe_session_id="cs_open").update(created_at=timezone.now() - timedelta(days=2))
    assert not _erase(alice, django_capture_on_commit_callbacks).already_erased


# --- the page ---------------------------------------------------------------------------


def test_the_profile_page_links_to_the_confirmation(alice_client):
    content = alice_client.get(reverse("accounts:profile")).content.decode()
    assert f'href="{reverse("accounts:delete")}"' in content


def test_the_confirmation_page_needs_a_login(client, db):
    response = client.get(reverse("accounts:delete"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_the_confirmation_page_says_what_is_forfeited_and_kept(alice_client, alice, history):
    content = alice_client.get(reverse("accounts:delete")).content.decode()
    assert f"<strong>{ledger.balance_of(alice)} credits</strong> are forfeited" in content
    assert "credit history" in content and "Delete my account" in content
    assert 'name="password"' in content


def test_looking_at_the_page_erases_nothing(alice_client, alice, history):
    alice_client.get(reverse("accounts:delete"), {"password": PASSWORD})
    assert User.objects.get(pk=alice.pk).erased_at is None
    assert alice_client.put(reverse("accounts:delete")).status_code == 405


def test_a_wrong_password_erases_nothing(alice_client, alice, history):
    response = alice_client.post(reverse("accounts:delete"), {"password": "not-it"})
    assert response.status_code == 200
    assert "That is not your current password." in response.content.decode()
    assert User.objects.get(pk=alice.pk).erased_at is None


def test_guessing_is_capped(alice_client, alice, history):
    for _ in range(5):
        alice_client.post(reverse("accounts:delete"), {"password": "not-it"})
    response = alice_client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert "Too many attempts" in response.content.decode()
    assert User.objects.get(pk=alice.pk).erased_at is None


def test_the_form_needs_its_csrf_token(alice, history):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("accounts:delete"), {"password": PASSWORD}).status_code == 403
    assert User.objects.get(pk=alice.pk).erased_at is None


def test_the_right_password_erases_and_signs_out(
    alice_client, alice, history, django_capture_on_commit_callbacks
):
    names = _files_of(history["alice"])
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert response["Location"] == reverse("accounts:deleted")
    assert User.objects.get(pk=alice.pk).erased_at is not None
    assert not any(default_storage.exists(name) for name in names)
    done = alice_client.get(response["Location"])
    assert "Your account was deleted" in done.content.decode()
    assert alice_client.get(reverse("accounts:profile")).status_code == 302  # signed out


def test_without_a_password_the_address_is_typed(client, alice, history):
    alice.set_unusable_password()
    alice.save()
    client.force_login(alice)
    assert 'name="email"' in client.get(reverse("accounts:delete")).content.decode()
    client.post(reverse("accounts:delete"), {"email": "someone@example.org"})
    assert User.objects.get(pk=alice.pk).erased_at is None
    response = client.post(reverse("accounts:delete"), {"email": "Alice@Example.org"})
    assert response.status_code == 302
    assert User.objects.get(pk=alice.pk).erased_at is not None


def test_the_page_explains_why_it_must_wait(alice_client, alice, history):
    _generation(alice, "still cooking", status=Status.PROCESSING)
    content = alice_client.get(reverse("accounts:delete")).content.decode()
    assert "still running or saving" in content and "Delete my account" not in content
    alice_client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert User.objects.get(pk=alice.pk).erased_at is None


def test_staff_cannot_erase_themselves_from_the_page(client, staff):
    client.force_login(staff)
    assert "another administrator" in client.get(reverse("accounts:delete")).content.decode()
    client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert User.objects.get(pk=staff.pk).erased_at is None


# --- admin ------------------------------------------------------------------------------


def _staff_with(*codenames: str, email: str = "clerk@example.org") -> User:
    clerk = User.objects.create_user(email=email, password=PASSWORD, is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return clerk


def _admin_erase(client, *users, apply: bool = True):
    data = {"action": "erase_personal_data", "_selected_action": [u.pk for u in users]}
    if apply:
        data["apply"] = "1"
    return client.post(reverse("admin:accounts_user_changelist"), data)


def test_the_admin_action_needs_the_change_permission(
    client, alice, history, django_capture_on_commit_callbacks
):
    client.force_login(_staff_with("view_user"))
    _admin_erase(client, alice)
    assert User.objects.get(pk=alice.pk).erased_at is None

    client.force_login(_staff_with("view_user", "change_user", email="manager@example.org"))
    confirm = _admin_erase(client, alice, apply=False)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert User.objects.get(pk=alice.pk).erased_at is None
    with django_capture_on_commit_callbacks(execute=True):
        _admin_erase(client, alice)
    assert User.objects.get(pk=alice.pk).erased_at is not None
    assert not any(default_storage.exists(name) for name in _files_of(history["alice"]))


def test_staff_cannot_erase_a_superuser_or_themselves(client, staff, alice):
    clerk = _staff_with("view_user", "change_user")
    client.force_login(clerk)
    _admin_erase(client, staff, clerk)
    assert User.objects.get(pk=staff.pk).erased_at is None
    assert User.objects.get(pk=clerk.pk).erased_at is None


def test_a_superuser_may_erase_a_staff_account_and_its_powers_go(
    client, staff, django_capture_on_commit_callbacks
):
    clerk = _staff_with("view_user", "change_user", "grant_credits")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        _admin_erase(client, clerk)
    clerk.refresh_from_db()
    assert clerk.erased_at is not None and not clerk.is_staff and not clerk.user_permissions.exists()
