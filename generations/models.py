"""Generations: one row per job a person asked for, and the files it produced."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


def _callback_token() -> str:
    return secrets.token_urlsafe(24)


class Kind(models.TextChoices):
    TEXT2IMAGE = "text2image", _("Text to image")
    TEXT2VIDEO = "text2video", _("Text to video")
    IMAGE2VIDEO = "image2video", _("Image to video")
    MOTION_CONTROL = "motion_control", _("Motion control")
    MULTI_IMAGE2VIDEO = "multi_image2video", _("Multi-image to video")
    VIDEO_EXTEND = "video_extend", _("Extend a video")
    TEXT2AUDIO = "text2audio", _("Text to audio")
    VIDEO2AUDIO = "video2audio", _("Video to audio")
    AVATAR = "avatar", _("Avatar")
    OMNI_VIDEO = "omni_video", _("Omni video")
    MULTI_IMAGE2IMAGE = "multi_image2image", _("Multi-image to image")
    OMNI_IMAGE = "omni_image", _("Omni image")
    VIRTUAL_TRY_ON = "virtual_try_on", _("Virtual try-on")
    EXPAND_IMAGE = "expand_image", _("Expand a picture")
    VIDEO_EFFECTS = "video_effects", _("Video effect")
    LIP_SYNC = "lip_sync", _("Lip-sync")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUBMITTED = "submitted", _("Submitted")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


# Kinds whose results are pictures (several of them when `n` > 1).
IMAGE_KINDS = frozenset(
    {Kind.TEXT2IMAGE, Kind.MULTI_IMAGE2IMAGE, Kind.OMNI_IMAGE, Kind.VIRTUAL_TRY_ON, Kind.EXPAND_IMAGE}
)

TERMINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED)
IN_FLIGHT_STATUSES = (Status.SUBMITTED, Status.PROCESSING)
UNFINISHED_STATUSES = (Status.QUEUED, *IN_FLIGHT_STATUSES)

# Copies of results are retried this many times (then staff see the error in admin).
MAX_FETCH_ATTEMPTS = 6

# URL slugs of the kinds (create pages, download names).
KIND_SLUGS = {
    Kind.TEXT2IMAGE: "text-to-image",
    Kind.TEXT2VIDEO: "text-to-video",
    Kind.IMAGE2VIDEO: "image-to-video",
    Kind.MOTION_CONTROL: "motion-control",
    Kind.MULTI_IMAGE2VIDEO: "multi-image-to-video",
    Kind.VIDEO_EXTEND: "extend-video",
    Kind.TEXT2AUDIO: "text-to-audio",
    Kind.VIDEO2AUDIO: "video-to-audio",
    Kind.AVATAR: "avatar",
    Kind.OMNI_VIDEO: "omni-video",
    Kind.MULTI_IMAGE2IMAGE: "multi-image-to-image",
    Kind.OMNI_IMAGE: "omni-image",
    Kind.VIRTUAL_TRY_ON: "virtual-try-on",
    Kind.EXPAND_IMAGE: "expand-image",
    Kind.VIDEO_EFFECTS: "video-effects",
    Kind.LIP_SYNC: "lip-sync",
}


class WaitReason(models.TextChoices):
    """Why a queued generation is not with Kling yet (shown to its owner)."""

    SLOT = "slot", _("Waiting for a free slot")
    BUDGET = "budget", _("Waiting for our request budget")
    RETRY = "retry", _("Kling is busy; trying again shortly")


class GenerationQuerySet(models.QuerySet):
    def owned_by(self, user) -> GenerationQuerySet:
        """What a person may see: their own generations that they have not deleted."""
        return self.filter(owner=user, deleted_at__isnull=True)

    def in_flight(self) -> GenerationQuerySet:
        return self.filter(status__in=IN_FLIGHT_STATUSES)

    def unsaved_results(self) -> GenerationQuerySet:
        """Succeeded at Kling, but our copy of the outputs is not complete yet."""
        return self.filter(status=Status.SUCCEEDED, assets_saved_at__isnull=True)


def input_upload_to(instance: Generation, filename: str) -> str:
    return f"inputs/{timezone.now():%Y/%m}/{uuid.uuid4().hex}-{filename[-60:]}"


class Generation(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generations")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    provider = models.CharField(max_length=16)
    model_name = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, blank=True)
    duration = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Seconds (videos).")
    audio = models.BooleanField(default=False)
    prompt = models.TextField(blank=True)
    # The validated request in Kling's own field names, without the input images.
    params = models.JSONField(default=dict, blank=True)
    input_image = models.FileField(upload_to=input_upload_to, blank=True)
    input_image_tail = models.FileField(upload_to=input_upload_to, blank=True)
    # An extension's source: the generation whose video (Asset.video_id) it continues.
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="extensions"
    )
    # Frozen at creation: later price changes never touch an accepted job.
    cost = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)

    # Provider bookkeeping. A task is only visible at its own product path, so it is stored.
    product = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=128, blank=True, db_index=True)
    external_task_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    callback_token = models.CharField(max_length=64, default=_callback_token, editable=False)
    units_charged = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    provider_message = models.TextField(blank=True, help_text="The provider's own words (staff only).")
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True, help_text="What the person is told, in plain words.")

    # Form resubmissions and double clicks carry the same token and create one generation.
    client_token = models.CharField(max_length=64, blank=True)

    # True from the moment a create request may have reached Kling until we know its fate:
    # the next attempt looks the task up by external_task_id before sending anything, so a
    # retry never makes a second paid job.
    maybe_created = models.BooleanField(default=False)
    wait_reason = models.CharField(max_length=16, choices=WaitReason.choices, blank=True)
    # Kling counts an image task's concurrency by the images it makes, a video task as one.
    slot_count = models.PositiveSmallIntegerField(default=1)

    # Kling's outputs on success ({kind, index, url, duration}); its URLs expire after 30
    # days, so the fetch task copies every one into an Asset.
    result_media = models.JSONField(default=list, blank=True)
    assets_saved_at = models.DateTimeField(null=True, blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    fetch_error = models.TextField(
        blank=True, help_text="Why the last copy of the results failed (staff only)."
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0, help_text="Create requests sent to the provider.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When a worker may next act on this row, whatever the act is: submit (queued: the
    # retry after a wait), poll (in flight), copy results (succeeded, results unsaved).
    # NULL is due now. Claiming the row moves it forward by the claim's lease first, so
    # no other worker acts meanwhile and, if the claimer dies, the row comes due again.
    # One column on purpose: every claim is a compare-and-set on this one value.
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="generation_owner_recent"),
            models.Index(fields=["status", "due_at"], name="generation_due_queue"),
            # services.refresh_estimates: the newest successes of one model and mode.
            models.Index(
                fields=["kind", "model_name", "mode", "status", "finished_at"],
                name="generation_estimate_sample",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "client_token"],
                condition=~models.Q(client_token=""),
                name="generation_unique_client_token",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("generations:detail", args=[self.pk])

    def get_kind_display(self) -> str:
        # Django's own builds a dict of all sixteen choices on every call, translating each
        # label to hash it; a gallery page asks twice per card, and that was a quarter of
        # its rendering time.
        try:
            return str(Kind(self.kind).label)
        except ValueError:
            return self.kind

    @property
    def status_url(self) -> str:
        """The live part of its page (htmx polls it while it runs)."""
        return reverse("generations:status", args=[self.pk])

    @property
    def delete_url(self) -> str:
        return reverse("generations:delete", args=[self.pk])

    @property
    def remix_url(self) -> str:
        """The create page of its kind, filled in with its settings."""
        return reverse("generations:create", args=[self.kind_slug]) + "?" + urlencode({"remix": self.pk})

    @property
    def input_image_url(self) -> str:
        return reverse("generations:input", args=[self.pk, "image"])

    @property
    def input_image_tail_url(self) -> str:
        return reverse("generations:input", args=[self.pk, "image_tail"])

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_video(self) -> bool:
        return self.kind not in IMAGE_KINDS and self.kind != Kind.TEXT2AUDIO

    @property
    def is_audio(self) -> bool:
        """Whether its result is sound alone."""
        return self.kind == Kind.TEXT2AUDIO

    @property
    def is_saving_results(self) -> bool:
        return self.status == Status.SUCCEEDED and self.assets_saved_at is None

    @property
    def is_live(self) -> bool:
        """Whether its page should keep refreshing: work or a copy of results is under way."""
        return not self.is_terminal or (self.is_saving_results and self.fetch_attempts < MAX_FETCH_ATTEMPTS)

    @property
    def cover(self) -> Asset | None:
        """The first output (uses prefetched assets when there are any)."""
        assets = list(self.assets.all())
        return assets[0] if assets else None

    @property
    def kind_slug(self) -> str:
        return KIND_SLUGS[self.kind]

    @property
    def title(self) -> str:
        text = " ".join(self.prompt.split())
        return text if len(text) <= 80 else text[:79].rstrip() + "…"

    @property
    def elapsed(self):
        end = self.finished_at or timezone.now()
        return max(end - self.created_at, timedelta(0))

    @property
    def was_refunded(self) -> bool:
        # Reaching `failed` refunds in the same transaction (services.transition).
        return self.status == Status.FAILED and self.cost > 0

    @property
    def unmade_credits(self) -> int:
        """What a succeeded series Kling sized itself ("auto") gives back: it was charged,
        and held slots, for the most pictures a series may have (slot_count)."""
        if self.status != Status.SUCCEEDED or self.params.get("series_amount") != "auto" or not self.cost:
            return 0
        charged = max(self.slot_count, 1)
        made = sum(1 for item in self.result_media if item.get("kind") == "image")
        return self.cost * (charged - min(made, charged)) // charged

    @property
    def refunded_credits(self) -> int:
        return self.cost if self.was_refunded else self.unmade_credits

    def callback_path(self) -> str:
        return reverse("generations:callback", args=[self.pk, self.callback_token])

    def download_name(self, asset: Asset) -> str:
        """A file name people can keep: kind, id, a few words of the prompt, the index."""
        words = slugify(self.prompt)
        if len(words) > 40:  # whole words only
            words = words[:41].rsplit("-", 1)[0] if "-" in words[:41] else words[:40]
        ext = (
            "mp4"
            if asset.kind == Asset.Kind.VIDEO
            else ("png" if asset.content_type == "image/png" else "jpg")
        )
        if asset.content_type == "image/webp":
            ext = "webp"
        if asset.kind == Asset.Kind.AUDIO:
            ext = "wav" if asset.content_type == "audio/wav" else "mp3"
        suffix = f"-{asset.index + 1}" if self.kind in IMAGE_KINDS and self.params.get("n", 1) > 1 else ""
        return "-".join(p for p in ("kling", self.kind_slug, str(self.pk), words) if p) + suffix + "." + ext


def asset_upload_to(instance: Asset, filename: str) -> str:
    return f"results/{timezone.now():%Y/%m}/{instance.generation_id}/{filename}"


class Asset(models.Model):
    """Our own permanent copy of one output (provider URLs expire after 30 days)."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        AUDIO = "audio", _("Audio")

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=asset_upload_to, max_length=255)
    thumbnail = models.FileField(upload_to=asset_upload_to, max_length=255, blank=True)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    source_url = models.URLField(max_length=1000, blank=True)
    # Kling's own id of a result video (`task_result.videos[].id`): what video-extend and
    # other follow-up products take as `video_id`, for 30 days after it was made.
    video_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "kind", "index"], name="asset_unique_output")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.index} of generation {self.generation_id}"

    def get_absolute_url(self) -> str:
        """Our copy of the file, served to its owner under the name they keep."""
        return reverse("generations:file", args=[self.generation_id, self.pk, self.download_name])

    @property
    def download_name(self) -> str:
        return self.generation.download_name(self)

    @property
    def download_url(self) -> str:
        """The same file, sent as an attachment."""
        return self.get_absolute_url() + "?" + urlencode({"download": 1})

    @property
    def thumbnail_url(self) -> str:
        return reverse("generations:thumbnail", args=[self.generation_id, self.pk])


class FaceSession(models.Model):
    """One answer of Kling's identify-face: the faces found in a video of the person's own
    (a finished result by Kling id, or an upload), which lip-sync then picks one of. Kling
    keeps the session for 24 hours; it is stored per owner, so nobody can lip-sync with
    another person's session."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="face_sessions"
    )
    session_id = models.CharField(max_length=64)
    # The video it read: one of the person's own results (Kling's video id) or an upload.
    video_id = models.CharField(max_length=64, blank=True)
    video = models.FileField(upload_to=input_upload_to, blank=True, max_length=255)
    video_content_type = models.CharField(max_length=64, blank=True)
    video_seconds = models.FloatField(help_text="Seconds.")
    # [{face_id, face_image, start_time, end_time}] as Kling gave them (times in ms).
    faces = models.JSONField(default=list, blank=True)
    units = models.CharField(max_length=16, blank=True, help_text="Kling's final_unit_deduction.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["owner", "session_id"], name="face_session_unique")]

    def __str__(self) -> str:
        return f"face session {self.session_id} of {self.owner_id}"

    @property
    def expires_at(self):
        return self.created_at + timedelta(hours=24)

    def face(self, face_id: str) -> dict | None:
        return next((f for f in self.faces if str(f.get("face_id")) == str(face_id)), None)


class InputFile(models.Model):
    """A file a person gave for a generation, under the Kling field it goes to (`video_url`,
    `image_url`, `image_list`, ...). Kling fetches these from us by signed, expiring URL
    (generations.inputs); their owner sees them on the generation's page."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="inputs")
    field = models.CharField(max_length=32)
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=input_upload_to, max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds (videos and audio).")

    class Meta:
        # By the column, not the relation: ordering by `generation` would join its table.
        ordering = ["generation_id", "field", "index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "field", "index"], name="input_file_unique")
        ]

    def __str__(self) -> str:
        return f"{self.field}[{self.index}] of generation {self.generation_id}"

    def get_absolute_url(self) -> str:
        """The file for its owner (signed-in, owner-only)."""
        return reverse("generations:input_file", args=[self.generation_id, self.pk])

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")


class Price(models.Model):
    """Credits for one kind/model/mode/duration/audio combination, editable in admin.

    Blank `mode`, null `duration` and null `audio` match any value; the most specific
    active row wins.
    """

    kind = models.CharField(max_length=32, choices=Kind.choices)
    model_name = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, blank=True)
    duration = models.PositiveSmallIntegerField(null=True, blank=True)
    audio = models.BooleanField(null=True, blank=True)
    credits = models.PositiveIntegerField(
        help_text="Per clip for videos (per second of output for kinds billed by the second); per image for images."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "model_name", "mode", "duration"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "model_name", "mode", "duration", "audio"],
                name="price_unique_combination",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.model_name} {self.mode or '*'} {self.duration or '*'}s: {self.credits} credits"


class EffectScene(models.Model):
    """One of Kling's effect templates (`effect_scene` of `videos/effects`) and its input rules.

    Kling adds and retires scenes often, so the list lives here for staff to edit; its
    prices are Price rows of the video_effects kind whose model_name is the scene's name.
    """

    name = models.CharField(max_length=64, unique=True, help_text="Kling's effect_scene value.")
    label = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    preview = models.FileField(
        upload_to="effects/", blank=True, help_text="A short clip or picture of the effect."
    )
    enabled = models.BooleanField(default=True, help_text="Switch off a scene Kling has retired.")
    two_person = models.BooleanField(
        default=False, help_text="Takes two pictures (the left and the right person) instead of one."
    )
    model_names = models.JSONField(
        default=list,
        blank=True,
        help_text='Models a two-person scene runs on, e.g. ["kling-v1-6"]; empty: no model or mode is sent.',
    )
    durations = models.JSONField(default=list, help_text="Lengths offered in seconds, e.g. [5] or [5, 10].")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return f"{self.label} ({self.name})"

    @property
    def takes_model(self) -> bool:
        return self.two_person and bool(self.model_names)

    @property
    def preview_is_video(self) -> bool:
        return bool(self.preview) and self.preview.name.lower().endswith((".mp4", ".webm", ".mov"))


# --- Provider limiter (generations/limiter.py) ------------------------------------------
# Shared by every web and worker process. Slots bound the tasks in flight at the provider
# (KLING_MAX_CONCURRENCY); windows count requests per minute (KLING_MAX_QPM) when Redis
# is not configured. The unique constraints are what make both correct under concurrency.


class LimiterSlot(models.Model):
    """One of KLING_MAX_CONCURRENCY numbered slots, held by one generation."""

    slot = models.PositiveIntegerField(unique=True)
    generation_id = models.BigIntegerField()
    # A generation that takes several slots (an image task making n images) holds parts 0..n-1.
    part = models.PositiveSmallIntegerField(default=0)
    acquired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slot"]
        constraints = [
            models.UniqueConstraint(fields=["generation_id", "part"], name="limiter_slot_one_part_each")
        ]

    def __str__(self) -> str:
        return f"slot {self.slot}: generation {self.generation_id}"


class LimiterWindow(models.Model):
    """Requests taken from the per-minute budget in one minute (database fallback for Redis)."""

    bucket = models.CharField(max_length=32)
    minute = models.BigIntegerField(help_text="Unix time // 60.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "minute"], name="limiter_window_unique")]

    def __str__(self) -> str:
        return f"{self.bucket} minute {self.minute}: {self.count}"


class SweepClock(models.Model):
    """When the poll sweep last ran and is next due: one row, shared by every `poll_clock`
    process so that running several (one per host, say) still gives one pass per interval."""

    next_pass_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"poll sweep next due {self.next_pass_at}"
