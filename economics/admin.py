from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from economics import services
from economics.models import ResourcePack


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


class GenerationEconomicsMixin:
    """Read-only provider cost and margin columns for the generations admin."""

    economics_fields = ("provider_cost", "margin")

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
