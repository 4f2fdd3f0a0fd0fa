from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry

HISTORY_PAGE_SIZE = 25


def _history(user):
    return LedgerEntry.objects.filter(account__user=user)


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
