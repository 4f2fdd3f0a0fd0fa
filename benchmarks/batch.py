"""Batch costs on a temporary SQLite database, in process, with the simulator as provider.

1. Time to confirm a 100-row text-to-image batch: every row validated, priced, charged and
   saved in one transaction, and its submission handed to the task queue on commit.
2. Peak Python memory (tracemalloc) while streaming the ZIP of a batch's results, at 10 and
   100 rows of 1 MB each: it must stay flat as the batch grows.
    .venv/bin/python benchmarks/batch.py
"""

from __future__ import annotations

import os
import time
import tracemalloc

from _env import setup

setup("batch", env={"KLING_PROVIDER": "simulator"}, sqlite_only=True)

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402

from batches import services  # noqa: E402
from billing import ledger  # noqa: E402
from generations.models import Asset, Generation, Status  # noqa: E402

OPTIONS = {"model_name": "kling-v2-1", "n": "1", "aspect_ratio": "1:1", "resolution": "1k"}
FILE_SIZE = 1024 * 1024


def _batch(user, rows: int):
    text = "\n".join(f"Prompt number {i}: a lighthouse in a storm" for i in range(rows))
    start = time.perf_counter()
    batch = services.create_batch(user, "text2image", OPTIONS, services.parse_lines(text))
    return batch, time.perf_counter() - start


def _zip_peak(batch) -> tuple[int, int]:
    payload = os.urandom(FILE_SIZE)
    for item in batch.items.select_related("generation"):
        Asset.objects.create(
            generation=item.generation,
            kind=Asset.Kind.IMAGE,
            file=ContentFile(payload, name=f"row{item.row}.png"),
            content_type="image/png",
            size=FILE_SIZE,
        )
    Generation.objects.filter(batch_item__batch=batch).update(status=Status.SUCCEEDED)
    tracemalloc.start()
    total = sum(len(chunk) for chunk in services.zip_stream(batch))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return total, peak


def main() -> None:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(email="bench@example.org", password="x")
    ledger.grant(user, 100_000, key="bench:grant")
    _, seconds = _batch(user, 100)
    print(f"confirm of a 100-row batch: {seconds * 1000:.0f} ms ({seconds * 10:.1f} ms a row)")
    for rows in (10, 100):
        batch, _ = _batch(user, rows)
        size, peak = _zip_peak(batch)
        print(f"ZIP of {rows} results: {size / 1e6:.1f} MB streamed, peak Python memory {peak / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
