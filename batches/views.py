"""Batch pages: write many prompts, see the total, confirm, follow the batch, download all."""

from __future__ import annotations

import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from batches import services
from batches.forms import PromptsForm
from batches.models import Batch
from billing import ledger
from generations import pricing
from generations.forms import FORMS
from generations.models import KIND_SLUGS, Kind

KINDS_BY_SLUG = {KIND_SLUGS[kind]: kind for kind in services.BATCH_KINDS}


def _options(request: HttpRequest, kind: str) -> dict[str, object]:
    """The shared options as posted, limited to the kind's option fields."""
    names = ["model_name", "negative_prompt", *FORMS[kind].OPTION_FIELDS]
    options: dict[str, object] = {}
    for name in names:
        values = request.POST.getlist(name)
        if len(values) > 1:
            options[name] = values
        elif values:
            options[name] = values[0]
    return options


def _rows_from_json(raw: str) -> list[services.Row]:
    try:
        rows = [
            services.Row(int(r["number"]), str(r["prompt"]), dict(r.get("options") or {}))
            for r in json.loads(raw)
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationError(_("The prompts were lost on the way: write them again.")) from exc
    return services._within_limits(rows)


@login_required
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest, kind_slug: str = "") -> HttpResponse:
    kind = KINDS_BY_SLUG.get(kind_slug or KIND_SLUGS[Kind.TEXT2IMAGE])
    if kind is None:
        raise Http404
    options_form = FORMS[kind](request.POST or None, user=request.user)
    prompts_form = PromptsForm(request.POST or None, request.FILES or None, kind=kind)
    context: dict[str, object] = {
        "kind": kind,
        "kind_label": Kind(kind).label,
        "kind_slug": KIND_SLUGS[kind],
        "kinds": [(KIND_SLUGS[k], Kind(k).label) for k in services.BATCH_KINDS],
        "options_form": options_form,
        "prompts_form": prompts_form,
        "max_rows": services.MAX_ROWS,
        "balance": ledger.balance_of(request.user),
    }
    if request.method == "POST":
        options = _options(request, kind)
        try:
            if request.POST.get("confirm") and request.POST.get("rows_json"):
                rows = _rows_from_json(request.POST["rows_json"])
                planned = services.plan(request.user, kind, options, rows)
                if str(services.total(planned)) != request.POST.get("quoted"):
                    # The price changed since it was shown: show the new one, charge nothing.
                    messages.warning(request, _("The price changed since you saw it. Check the new total."))
                else:
                    batch = services.create_batch(
                        request.user, kind, options, rows, client_token=request.POST.get("client_token", "")
                    )
                    messages.success(
                        request, _("Your batch of %(count)s is on its way.") % {"count": len(rows)}
                    )
                    return redirect(batch.get_absolute_url())
            elif prompts_form.is_valid():
                rows = prompts_form.cleaned_data["rows"]
                planned = services.plan(request.user, kind, options, rows)
            else:
                return render(request, "batches/new.html", context)
        except ValidationError as exc:
            context["problems"] = exc.messages
            return render(request, "batches/new.html", context)
        except pricing.NotOffered as exc:
            context["problems"] = [str(exc)]
            return render(request, "batches/new.html", context)
        except ledger.InsufficientCredits as exc:
            context["insufficient"] = exc
            return render(request, "batches/new.html", context)
        except ledger.AccountFrozen as exc:
            context["problems"] = [str(exc)]
            return render(request, "batches/new.html", context)
        total = services.total(planned)
        context.update(
            planned=planned,
            total=total,
            short_by=max(0, total - context["balance"]),
            client_token=uuid.uuid4().hex,
            rows_json=json.dumps(
                [{"number": p.row.number, "prompt": p.row.prompt, "options": p.row.options} for p in planned]
            ),
        )
    return render(request, "batches/new.html", context)


def _owned(request: HttpRequest, batch_id: int) -> Batch:
    return get_object_or_404(Batch, pk=batch_id, owner=request.user)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    batches = [(b, services.progress(b)) for b in Batch.objects.filter(owner=request.user)[:50]]
    return render(request, "batches/index.html", {"batches": batches})


@login_required
@require_GET
def detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _owned(request, batch_id)
    items = batch.items.select_related("generation").prefetch_related("generation__assets")
    context = {
        "batch": batch,
        "items": items,
        "progress": services.progress(batch),
        "kind_label": Kind(batch.kind).label,
    }
    template = "batches/detail.html#batch-status" if request.htmx else "batches/detail.html"
    return render(request, template, context)


@login_required
@require_POST
def retry(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _owned(request, batch_id)
    try:
        count = services.retry_failed(batch)
    except ledger.InsufficientCredits as exc:
        messages.error(
            request,
            _("Trying again needs %(needed)s credits and you have %(balance)s. Nothing was charged.")
            % {"needed": exc.needed, "balance": exc.balance},
        )
    except (ValidationError, pricing.NotOffered, ledger.AccountFrozen) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        if count:
            messages.success(request, _("%(count)s failed rows started again.") % {"count": count})
    return redirect(batch.get_absolute_url())


@login_required
@require_GET
def download(request: HttpRequest, batch_id: int) -> StreamingHttpResponse:
    batch = _owned(request, batch_id)
    response = StreamingHttpResponse(services.zip_stream(batch), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, f"batch-{batch.pk}.zip")
    return response
