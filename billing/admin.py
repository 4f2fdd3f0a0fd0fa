import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from billing import payments, stripe_api, webhooks
from billing.models import CreditAccount, CreditPack, LedgerEntry, Purchase, PurchaseLog, StripeEvent

# --- Credits: read-only views of the ledger ------------------------------------------
# Balances and entries change only through billing.ledger (the "Grant or deduct credits"
# form on the user page), so the admin can look but never add, edit or delete: staff can
# never type a balance.


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(_ReadOnlyAdmin):
    list_display = ["user", "balance", "is_frozen", "updated_at"]
    list_filter = ["is_frozen"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    ordering = ["user__email"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "memo", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["account__user__email", "idempotency_key", "memo"]
    list_select_related = ["account__user", "created_by"]
    date_hierarchy = "created_at"
    # The default paginator counts the whole table on every page; the ledger only grows.
    show_full_result_count = False


# -- Buying credits (Stripe Checkout) ------------------------------------------------------


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ("name", "credits", "price", "currency", "badge", "active", "order", "stripe_price_id")
    list_editable = ("active", "order")
    list_filter = ("active", "currency")
    ordering = ("order", "price_minor")
    fields = ("name", "credits", "price_minor", "currency", "badge", "active", "order", "stripe_price_id")

    @admin.display(description="Price", ordering="price_minor")
    def price(self, pack: CreditPack) -> str:
        return pack.price_display

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Purchases keep a snapshot, but a pack that sold should be deactivated, not deleted.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.purchases.exists())


class PurchaseLogInline(admin.TabularInline):
    model = PurchaseLog
    extra = 0
    can_delete = False
    fields = ("created_at", "source", "message", "actor")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "pack_name",
        "credits",
        "amount",
        "status",
        "stripe_session_id",
    )
    list_filter = ("status", "currency", "payment_processing", "created_at")
    search_fields = (
        "user__email",
        "stripe_session_id",
        "stripe_payment_intent_id",
        "stripe_charge_id",
        "stripe_customer_id",
    )
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ("fulfil_from_stripe", "approve_after_review", "reject_after_review")
    inlines = (PurchaseLogInline,)
    # Money and Stripe facts are records, not settings: nothing here is editable.
    readonly_fields = (
        "user",
        "pack",
        "pack_name",
        "credits",
        "amount",
        "amount_minor",
        "currency",
        "status",
        "payment_processing",
        "amount_refunded_minor",
        "stripe_session_id",
        "stripe_payment_intent_id",
        "stripe_charge_id",
        "stripe_customer_id",
        "receipt",
        "stripe_dispute_id",
        "dispute_status",
        "error",
        "created_at",
        "paid_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, purchase: Purchase) -> str:
        return purchase.amount_display

    @admin.display(description="Receipt")
    def receipt(self, purchase: Purchase) -> str:
        if not purchase.receipt_url:
            return "-"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Stripe receipt</a>', purchase.receipt_url
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.review_purchase")

    @admin.action(description="Approve after review: add the credits", permissions=["review"])
    def approve_after_review(self, request: HttpRequest, queryset: QuerySet[Purchase]) -> None:
        for purchase in queryset.filter(status=Purchase.Status.REVIEW):
            try:
                result = payments.approve_review(purchase, request.user)
            except (payments.PaymentError, stripe_api.StripeApiError) as exc:
                self.message_user(request, f"#{purchase.pk}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request, f"#{purchase.pk}: {result.outcome.replace('_', ' ')}", messages.SUCCESS
            )
            self.log_change(request, purchase, f"Approved after review: {result.outcome}")

    @admin.action(description="Reject after review: never add the credits", permissions=["review"])
    def reject_after_review(self, request: HttpRequest, queryset: QuerySet[Purchase]) -> None:
        for purchase in queryset.filter(status=Purchase.Status.REVIEW):
            payments.reject_review(purchase, request.user)
            self.message_user(request, f"#{purchase.pk}: not accepted; refund it in Stripe", messages.INFO)
            self.log_change(request, purchase, "Rejected after review")

    @admin.action(
        description="Fulfil from Stripe now (credits only if Stripe says paid)", permissions=["change"]
    )
    def fulfil_from_stripe(self, request: HttpRequest, queryset: QuerySet[Purchase]) -> None:
        for purchase in queryset:
            if not purchase.stripe_session_id:
                self.message_user(request, f"#{purchase.pk}: no Checkout Session", messages.WARNING)
                continue
            payments.record(purchase, "admin", "Manual fulfilment requested", actor=request.user)
            try:
                result = payments.fulfill_checkout(
                    purchase.stripe_session_id, source="admin", actor=request.user
                )
            except (payments.PaymentError, stripe_api.StripeApiError) as exc:
                payments.record(purchase, "admin", f"Manual fulfilment failed: {exc}", actor=request.user)
                self.message_user(request, f"#{purchase.pk}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if result.credited else messages.INFO
            self.message_user(request, f"#{purchase.pk}: {result.outcome.replace('_', ' ')}", level)
            self.log_change(request, purchase, f"Manual fulfilment: {result.outcome}")


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "status", "attempts", "received_at", "processed_at", "short_error")
    list_filter = ("status", "type")
    search_fields = ("event_id", "error")
    date_hierarchy = "received_at"
    actions = ("reprocess",)
    readonly_fields = (
        "event_id",
        "type",
        "status",
        "error",
        "attempts",
        "received_at",
        "started_at",
        "processed_at",
        "pretty_payload",
    )
    fields = readonly_fields

    @admin.display(description="Error")
    def short_error(self, event: StripeEvent) -> str:
        return event.error[:80]

    @admin.display(description="Payload")
    def pretty_payload(self, event: StripeEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, sort_keys=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    # Processing an event may credit or claw back; the change form edits nothing (every
    # field is read-only), so the change permission means exactly this.
    @admin.action(description="Process again", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        queued = sum(webhooks.reprocess(event.pk) for event in queryset)
        self.message_user(request, f"{queued} event(s) queued for processing.", messages.SUCCESS)
