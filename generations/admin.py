"""Admin for generations (follow, fail and refund, copy results again), prices, and the
capability table that decides what can be ordered."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path
from django_q import admin as queue_admin
from django_q.models import Failure, Success

from economics.admin import GenerationEconomicsMixin, PriceEconomicsMixin
from generations import capabilities, clock, media, queue, services
from generations.models import (
    MAX_FETCH_ATTEMPTS,
    UNFINISHED_STATUSES,
    Asset,
    EffectScene,
    FaceSession,
    Generation,
    InputFile,
    Price,
    Status,
)


class ResultCopyFilter(admin.SimpleListFilter):
    title = "copy of results"
    parameter_name = "copy"

    def lookups(self, request, model_admin):
        return [
            ("saved", "Saved"),
            ("pending", "Being copied"),
            ("failing", "Copy failing"),
            ("given_up", "Copy gave up"),
        ]

    def queryset(self, request, queryset):
        unsaved = queryset.filter(status=Status.SUCCEEDED, assets_saved_at__isnull=True)
        if self.value() == "saved":
            return queryset.filter(assets_saved_at__isnull=False)
        if self.value() == "pending":
            return unsaved.filter(fetch_error="")
        if self.value() == "failing":
            return unsaved.exclude(fetch_error="").filter(fetch_attempts__lt=MAX_FETCH_ATTEMPTS)
        if self.value() == "given_up":
            return unsaved.filter(fetch_attempts__gte=MAX_FETCH_ATTEMPTS)
        return queryset


class AssetInline(admin.TabularInline):
    model = Asset
    extra = 0
    can_delete = False
    view_on_site = False  # the file page is its owner's only
    fields = (
        "kind",
        "index",
        "content_type",
        "size",
        "width",
        "height",
        "duration",
        "video_id",
        "file",
        "source_url",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class InputFileInline(admin.TabularInline):
    """What the person gave (videos, sound, pictures Kling fetches by signed URL)."""

    model = InputFile
    extra = 0
    can_delete = False
    view_on_site = False
    fields = ("field", "index", "content_type", "size", "width", "height", "duration", "file")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class FailForm(forms.Form):
    reason = forms.CharField(
        label="What the person is told",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        help_text="Shown on the generation's page, followed by the refund note.",
    )


@admin.register(Generation)
class GenerationAdmin(GenerationEconomicsMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "kind",
        "model_name",
        "mode",
        "duration",
        "status",
        "cost",
        "provider_cost",
        "margin",
        "copy_state",
        "created_at",
    )
    list_filter = (
        "status",
        "kind",
        "model_name",
        ResultCopyFilter,
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("owner",)
    search_fields = ("prompt", "task_id", "owner__email")
    search_help_text = "Prompt, Kling task id, our external task id (a UUID), or the owner's email."
    date_hierarchy = "created_at"
    inlines = [InputFileInline, AssetInline]
    actions = ["poll_now", "fail_and_refund", "copy_results_again"]
    fieldsets = (
        (None, {"fields": ("owner", "kind", "status", "cost", "prompt", "params", "parent", "deleted_at")}),
        ("Model", {"fields": ("provider", "model_name", "mode", "duration", "audio")}),
        (
            "Provider",
            {
                "fields": (
                    "product",
                    "task_id",
                    "external_task_id",
                    "attempts",
                    "maybe_created",
                    "wait_reason",
                    "units_charged",
                    "provider_cost",
                    "margin",
                    "provider_message",
                    "error_code",
                    "error_message",
                )
            },
        ),
        ("Results", {"fields": ("result_media", "assets_saved_at", "fetch_attempts", "fetch_error")}),
        (
            "Times",
            {
                "fields": (
                    "created_at",
                    "submitted_at",
                    "started_at",
                    "finished_at",
                    "due_at",
                    "deadline_at",
                    "notified_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        # Every change goes through services (transitions, refunds), never a raw edit. So
        # the change permission edits nothing here: it is what the actions below require.
        return [f.name for f in Generation._meta.fields] + list(self.economics_fields)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Copy")
    def copy_state(self, obj: Generation) -> str:
        if obj.status != Status.SUCCEEDED:
            return "—"
        if obj.assets_saved_at:
            return "saved"
        if obj.fetch_attempts >= MAX_FETCH_ATTEMPTS:
            return "gave up"
        return "failing" if obj.fetch_error else "pending"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            external = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(Q(external_task_id=external)), may_have_duplicates

    def changelist_view(self, request, extra_context=None):
        pace = clock.cadence()
        if pace.budget_bound:
            # Staff should know why finishes take longer to show: raise KLING_MAX_QPM, or
            # let callbacks carry the news.
            self.message_user(
                request,
                f"The poll sweep runs every {pace.seconds:.0f} s, not every {pace.setting:.0f} s "
                f"(GENERATION_POLL_SECONDS): {pace.pages} list page(s) a pass is all that "
                f"KLING_MAX_QPM={settings.KLING_MAX_QPM} allows next to creates.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Poll now (ask the provider for the current state)", permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset) -> None:
        ids = list(
            queryset.filter(status__in=(Status.SUBMITTED, Status.PROCESSING)).values_list("pk", flat=True)
        )
        for pk in ids:
            queue.refresh(pk)
        skipped = queryset.count() - len(ids)
        self.message_user(
            request,
            f"Asked the provider about {len(ids)} generation(s)"
            + (f"; {skipped} not in flight were skipped." if skipped else "."),
        )

    @admin.action(description="Fail and refund, with a reason", permissions=["change"])
    def fail_and_refund(self, request: HttpRequest, queryset) -> HttpResponse | None:
        open_ones = queryset.filter(status__in=UNFINISHED_STATUSES)
        form = FailForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            failed = sum(
                services.fail_by_staff(pk, form.cleaned_data["reason"], request.user)
                for pk in open_ones.values_list("pk", flat=True)
            )
            self.message_user(request, f"Failed and refunded {failed} generation(s).", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/generations/generation/fail_and_refund.html",
            {
                **self.admin_site.each_context(request),
                "title": "Fail and refund generations",
                "opts": self.model._meta,
                "form": form,
                "generations": open_ones,
                "finished": queryset.exclude(status__in=UNFINISHED_STATUSES).count(),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "action": "fail_and_refund",
            },
        )

    @admin.action(description="Copy results again (outputs we are missing)", permissions=["change"])
    def copy_results_again(self, request: HttpRequest, queryset) -> None:
        started = sum(media.copy_again(pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Copying results again for {started} succeeded generation(s).")


class PriceForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ("kind", "model_name", "mode", "duration", "audio", "credits", "active")

    def clean(self):
        data = super().clean()
        kind, model_name = data.get("kind"), data.get("model_name")
        if kind and model_name and capabilities.get(kind, model_name, include_disabled=True) is None:
            self.add_error("model_name", f"{model_name} is not in the capability table for this kind.")
        return data


@admin.register(FaceSession)
class FaceSessionAdmin(admin.ModelAdmin):
    """Kling's identify-face answers (lip-sync's first step): read-only, kept for support."""

    list_display = (
        "id",
        "owner",
        "session_id",
        "video_id",
        "video_seconds",
        "face_count",
        "units",
        "created_at",
    )
    list_filter = ("created_at",)
    search_fields = ("session_id", "video_id", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = [f.name for f in FaceSession._meta.fields]

    @admin.display(description="faces")
    def face_count(self, obj: FaceSession) -> int:
        return len(obj.faces or [])

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Price)
class PriceAdmin(PriceEconomicsMixin, admin.ModelAdmin):
    form = PriceForm
    actions = ["set_target_margin"]
    list_display = ("kind", "model_name", "mode", "duration", "audio", "credits", "active")
    list_editable = ("credits", "active")
    list_filter = ("kind", "model_name", "mode", "audio", "active")
    search_fields = ("model_name",)
    list_per_page = 100
    change_list_template = "admin/generations/price/change_list.html"

    def get_urls(self):
        return [
            path(
                "capabilities/",
                self.admin_site.admin_view(self.capabilities_view),
                name="generations_price_capabilities",
            ),
            *super().get_urls(),
        ]

    def capabilities_view(self, request: HttpRequest) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/generations/price/capabilities.html",
            {
                **self.admin_site.each_context(request),
                "title": "What each model supports",
                "opts": self.model._meta,
                "rows": capabilities.summary_rows(),
                "disabled": sorted(capabilities.disabled_models()),
            },
        )


@admin.register(EffectScene)
class EffectSceneAdmin(admin.ModelAdmin):
    """Kling's effect templates: switch off a scene Kling retires; its prices are the Price
    rows of the video effects kind named after it."""

    list_display = ("name", "label", "enabled", "two_person", "model_names", "durations", "position")
    list_editable = ("enabled", "position")
    list_filter = ("enabled", "two_person")
    search_fields = ("name", "label")


# --- The task queue's own admin -------------------------------------------------------------
# django-q2 lets anyone who may view a finished task run it again, and a task may send a
# job to Kling or fulfil a purchase: running one again takes the change permission.


@admin.action(description="Resubmit selected tasks to queue", permissions=["change"])
def resubmit_task(model_admin, request: HttpRequest, queryset) -> None:
    queue_admin.resubmit_task(model_admin, request, queryset)


class SuccessAdmin(queue_admin.TaskAdmin):
    actions = [resubmit_task]


class FailureAdmin(queue_admin.FailAdmin):
    actions = [resubmit_task]


for _model, _model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)
