from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.money import format_minor
from economics import balance, dashboard
from economics.models import PackSnapshot


def _check(request: HttpRequest) -> None:
    if not request.user.has_perm("economics.view_dashboard"):
        raise PermissionDenied


def _figures(request: HttpRequest):
    try:
        period = dashboard.parse_period(
            request.GET.get("period"), request.GET.get("first"), request.GET.get("last")
        )
        return dashboard.build(period), ""
    except dashboard.PeriodError as error:
        return dashboard.build(dashboard.parse_period("30d")), str(error)


def index(request: HttpRequest) -> TemplateResponse:
    _check(request)
    figures, error = _figures(request)
    currency = figures["currency"]
    by_day = dashboard.bars([(d.day.isoformat(), d.line.revenue, d.line.cost) for d in figures["days"]])
    by_model = dashboard.bars(
        [(f"{m[0]} {m[1]} {m[2] or ''}".strip(), line.revenue, line.cost) for m, line in figures["by_model"]]
    )
    context = {
        **admin.site.each_context(request),
        **figures,
        "title": _("Economics"),
        "error": error,
        "presets": dashboard.PRESETS,
        "chart_days": by_day,
        "chart_models": by_model,
        "revenue_net": format_minor(
            figures["revenue_gross_minor"] - figures["revenue_refunded_minor"], currency
        ),
        "revenue_gross": format_minor(figures["revenue_gross_minor"], currency),
        "revenue_refunded": format_minor(figures["revenue_refunded_minor"], currency),
        "query": request.GET.urlencode(),
        "snapshot": (snapshot := PackSnapshot.objects.first()),
        "outlook": balance.outlook(snapshot),
    }
    return TemplateResponse(request, "admin/economics/dashboard.html", context)


def export_csv(request: HttpRequest) -> HttpResponse:
    """The by-day table behind the charts, as CSV."""
    _check(request)
    figures, _error = _figures(request)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="economics-by-day.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "day",
            "revenue_net_minor",
            "credit_value",
            "provider_cost",
            "margin",
            "units",
            "started",
            "succeeded",
            "failed",
        ]
        + ["credits_" + k for k in ("purchase", "charge", "refund", "grant")]
    )
    for day in figures["days"]:
        line = day.line
        writer.writerow(
            [day.day.isoformat(), day.revenue_net_minor, line.revenue, line.cost, line.margin, line.units]
            + [line.started, line.succeeded, line.failed]
            + [day.credits.get(k, 0) for k in ("purchase", "charge", "refund", "grant")]
        )
    return response


@require_POST
def refresh(request: HttpRequest) -> HttpResponseRedirect:
    """Fetch Kling's pack figures now instead of waiting for the 15-minute schedule."""
    _check(request)
    snapshot = balance.refresh()
    if snapshot.error:
        messages.error(request, snapshot.error)
    else:
        messages.success(request, _("Kling's pack figures were fetched."))
    return HttpResponseRedirect(reverse("economics:dashboard"))
