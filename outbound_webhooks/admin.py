"""Staff see every event and attempt (read-only) and may send an event again."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import delivery as deliveries
from .models import Attempt, Delivery, Endpoint


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AttemptInline(_ReadOnly, admin.TabularInline):
    model = Attempt
    fields = ["at", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = [
        "event_id",
        "event_type",
        "owner",
        "generation",
        "url",
        "status",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "owner__email", "url"]
    list_select_related = ["owner", "generation"]
    exclude = ["secret"]
    inlines = [AttemptInline]
    actions = ["send_again"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # The model's change permission, though the form itself is read-only.
        return request.user.has_perm("outbound_webhooks.change_delivery")

    @admin.action(description="Send the selected events again now", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        chosen = list(queryset.exclude(status=Delivery.Status.WAITING))
        for item in chosen:
            deliveries.redeliver(item)
        messages.success(request, f"{len(chosen)} events are being sent again.")


@admin.register(Endpoint)
class EndpointAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["owner", "url", "created_at", "rotated_at"]
    search_fields = ["owner__email", "url"]
    exclude = ["secret"]
