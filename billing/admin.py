from django.contrib import admin

from billing.models import CreditAccount, LedgerEntry

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


# --- end of credits admin -------------------------------------------------------------
