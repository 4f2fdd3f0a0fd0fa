"""The account's webhook page: default URL, signing secret, test event and every attempt."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import delivery as deliveries
from . import subscriptions
from .forms import EndpointForm
from .models import Delivery, Endpoint

RECENT = 25


def _page(request: HttpRequest, form: EndpointForm | None = None, new_secret: str = "") -> HttpResponse:
    endpoint = Endpoint.objects.filter(owner=request.user).first()
    context = {
        "form": form or EndpointForm(initial={"url": endpoint.url if endpoint else ""}),
        "endpoint": endpoint,
        "new_secret": new_secret,
        "deliveries": list(Delivery.objects.filter(owner=request.user).select_related("generation")[:RECENT]),
    }
    return render(request, "outbound_webhooks/endpoint.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    subscriptions.set_default_url(request.user, form.cleaned_data["url"])
    messages.success(
        request,
        _("Your webhook URL was saved.")
        if form.cleaned_data["url"]
        else _("Your default webhook URL was removed."),
    )
    return redirect("outbound_webhooks:endpoint")


@login_required
@never_cache
@require_POST
def rotate_secret(request: HttpRequest) -> HttpResponse:
    """A new secret, shown on this answer only; events not yet sent are signed with it."""
    endpoint = subscriptions.rotate_secret(request.user)
    return _page(request, new_secret=endpoint.secret)


@login_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    try:
        deliveries.send_test_event(request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("A test event is on its way. Its attempts appear below within seconds."))
    return redirect("outbound_webhooks:endpoint")


@login_required
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("generation"), pk=pk, owner=request.user)
    context = {
        "delivery": delivery,
        "attempt_log": list(delivery.attempt_log.all()),
        "payload": json.dumps(delivery.payload, indent=2),
    }
    return render(request, "outbound_webhooks/delivery.html", context)


@login_required
@require_POST
def send_again(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(
        Delivery, pk=pk, owner=request.user, status__in=(Delivery.Status.DELIVERED, Delivery.Status.GAVE_UP)
    )
    deliveries.redeliver(delivery)
    messages.success(request, _("The event is being sent again."))
    return redirect(delivery)
