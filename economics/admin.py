from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from economics import price_sheet, services
from economics.models import Alert, Reconciliation, ResourcePack


@admin.register(ResourcePack)
class ResourcePackAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "product_type",
        "units",
        "price_paid",
        "currency",
        "unit_cost",
        "purchased_at",
        "expires_at",
        "exhausted_at",
    )
    list_filter = ("product_type",)
    date_hierarchy = "purchased_at"

    @admin.display(description=_("cost per unit"))
    def unit_cost(self, obj: ResourcePack) -> str:
        return f"{obj.cost_per_unit:.4f} {obj.currency.upper()}"


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(_ReadOnlyAdmin):
    list_display = ("message", "raised_at", "emailed_at", "cleared_at")
    list_filter = (("cleared_at", admin.EmptyFieldListFilter),)


@admin.register(Reconciliation)
class ReconciliationAdmin(_ReadOnlyAdmin):
    list_display = (
        "ran_at",
        "product_type",
        "start",
        "end",
        "recorded_units",
        "kling_units",
        "difference_shown",
    )
    list_filter = ("product_type",)

    @admin.display(description=_("difference (Kling minus ours)"))
    def difference_shown(self, obj: Reconciliation) -> str:
        if not obj.difference:
            return "0"
        return format_html('<strong style="color:#ba2121">{}</strong>', obj.difference)


class _PriceContextMixin:
    """Loads the packs and the credit price once for the length of an admin page."""

    def _with_context(self, view, *args, **kwargs):
        token = services.current_context.set(services.load_context())
        try:
            response = view(*args, **kwargs)
            # Rows are drawn while rendering, so render before the context goes.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            return response
        finally:
            services.current_context.reset(token)

    def changelist_view(self, request, extra_context=None):
        return self._with_context(super().changelist_view, request, extra_context)


class GenerationEconomicsMixin(_PriceContextMixin):
    """Read-only provider cost and margin columns for the generations admin."""

    economics_fields = ("provider_cost", "margin")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._with_context(super().change_view, request, object_id, form_url, extra_context)

    @admin.display(description=_("provider cost"))
    def provider_cost(self, obj) -> str:
        ctx = services.current_context.get() or services.load_context()
        return f"{services.generation_cost(obj, ctx):.4f} {ctx.currency.upper()}"

    @admin.display(description=_("margin"))
    def margin(self, obj) -> str:
        ctx = services.current_context.get() or services.load_context()
        result = services.generation_margin(obj, ctx)
        loss = _(" (loss)") if result.margin < 0 else ""
        return f"{result.margin:.4f} {ctx.currency.upper()}{loss}"


class TargetMarginForm(forms.Form):
    margin = forms.DecimalField(
        label=_("Target margin (%)"),
        min_value=Decimal("0"),
        max_value=price_sheet.MAX_TARGET_MARGIN,
        decimal_places=1,
        help_text=_(
            "Each row gets the fewest whole credits that keep at least this margin over Kling's cost."
        ),
    )


class PriceEconomicsMixin(_PriceContextMixin):
    """The price list as a price sheet: Kling units, provider cost, sale value and margin
    per row, rows sold below cost flagged, and an action setting rows to a target margin.
    Shown to staff who may see the economics dashboard."""

    economics_columns = ("kling_units", "provider_cost", "sale_value", "margin_percent")

    def _sees_economics(self, request: HttpRequest) -> bool:
        return request.user.has_perm("economics.view_dashboard")

    def get_list_display(self, request):
        columns = tuple(super().get_list_display(request))
        return columns + self.economics_columns if self._sees_economics(request) else columns

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._sees_economics(request):
            actions.pop("set_target_margin", None)
        return actions

    def _row(self, obj) -> price_sheet.SheetRow:
        return price_sheet.row(obj, services.current_context.get() or services.load_context())

    @admin.display(description=_("Kling units"))
    def kling_units(self, obj) -> str:
        units = self._row(obj).units
        return "—" if units is None else f"{units.normalize():f}"

    @admin.display(description=_("provider cost"))
    def provider_cost(self, obj) -> str:
        cost = self._row(obj).cost
        return "—" if cost is None else f"{cost:.4f}"

    @admin.display(description=_("sale value"))
    def sale_value(self, obj) -> str:
        return f"{self._row(obj).sale_value:.4f}"

    @admin.display(description=_("margin %"))
    def margin_percent(self, obj) -> str:
        line = self._row(obj)
        if line.margin is None:
            return format_html('<span title="{}">—</span>', line.why_unknown)
        if line.below_cost:
            return format_html(
                '<strong class="below-cost" style="color:#ba2121">{} % {}</strong>',
                line.margin.percent,
                _("below cost"),
            )
        return f"{line.margin.percent} %"

    @admin.action(description=_("Set prices to a target margin"), permissions=["change"])
    def set_target_margin(self, request: HttpRequest, queryset) -> HttpResponse | None:
        form = TargetMarginForm(request.POST if "apply" in request.POST else None)
        ctx = services.load_context()
        if "apply" in request.POST and form.is_valid():
            result = price_sheet.set_target_margin(queryset, form.cleaned_data["margin"], ctx)
            self.message_user(
                request,
                ngettext(
                    "%(changed)d price changed, %(unchanged)d already there.",
                    "%(changed)d prices changed, %(unchanged)d already there.",
                    result.changed,
                )
                % {"changed": result.changed, "unchanged": result.unchanged},
                messages.SUCCESS,
            )
            for price, why in result.skipped:
                self.message_user(request, f"{price}: {why}", messages.WARNING)
            return None
        return TemplateResponse(
            request,
            "admin/economics/target_margin.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Set prices to a target margin"),
                "opts": self.model._meta,
                "form": form,
                "rows": price_sheet.sheet(queryset, ctx),
                "credit_price": ctx.credit_price,
                "currency": ctx.currency,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "action": "set_target_margin",
            },
        )
