"""Generations: one row per job a person asked for, and the files it produced."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


def _callback_token() -> str:
    return secrets.token_urlsafe(24)


class Kind(models.TextChoices):
    TEXT2IMAGE = "text2image", "Text to image"
    TEXT2VIDEO = "text2video", "Text to video"
    IMAGE2VIDEO = "image2video", "Image to video"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SUBMITTED = "submitted", "Submitted"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


TERMINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED)
IN_FLIGHT_STATUSES = (Status.SUBMITTED, Status.PROCESSING)


class GenerationQuerySet(models.QuerySet):
    def owned_by(self, user) -> GenerationQuerySet:
        """What a person may see: their own generations that they have not deleted."""
        return self.filter(owner=user, deleted_at__isnull=True)

    def in_flight(self) -> GenerationQuerySet:
        return self.filter(status__in=IN_FLIGHT_STATUSES)


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

    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="generation_owner_recent"),
            models.Index(fields=["status", "next_poll_at"], name="generation_poll_queue"),
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

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_video(self) -> bool:
        return self.kind != Kind.TEXT2IMAGE


def asset_upload_to(instance: Asset, filename: str) -> str:
    return f"results/{timezone.now():%Y/%m}/{instance.generation_id}/{filename}"


class Asset(models.Model):
    """Our own permanent copy of one output (provider URLs expire after 30 days)."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

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
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "kind", "index"], name="asset_unique_output")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.index} of generation {self.generation_id}"


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
    credits = models.PositiveIntegerField(help_text="Per clip for videos; per image for images.")
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


# --- Provider limiter (generations/limiter.py) ------------------------------------------
# Shared by every web and worker process. Slots bound the tasks in flight at the provider
# (KLING_MAX_CONCURRENCY); windows count requests per minute (KLING_MAX_QPM) when Redis
# is not configured. The unique constraints are what make both correct under concurrency.


class LimiterSlot(models.Model):
    """One of KLING_MAX_CONCURRENCY numbered slots, held by one generation."""

    slot = models.PositiveIntegerField(unique=True)
    generation_id = models.BigIntegerField(unique=True)
    acquired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slot"]

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
