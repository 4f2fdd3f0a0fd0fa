"""Admin for the simulator: its settings row (the fault knobs), and read-only tasks and callbacks."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from generations.simulator.models import SimCallback, SimFaults, SimTask


@admin.register(SimFaults)
class SimFaultsAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Timing", {"fields": ["queue_seconds", "run_seconds", "url_ttl_seconds"]}),
        ("Limits and models", {"fields": ["concurrency_limit", "discontinued_models"]}),
        (
            "Error answers",
            {"fields": ["rate_1302", "rate_1303", "rate_5000", "rate_5002_after_create"]},
        ),
        (
            "Broken transport",
            {"fields": ["rate_read_timeout", "read_timeout_seconds", "rate_malformed_json"]},
        ),
        ("Failed tasks", {"fields": ["rate_failed_task", "failed_task_message"]}),
        (
            "Callbacks",
            {"fields": ["rate_callback_lost", "rate_callback_duplicate", "rate_callback_reordered"]},
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SimFaults.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: SimFaults | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # A single row: go straight to it.
        faults = SimFaults.current()
        return HttpResponseRedirect(reverse("admin:simulator_simfaults_change", args=[faults.pk]))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SimTask)
class SimTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "task_id",
        "product",
        "model_name",
        "mode",
        "duration",
        "current_status",
        "external_task_id",
        "created_by",
    ]
    list_filter = ["product", "outcome", "created_by"]
    search_fields = ["task_id", "external_task_id", "prompt"]

    @admin.display(description="status")
    def current_status(self, task: SimTask) -> str:
        return task.status


@admin.register(SimCallback)
class SimCallbackAdmin(ReadOnlyAdmin):
    list_display = ["task", "status", "due_ms", "done", "attempts", "response_status", "last_error"]
    list_filter = ["status", "done"]
    list_select_related = ["task"]
