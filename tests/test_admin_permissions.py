"""Admin powers: every action that moves credits or changes a generation or a purchase needs
a permission beyond view, and only a superuser hands out powers or touches a stronger account."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.models import Permission

from accounts.models import User
from billing.models import Purchase, StripeEvent
from generations.models import Generation, Status


def _staff_with(*codenames: str, email: str = "clerk@example.org") -> User:
    clerk = User.objects.create_user(email=email, password="password-for-tests", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return clerk


# --- every action declares a permission -------------------------------------------------


def test_every_admin_action_requires_a_permission_beyond_view():
    checked = []
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            if name == "delete_selected":  # Django's own, which needs the delete permission
                continue
            allowed = set(getattr(func, "allowed_permissions", ()))
            label = f"{model._meta.label}.{name}"
            assert allowed, f"{label} declares no permissions, so view alone runs it"
            assert "view" not in allowed, f"{label} can be run with the view permission"
            checked.append(label)
    assert {
        "generations.Generation.fail_and_refund",
        "generations.Generation.poll_now",
        "generations.Generation.copy_results_again",
        "billing.Purchase.fulfil_from_stripe",
        "billing.Purchase.approve_after_review",
        "billing.Purchase.reject_after_review",
        "billing.StripeEvent.reprocess",
        "accounts.User.grant_or_deduct_credits",
        "account.EmailAddress.make_verified",
        "django_q.Success.resubmit_task",
        "django_q.Failure.resubmit_task",
    } <= set(checked)


# --- and view alone cannot run any of them ----------------------------------------------


@dataclass(frozen=True)
class Action:
    changelist: str
    name: str
    make: str  # which object to select
    target: str  # the service the action calls, replaced by a recorder
    result: object
    view: str
    needed: tuple[str, ...]
    extra: tuple[tuple[str, str], ...] = ()


ACTIONS = [
    Action(
        "/admin/generations/generation/",
        "fail_and_refund",
        "generation",
        "generations.services.fail_by_staff",
        True,
        "view_generation",
        ("change_generation",),
        (("apply", "1"), ("reason", "Lost at Kling.")),
    ),
    Action(
        "/admin/generations/generation/",
        "poll_now",
        "generation",
        "generations.queue.refresh",
        None,
        "view_generation",
        ("change_generation",),
    ),
    Action(
        "/admin/generations/generation/",
        "copy_results_again",
        "generation",
        "generations.media.copy_again",
        True,
        "view_generation",
        ("change_generation",),
    ),
    Action(
        "/admin/billing/purchase/",
        "fulfil_from_stripe",
        "purchase",
        "billing.payments.fulfill_checkout",
        SimpleNamespace(credited=False, outcome="not_paid"),
        "view_purchase",
        ("change_purchase",),
    ),
    Action(
        "/admin/billing/purchase/",
        "approve_after_review",
        "purchase",
        "billing.payments.approve_review",
        SimpleNamespace(outcome="credited"),
        "view_purchase",
        ("review_purchase",),
    ),
    Action(
        "/admin/billing/purchase/",
        "reject_after_review",
        "purchase",
        "billing.payments.reject_review",
        None,
        "view_purchase",
        ("review_purchase",),
    ),
    Action(
        "/admin/billing/stripeevent/",
        "reprocess",
        "event",
        "billing.webhooks.reprocess",
        True,
        "view_stripeevent",
        ("change_stripeevent",),
    ),
]


def _make(kind: str, owner: User):
    if kind == "generation":
        return Generation.objects.create(
            owner=owner,
            kind="text2video",
            provider="simulator",
            model_name="kling-v2-6",
            cost=10,
            status=Status.SUBMITTED,
        )
    if kind == "purchase":
        return Purchase.objects.create(
            user=owner,
            pack_name="Starter",
            credits=100,
            amount_minor=500,
            currency="usd",
            status=Purchase.Status.REVIEW,
            stripe_session_id="cs_test_permissions",
        )
    return StripeEvent.objects.create(event_id="evt_permissions", type="charge.refunded", payload={})


def _run(client, action: Action, obj):
    return client.post(
        action.changelist,
        {"action": action.name, "_selected_action": [obj.pk], **dict(action.extra)},
    )


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_view_permission_alone_cannot_run_the_action(client, alice, monkeypatch, action):
    calls = []
    monkeypatch.setattr(action.target, lambda *args, **kwargs: calls.append(args) or action.result)
    obj = _make(action.make, alice)

    client.force_login(_staff_with(action.view))
    assert client.get(action.changelist).status_code == 200  # they can look
    _run(client, action, obj)
    assert calls == []

    # The permission the action declares is what lets it run.
    client.force_login(_staff_with(action.view, *action.needed, email="manager@example.org"))
    _run(client, action, obj)
    assert len(calls) == 1


def test_view_permission_alone_cannot_verify_an_address_and_earn_welcome_credits(client, db, settings):
    from billing import ledger

    settings.WELCOME_CREDITS = 50
    carol = User.objects.create_user(email="carol@example.org")
    address = EmailAddress.objects.create(user=carol, email=carol.email, verified=False, primary=True)

    def verify():
        return client.post(
            "/admin/account/emailaddress/", {"action": "make_verified", "_selected_action": [address.pk]}
        )

    client.force_login(_staff_with("view_emailaddress"))
    verify()
    address.refresh_from_db()
    assert not address.verified and ledger.balance_of(carol) == 0

    client.force_login(_staff_with("view_emailaddress", "change_emailaddress", email="manager@example.org"))
    verify()
    address.refresh_from_db()
    assert address.verified and ledger.balance_of(carol) == 50


@pytest.mark.parametrize("model", ["success", "failure"])
def test_view_permission_alone_cannot_run_a_task_again(client, db, monkeypatch, model):
    from django.utils import timezone
    from django_q import admin as queue_admin
    from django_q.models import Task

    calls = []
    monkeypatch.setattr(queue_admin, "async_task", lambda *args, **kwargs: calls.append(args))
    task = Task.objects.create(
        id="0" * 32,
        name="task",
        func="billing.signup.grant_welcome_credits",
        started=timezone.now(),
        stopped=timezone.now(),
        success=model == "success",
    )

    def resubmit():
        client.post(f"/admin/django_q/{model}/", {"action": "resubmit_task", "_selected_action": [task.pk]})

    client.force_login(_staff_with(f"view_{model}"))
    resubmit()
    assert calls == []
    client.force_login(_staff_with(f"view_{model}", f"change_{model}", email="manager@example.org"))
    resubmit()
    assert len(calls) == 1


def test_view_permission_alone_cannot_open_the_credit_form(client, alice):
    client.force_login(_staff_with("view_user"))
    response = client.post(
        "/admin/accounts/user/", {"action": "grant_or_deduct_credits", "_selected_action": [alice.pk]}
    )
    assert f"/admin/accounts/user/{alice.pk}/credits/" not in response.get("Location", "")
    assert client.get(f"/admin/accounts/user/{alice.pk}/credits/").status_code == 403

    client.force_login(_staff_with("view_user", "grant_credits", email="manager@example.org"))
    response = client.post(
        "/admin/accounts/user/", {"action": "grant_or_deduct_credits", "_selected_action": [alice.pk]}
    )
    assert response["Location"] == f"/admin/accounts/user/{alice.pk}/credits/"


# --- only a superuser hands out powers ------------------------------------------------


def _change_form(user: User, **changes) -> dict:
    data = {
        "email": user.email,
        "display_name": user.display_name,
        "notify_on_finish": "on",
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _every_permission() -> list[int]:
    return list(Permission.objects.values_list("pk", flat=True))


@pytest.fixture
def clerk(db) -> User:
    return _staff_with("view_user", "change_user")


def test_staff_cannot_make_themselves_superuser_or_give_themselves_permissions(client, clerk):
    client.force_login(clerk)
    response = client.post(
        f"/admin/accounts/user/{clerk.pk}/change/",
        _change_form(clerk, display_name="Clerk", is_superuser="on", user_permissions=_every_permission()),
    )
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.display_name == "Clerk"  # the form was saved...
    assert not clerk.is_superuser  # ...without the powers
    assert set(clerk.user_permissions.values_list("codename", flat=True)) == {"view_user", "change_user"}


def test_staff_cannot_make_someone_else_superuser(client, clerk, alice):
    client.force_login(clerk)
    response = client.post(
        f"/admin/accounts/user/{alice.pk}/change/",
        _change_form(alice, display_name="Alice", is_superuser="on", user_permissions=_every_permission()),
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == "Alice"
    assert not alice.is_superuser and not alice.user_permissions.exists()


def test_the_power_fields_are_read_only_for_staff(client, clerk, alice):
    client.force_login(clerk)
    content = client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    for field in ("is_superuser", "user_permissions", "groups"):
        assert f'name="{field}"' not in content, field
    assert 'name="display_name"' in content


@pytest.mark.parametrize("stronger", ["superuser", "staff with more permissions"])
def test_staff_cannot_change_a_stronger_account(client, clerk, staff, django_user_model, stronger):
    if stronger == "superuser":
        target = staff
    else:
        target = _staff_with("view_user", "change_user", "grant_credits", email="manager@example.org")
        target.is_active = False  # switched off, yet the clerk could switch it on again
        target.save()
    client.force_login(clerk)
    password = client.post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"password1": "taken-over-passphrase", "password2": "taken-over-passphrase"},
    )
    email = client.post(
        f"/admin/accounts/user/{target.pk}/change/", _change_form(target, email="clerk+mine@example.org")
    )
    assert (password.status_code, email.status_code) == (403, 403)
    target.refresh_from_db()
    assert target.check_password("password-for-tests")
    assert target.email != "clerk+mine@example.org"
    # They may still look at it.
    assert client.get(f"/admin/accounts/user/{target.pk}/change/").status_code == 200


def test_staff_can_still_change_ordinary_accounts(client, clerk, alice):
    client.force_login(clerk)
    response = client.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"password1": "a-fresh-passphrase-1", "password2": "a-fresh-passphrase-1"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-fresh-passphrase-1")


def test_a_superuser_still_can(client, staff, alice, django_user_model):
    other = django_user_model.objects.create_superuser(
        email="root@example.org", password="password-for-tests"
    )
    EmailAddress.objects.create(user=other, email=other.email, verified=True, primary=True)
    client.force_login(staff)
    response = client.post(
        f"/admin/accounts/user/{alice.pk}/change/", _change_form(alice, is_staff="on", is_superuser="on")
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_superuser
    response = client.post(
        f"/admin/accounts/user/{other.pk}/password/",
        {"password1": "a-fresh-passphrase-2", "password2": "a-fresh-passphrase-2"},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.check_password("a-fresh-passphrase-2")


def test_staff_cannot_bulk_delete_a_stronger_account(client, staff, alice):
    """Django's "delete selected" asks about each selected account, not only the model."""
    remover = _staff_with("view_user", "delete_user", email="remover@example.org")
    client.force_login(remover)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [staff.pk, alice.pk], "post": "yes"},
    )
    assert response.status_code in (200, 403)
    assert User.objects.filter(pk=staff.pk).exists()
