"""Batches: parse many prompts, quote them as one, create every row as a normal generation
in one transaction (all charged or none), retry failed rows, and stream the results as a ZIP.

Each row goes through `generations.services.create_generation`, so the ledger keys, the
refund on failure and the fair queue are the same as for a single generation; only the
per-person queue cap is replaced by the batch's own row limit.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from batches.models import Batch, BatchItem
from billing import ledger
from generations import services as generation_services
from generations.forms import FORMS
from generations.models import Generation, Kind, Status

MAX_ROWS = 100
# Kinds that need nothing but text and options: a row is a prompt.
BATCH_KINDS = (Kind.TEXT2IMAGE, Kind.TEXT2VIDEO)
ZIP_CHUNK = 256 * 1024


@dataclass
class Row:
    number: int
    prompt: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class PlannedRow:
    row: Row
    cleaned_data: dict[str, Any]
    credits: int


def row_columns(kind: str) -> set[str]:
    """The CSV columns a kind accepts: the prompt and the options a row may override."""
    form_class = FORMS[kind]
    return {"prompt", "negative_prompt", "model_name", *form_class.OPTION_FIELDS}


def parse_lines(text: str) -> list[Row]:
    """One prompt a line. An empty line between prompts is refused (it is usually a
    pasted paragraph split in two); blank lines at the ends are ignored."""
    lines = text.replace("\r\n", "\n").strip("\n").split("\n") if text.strip() else []
    rows: list[Row] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValidationError(
                _("Line %(n)s is empty: remove it or write a prompt on it.") % {"n": number}
            )
        rows.append(Row(number, line.strip()))
    return _within_limits(rows)


def parse_csv(data: bytes, kind: str) -> list[Row]:
    """A CSV with a header row: a `prompt` column and optional per-row option columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(_("The CSV file is not UTF-8 text.")) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if "prompt" not in header:
        raise ValidationError(_("The CSV file needs a header row with a “prompt” column."))
    allowed = row_columns(kind)
    for column, name in enumerate(header, start=1):
        if name not in allowed:
            raise ValidationError(
                _(
                    "Row 1, column %(column)s: “%(name)s” is not an option of this kind (allowed: %(allowed)s)."
                )
                % {"column": column, "name": name, "allowed": ", ".join(sorted(allowed))}
            )
    reader.fieldnames = header
    rows: list[Row] = []
    for number, record in enumerate(reader, start=1):
        if None in record:
            raise ValidationError(
                _("Row %(row)s has more values than the header has columns.") % {"row": number + 1}
            )
        prompt = (record.pop("prompt") or "").strip()
        if not prompt:
            raise ValidationError(
                _("Row %(row)s, column %(column)s: the prompt is empty.")
                % {"row": number + 1, "column": header.index("prompt") + 1}
            )
        options = {name: value.strip() for name, value in record.items() if value and value.strip()}
        rows.append(Row(number, prompt, options))
    return _within_limits(rows)


def _within_limits(rows: list[Row]) -> list[Row]:
    if not rows:
        raise ValidationError(_("Write at least one prompt."))
    if len(rows) > MAX_ROWS:
        raise ValidationError(
            _("A batch takes at most %(most)s prompts; this one has %(count)s.")
            % {"most": MAX_ROWS, "count": len(rows)}
        )
    return rows


def _row_data(options: Mapping[str, Any], row: Row) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in {**options, **row.options, "prompt": row.prompt}.items():
        if isinstance(value, list):
            data.setlist(name, [str(v) for v in value])
        elif value not in (None, False):
            data[name] = "on" if value is True else str(value)
    data.pop("client_token", None)
    return data


def plan(user, kind: str, options: Mapping[str, Any], rows: list[Row]) -> list[PlannedRow]:
    """Validate and price every row with the kind's own form; refuse the whole batch, naming
    the row, if any one of them would be refused."""
    if kind not in BATCH_KINDS:
        raise ValidationError(_("Batches are not offered for this kind."))
    planned = []
    for row in rows:
        form = FORMS[kind](_row_data(options, row), user=user)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
                if name != "__all__"
                else " ".join(errors)
                for name, errors in form.errors.items()
            )
            raise ValidationError(_("Row %(row)s: %(problems)s") % {"row": row.number, "problems": problems})
        planned.append(PlannedRow(row, dict(form.cleaned_data), form.quote.credits if form.quote else 0))
    return planned


def total(planned: list[PlannedRow]) -> int:
    return sum(p.credits for p in planned)


def create_batch(
    user, kind: str, options: Mapping[str, Any], rows: list[Row], *, client_token: str = ""
) -> Batch:
    """Create the batch and one charged generation per row in a single transaction.

    Raises what `create_generation` raises (ValidationError, pricing.NotOffered,
    ledger.InsufficientCredits, ledger.AccountFrozen); then no row is saved or charged.
    """
    if client_token:
        existing = Batch.objects.filter(owner=user, client_token=client_token).first()
        if existing is not None:
            return existing
    planned = plan(user, kind, options, rows)
    _check_balance(user, total(planned))
    shared = {name: value for name, value in options.items() if name not in ("prompt", "client_token")}
    with transaction.atomic():
        batch = Batch.objects.create(
            owner=user, kind=kind, options=shared, total_cost=total(planned), client_token=client_token[:64]
        )
        for item in planned:
            generation = generation_services.create_generation(user, kind, item.cleaned_data, queue_cap=False)
            BatchItem.objects.create(
                batch=batch,
                row=item.row.number,
                prompt=item.row.prompt,
                options=item.row.options,
                generation=generation,
            )
    return batch


def retry_failed(batch: Batch) -> int:
    """Make each failed row again, charged like a new generation; the failed attempt stays
    in the gallery with its refund. Returns how many rows were started again."""
    items = list(batch.items.select_related("generation").filter(generation__status=Status.FAILED))
    if not items:
        return 0
    rows = [Row(item.row, item.prompt, item.options) for item in items]
    planned = plan(batch.owner, batch.kind, batch.options, rows)
    _check_balance(batch.owner, total(planned))
    with transaction.atomic():
        for item, row in zip(items, planned, strict=True):
            item.generation = generation_services.create_generation(
                batch.owner, batch.kind, row.cleaned_data, queue_cap=False
            )
            item.save(update_fields=["generation"])
    return len(items)


def _check_balance(user, credits: int) -> None:
    """Refuse with the whole batch's figure up front; the per-row charges inside the
    transaction still guard against a balance spent meanwhile (then nothing is kept)."""
    balance = ledger.balance_of(user)
    if credits > balance:
        raise ledger.InsufficientCredits(credits, balance)


@dataclass
class BatchProgress:
    done: int
    failed: int
    running: int

    @property
    def total(self) -> int:
        return self.done + self.failed + self.running

    @property
    def finished(self) -> bool:
        return self.running == 0

    def percent(self, part: int) -> int:
        return round(100 * part / self.total) if self.total else 0

    @property
    def done_percent(self) -> int:
        return self.percent(self.done)

    @property
    def failed_percent(self) -> int:
        return self.percent(self.failed)


def progress(batch: Batch) -> BatchProgress:
    statuses = list(batch.items.values_list("generation__status", flat=True))
    done = statuses.count(Status.SUCCEEDED)
    failed = statuses.count(Status.FAILED)
    return BatchProgress(done=done, failed=failed, running=len(statuses) - done - failed)


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what was written until the next `take()`: lets
    zipfile write an archive piece by piece into a streaming response."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(batch: Batch) -> Iterator[bytes]:
    """The batch's result files as one ZIP, read from storage and sent in chunks, so memory
    stays flat however many files there are. Files are stored, not compressed again (images
    and videos are compressed already)."""
    sink = _Sink()
    generations = Generation.objects.filter(batch_item__batch=batch).prefetch_related("assets")
    rows = dict(batch.items.values_list("generation_id", "row"))
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for generation in sorted(generations, key=lambda g: rows[g.pk]):
            for asset in generation.assets.all():
                name = f"{rows[generation.pk]:03d}-{asset.download_name}"
                with (
                    asset.file.open("rb") as source,
                    archive.open(name, mode="w", force_zip64=True) as target,
                ):
                    while chunk := source.read(ZIP_CHUNK):
                        target.write(chunk)
                        yield sink.take()
                yield sink.take()
    yield sink.take()
