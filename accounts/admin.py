from __future__ import annotations

import uuid
from urllib.parse import urlencode

from allauth.account import admin as allauth_admin
from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from accounts import erasure
from accounts.models import PersonalAPIKey, User
from billing import ledger
from billing.models import LedgerEntry

GRANT_PERMISSION = "billing.grant_credits"
RECENT_ENTRIES = 20
MAX_STAFF_CHANGE = 1_000_000


class CreditChangeForm(forms.Form):
    amount = forms.IntegerField(
        min_value=-MAX_STAFF_CHANGE,
        max_value=MAX_STAFF_CHANGE,
        help_text="Credits to add; a negative number deducts. A deduction cannot take the balance below zero.",
    )
    reason = forms.CharField(
        max_length=LedgerEntry._meta.get_field("memo").max_length,
        help_text="Required. The person sees it in their credit history.",
    )
    # One key per rendering of the form: a double submit posts once, a new change needs
    # a fresh form.
    key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Enter a number of credits other than zero.")
        return amount


def _may_manage(staff: User, user: User | None) -> bool:
    """A staff member who is not a superuser may change only accounts with no power they
    lack themselves: setting a password (or an address) on a stronger account would
    otherwise be a way to log in with its powers."""
    if user is None or staff.is_superuser:
        return True
    return not user.is_superuser and _granted_permissions(user) <= staff.get_all_permissions()


def _granted_permissions(user: User) -> set[str]:
    # Read from the rows, not `get_all_permissions()`, which is empty for an inactive
    # account that could be switched back on.
    rows = Permission.objects.filter(Q(user=user) | Q(group__user=user))
    return {f"{app}.{codename}" for app, codename in rows.values_list("content_type__app_label", "codename")}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "credit_balance", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["credit_history", "erased_at"]
    actions = ["grant_or_deduct_credits", "erase_personal_data"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "notify_on_finish")}),
        ("Credits", {"fields": ("credit_history",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined", "erased_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only a superuser hands out powers, or staff could raise themselves.
            readonly += ["is_superuser", "groups", "user_permissions"]
        return readonly

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and _may_manage(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and _may_manage(request.user, obj)

    def get_queryset(self, request: HttpRequest):
        # One LEFT JOIN for the whole page instead of a query per row; 0 without an account.
        return (
            super()
            .get_queryset(request)
            .annotate(_credit_balance=Coalesce("credit_account__balance", Value(0)))
        )

    @admin.display(description="Credits", ordering="_credit_balance")
    def credit_balance(self, user: User) -> int:
        return user._credit_balance

    @admin.display(description="Balance and recent entries")
    def credit_history(self, user: User) -> str:
        if user.pk is None:
            return "-"
        entries = LedgerEntry.objects.filter(account__user=user).select_related("created_by")[:RECENT_ENTRIES]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M"),
                    e.get_kind_display(),
                    f"{e.amount:+d}",
                    e.balance_after,
                    e.memo,
                    e.created_by or "",
                )
                for e in entries
            ),
        )
        links = format_html(
            '<a class="button" href="{}">Grant or deduct credits</a> <a href="{}?{}">All entries</a>',
            reverse("admin:accounts_user_credits", args=[user.pk]),
            reverse("admin:billing_ledgerentry_changelist"),
            urlencode({"q": user.email}),
        )
        table = (
            format_html(
                "<table><thead><tr><th>Date</th><th>Kind</th><th>Amount</th><th>Balance after</th>"
                "<th>Memo</th><th>By</th></tr></thead><tbody>{}</tbody></table>",
                rows,
            )
            if rows
            else "No entries yet."
        )
        return format_html(
            "<p><strong>{}</strong> credits (newest {} entries below)</p><p>{}</p>{}",
            user._credit_balance if hasattr(user, "_credit_balance") else ledger.balance_of(user),
            RECENT_ENTRIES,
            links,
            table,
        )

    def has_grant_credits_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(GRANT_PERMISSION)

    @admin.action(description="Grant or deduct credits", permissions=["grant_credits"])
    def grant_or_deduct_credits(self, request: HttpRequest, queryset) -> HttpResponse | None:
        # One person at a time: the form shows their balance, and a deduction is checked
        # against it.
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one user to grant or deduct credits.", messages.WARNING
            )
            return None
        return HttpResponseRedirect(reverse("admin:accounts_user_credits", args=[queryset.get().pk]))

    @admin.action(description="Erase personal data", permissions=["change"])
    def erase_personal_data(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """The person's own "Delete account", done by staff (accounts.erasure): after a
        confirmation page, since it cannot be undone. Accounts the staff member may not
        change (a superuser, a stronger account, their own) are left alone."""
        users = list(queryset.order_by("pk"))
        allowed = [u for u in users if u != request.user and self.has_change_permission(request, u)]
        skipped = len(users) - len(allowed)
        if "apply" not in request.POST:
            return TemplateResponse(
                request,
                "admin/accounts/user/erase.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase personal data",
                    "opts": self.opts,
                    "rows": [
                        (u, ledger.balance_of(u), erasure.obstacles(u, actor=request.user)) for u in allowed
                    ],
                    "skipped": skipped,
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                    "action": "erase_personal_data",
                },
            )
        erased, refused = 0, []
        for user in allowed:
            try:
                report = erasure.erase_account(user, actor=request.user)
            except erasure.ErasureRefused as exc:
                refused.append(f"{user}: {exc}")
                continue
            erased += not report.already_erased
        self.message_user(request, f"Erased the personal data of {erased} account(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not erased, {line}", messages.WARNING)
        if skipped:
            self.message_user(
                request,
                f"{skipped} account(s) left alone: yours, or one you may not change.",
                messages.WARNING,
            )
        return None

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/credits/",
                self.admin_site.admin_view(self.credits_view),
                name="accounts_user_credits",
            )
        ]
        return custom + super().get_urls()

    def credits_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_grant_credits_permission(request):
            raise PermissionDenied
        user = self.get_object(request, unquote(object_id))
        if user is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, user):
            raise PermissionDenied
        form = CreditChangeForm(request.POST or None, initial={"key": uuid.uuid4()})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = ledger.grant_or_deduct(
                    user,
                    data["amount"],
                    key=f"admin:{data['key']}",
                    reason=data["reason"],
                    created_by=request.user,
                )
            except ledger.InsufficientCredits as refusal:
                form.add_error(
                    "amount",
                    f"{user.email} has {refusal.balance} credits: a deduction cannot take the balance "
                    "below zero.",
                )
            except ledger.IdempotencyConflict:
                form.add_error(None, "This form was already used. Reload the page to make another change.")
            else:
                self.message_user(
                    request,
                    f"{entry.get_kind_display()} of {entry.amount:+d} credits recorded for {user.email}; "
                    f"the balance is now {entry.balance_after}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Grant or deduct credits: {user.email}",
            "opts": self.opts,
            "original": user,
            "form": form,
            "balance": ledger.balance_of(user),
        }
        return TemplateResponse(request, "admin/accounts/user/credits.html", context)


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(allauth_admin.EmailAddressAdmin):
    # allauth's action runs with the view permission alone, and a confirmed address earns
    # welcome credits: it needs what ticking "verified" in the form needs.
    @admin.action(description="Mark selected email addresses as verified", permissions=["change"])
    def make_verified(self, request: HttpRequest, queryset) -> None:
        super().make_verified(request, queryset)


# The library's own APIKey model is unused here (keys belong to people): keep it out of
# the admin so nobody makes a key that no request can use.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(PersonalAPIKey)
class PersonalAPIKeyAdmin(APIKeyModelAdmin):
    """Staff see and revoke people's keys; a key is created by its owner, who alone sees it."""

    list_display = ("name", "prefix", "user", "created", "last_used_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix", "user__email")
    raw_id_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "user", "last_used_at")
