"""What an account's erasure (accounts.erasure) does to the person's generations.

The rows stay, because ledger entries point at them (`gen:<id>:charge`, `gen:<id>:refund`)
and the money trail never loses a line; what the person wrote and uploaded, and every file
we made for them, goes. Work that is not finished blocks erasure instead of being failed:
Kling may still bill us for a job we fail on our side, and a finishing job would copy new
files into storage after they were deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generations.models import MAX_FETCH_ATTEMPTS, UNFINISHED_STATUSES, Asset, Generation, Status

logger = logging.getLogger(__name__)

# The technical settings of a request, kept so that counts and prices by model, mode and
# length stay readable. Anything else (prompts, image URLs, a new field of a later kind) is
# dropped: a key not listed here is treated as personal until someone decides otherwise.
KEPT_PARAMS = frozenset(
    {
        "model_name",
        "mode",
        "duration",
        "aspect_ratio",
        "cfg_scale",
        "sound",
        "camera_control",
        "n",
        "resolution",
        "image_reference",
        "image_fidelity",
    }
)


@dataclass
class ForgottenGenerations:
    generations: int = 0
    assets: int = 0
    # Storage names deleted after commit (inputs, outputs and thumbnails).
    files: list[str] = field(default_factory=list)


def still_working(user) -> int:
    """How many of the person's generations must finish before erasure: unfinished work,
    and successes whose results are still being copied (the copy would write new files)."""
    return (
        Generation.objects.filter(owner=user)
        .filter(
            Q(status__in=UNFINISHED_STATUSES)
            | Q(status=Status.SUCCEEDED, assets_saved_at__isnull=True, fetch_attempts__lt=MAX_FETCH_ATTEMPTS)
        )
        .count()
    )


def forget_owner(user) -> ForgottenGenerations:
    """Remove prompts, inputs and outputs of every generation of `user`; keep the rows,
    their cost, status and technical settings. Must run inside the caller's transaction;
    the files are deleted from storage once it commits, so a rollback loses nothing."""
    generations = list(Generation.objects.filter(owner=user).order_by("pk"))
    assets = list(Asset.objects.filter(generation__owner=user).order_by("pk"))
    done = ForgottenGenerations(generations=len(generations), assets=len(assets))

    names: dict[str, object] = {}
    for generation in generations:
        for file in (generation.input_image, generation.input_image_tail):
            if file:
                names.setdefault(file.name, file.storage)
    for asset in assets:
        for file in (asset.file, asset.thumbnail):
            if file:
                names.setdefault(file.name, file.storage)
    # A remix reuses its source's upload; sources are the person's own, but never delete a
    # file another person's row still names.
    shared = set(
        Generation.objects.exclude(owner=user)
        .filter(Q(input_image__in=list(names)) | Q(input_image_tail__in=list(names)))
        .values_list("input_image", "input_image_tail")
        .iterator()
    )
    shared_names = {name for pair in shared for name in pair}
    files = {name: storage for name, storage in names.items() if name not in shared_names}
    done.files = sorted(files)

    Asset.objects.filter(pk__in=[a.pk for a in assets]).delete()
    now = timezone.now()
    for generation in generations:
        params = {k: v for k, v in (generation.params or {}).items() if k in KEPT_PARAMS}
        Generation.objects.filter(pk=generation.pk).update(
            prompt="",
            params=params,
            input_image="",
            input_image_tail="",
            result_media=[],
            provider_message="",
            fetch_error="",
            client_token="",
            deleted_at=generation.deleted_at or now,
            # Nobody to tell any more (notifications skip deleted rows too).
            notified_at=generation.notified_at or now,
        )

    transaction.on_commit(lambda: _delete_files(files), robust=True)
    return done


def _delete_files(files: dict[str, object]) -> None:
    failed = []
    for name, storage in files.items():
        try:
            storage.delete(name)
        except Exception:
            failed.append(name)
    if failed:
        # The rows no longer name these files, so nothing will retry: an operator must.
        logger.error("erasure: could not delete %s file(s) from storage: %s", len(failed), ", ".join(failed))
