from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import demo_checkout, ledger, payments, stripe_api, webhooks
from billing.forms import DemoCardForm
from billing.models import CreditPack, DemoCheckoutSession, Purchase
from kling_site import rate_limits

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 25


def _history(user):
    return ledger.history(user)


@login_required
def credits(request: HttpRequest) -> HttpResponse:
    page = Paginator(_history(request.user), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/credits.html", {"balance": ledger.balance_of(request.user), "page": page})


class _Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    # Spreadsheets run a cell starting with = + - @ as a formula; memos can carry text
    # a person typed (a prompt, a reason), so neutralise them.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(user) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(["date", "kind", "amount", "balance_after", "memo", "generation_id", "purchase_id"])
    entries = _history(user).order_by("created_at", "id")
    for entry in entries.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                timezone.localtime(entry.created_at).isoformat(timespec="seconds"),
                entry.kind,
                entry.amount,
                entry.balance_after,
                _cell(entry.memo),
                entry.generation_id or "",
                entry.purchase_id or "",
            ]
        )


@login_required
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_rows(request.user), content_type="text/csv; charset=utf-8")
    filename = f"credits-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- Buying credits (Stripe Checkout) ------------------------------------------------------

# The success page polls while credits are on their way; a payment still processing after
# this long (a bank debit can take days) is left to the purchases page.
POLL_FOR = timedelta(minutes=30)
# Checkouts one person may start per window: each one is a Stripe API call.
BUY_ATTEMPTS = 10
BUY_WINDOW_SECONDS = 600


def _site_root(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@login_required
@require_http_methods(["GET", "POST"])
def buy(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not rate_limits.allow("buy", request.user.pk, limit=BUY_ATTEMPTS, per_seconds=BUY_WINDOW_SECONDS):
            messages.error(
                request, _("Too many checkouts started in a short time. Please wait a few minutes.")
            )
            return redirect("billing:buy")
        try:
            _purchase, url = payments.start_checkout(
                request.user, request.POST.get("pack", ""), site_root=_site_root(request)
            )
        except payments.PaymentError as exc:
            messages.error(request, str(exc))
            return redirect("billing:buy")
        # 303: the browser follows with a GET, as Stripe recommends.
        return HttpResponseRedirect(url, status=303)
    packs = CreditPack.objects.filter(active=True)
    return render(request, "billing/buy.html", {"packs": packs})


def _status_context(request: HttpRequest, purchase: Purchase) -> dict:
    polling = purchase.is_pending and purchase.created_at > timezone.now() - POLL_FOR
    balance = ledger.balance_of(request.user)
    return {"purchase": purchase, "polling": polling, "balance": balance}


@login_required
@require_GET
@never_cache
def buy_success(request: HttpRequest) -> HttpResponse:
    session_id = request.GET.get("session_id", "")
    purchase = get_object_or_404(Purchase, stripe_session_id=session_id, user=request.user)
    if purchase.status in payments.CREDITABLE:
        # Credit now rather than wait for the webhook; both may run at once, safely.
        try:
            payments.fulfill_checkout(session_id, source="success_page")
        except (payments.PaymentError, stripe_api.StripeApiError) as exc:
            logger.warning("Success page could not fulfil %s yet: %s", session_id, exc)
        purchase.refresh_from_db()
    return render(request, "billing/buy_success.html", _status_context(request, purchase))


@login_required
@require_GET
@never_cache
def purchase_status(request: HttpRequest, purchase_id: int) -> HttpResponse:
    purchase = get_object_or_404(Purchase, pk=purchase_id, user=request.user)
    context = {**_status_context(request, purchase), "oob_balance": bool(request.htmx)}
    return render(request, "billing/_purchase_status.html", context)


@login_required
@require_GET
def buy_cancel(request: HttpRequest) -> HttpResponse:
    purchase_id = request.GET.get("purchase", "")
    purchase = None
    if purchase_id.isdigit():
        purchase = Purchase.objects.filter(pk=int(purchase_id), user=request.user).first()
    if purchase is not None:
        purchase = payments.cancel_checkout(purchase)
    return render(request, "billing/buy_cancel.html", {"purchase": purchase})


@login_required
@require_GET
def purchases(request: HttpRequest) -> HttpResponse:
    page = Paginator(Purchase.objects.filter(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "billing/purchases.html", {"page": page})


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        outcome = webhooks.receive(request.body, request.headers.get("Stripe-Signature"))
    except stripe_api.InvalidWebhook as exc:
        # The reason goes to our log only: the answer tells a prober nothing about our checks.
        logger.warning("Refused a Stripe webhook: %s", exc)
        return JsonResponse({"error": "invalid_signature"}, status=400)
    except DatabaseError:
        logger.exception("Could not store a Stripe event")
        return JsonResponse({"error": "unavailable"}, status=503)
    return JsonResponse({"received": True, "outcome": outcome})


@require_http_methods(["GET", "POST"])
@never_cache
def demo_checkout_page(request: HttpRequest, session_id: str) -> HttpResponse:
    """The demo's hosted checkout page. Like Stripe's, the session id is the access key."""
    if not settings.STRIPE_DEMO:
        raise Http404
    session = get_object_or_404(DemoCheckoutSession, pk=session_id)
    form = DemoCardForm()
    if request.method == "POST" and session.status == DemoCheckoutSession.Status.OPEN:
        action = request.POST.get("action", "pay")
        form = DemoCardForm(request.POST)
        if action == "decline":
            demo_checkout.decline(session.id)
            form.is_valid()
            form.add_error("card_number", demo_checkout.DECLINE_MESSAGE)
        elif form.is_valid():
            pay = demo_checkout.pay_later if action == "delay" else demo_checkout.pay
            return HttpResponseRedirect(pay(session.id), status=303)
        session.refresh_from_db()
    context = {
        "session": session,
        "form": form,
        "cancel_url": session.cancel_url,
        "continue_url": demo_checkout.success_url(session),
    }
    return render(request, "billing/demo_checkout.html", context)


@require_GET
def demo_receipt(request: HttpRequest, charge_id: str) -> HttpResponse:
    if not settings.STRIPE_DEMO:
        raise Http404
    session = get_object_or_404(DemoCheckoutSession, charge_id=charge_id)
    return render(request, "billing/demo_receipt.html", {"session": session})
