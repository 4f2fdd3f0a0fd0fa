"""The simulated Kling's own state: tasks, pending callbacks and one row of fault knobs.

A task's status is never stored: it follows from its timestamps (submitted until
`processing_ms`, processing until `finish_ms`, then its `outcome`), so reading a task
advances it and polling works without any background process.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

RATE = [MinValueValidator(0.0), MaxValueValidator(1.0)]
DEFAULT_FAILURE_MESSAGE = (
    "Failure to pass the risk control system: the content may violate the content safety policy"
)


def now_ms() -> int:
    return int(time.time() * 1000)


class SimTask(models.Model):
    SUCCEED = "succeed"
    FAILED = "failed"

    task_id = models.CharField(max_length=32, unique=True)
    # Like a Kling account, each key sees only its own tasks (lookups, lists, concurrency, costs).
    created_by = models.CharField(
        max_length=200,
        blank=True,
        help_text="The key that created the task: ak:<access key> (JWT) or key:<digest of the API key>.",
    )
    product = models.CharField(max_length=64)
    package = models.CharField(
        max_length=8, help_text="video or image: Kling counts concurrency per package."
    )
    slots = models.PositiveSmallIntegerField(default=1, help_text="Concurrency taken (n for images).")
    external_task_id = models.CharField(max_length=128, blank=True)
    model_name = models.CharField(max_length=32)
    mode = models.CharField(max_length=8, blank=True)
    duration = models.CharField(
        max_length=8, blank=True, help_text="Seconds of output, as Kling writes them."
    )
    aspect_ratio = models.CharField(max_length=8, blank=True)
    sound = models.CharField(max_length=4, blank=True)
    resolution = models.CharField(max_length=4, blank=True)
    n = models.PositiveSmallIntegerField(default=1)
    prompt = models.TextField(blank=True)
    callback_url = models.CharField(max_length=1000, blank=True)
    # Absolute base of this simulator as the client reached it, for the CDN URLs in answers
    # and in callbacks sent later from outside any request.
    base_url = models.CharField(max_length=300)
    created_ms = models.BigIntegerField()
    processing_ms = models.BigIntegerField()
    finish_ms = models.BigIntegerField()
    outcome = models.CharField(max_length=8, default=SUCCEED)
    failure_message = models.CharField(max_length=500, blank=True)
    units = models.DecimalField(max_digits=10, decimal_places=3)
    # Video extension: the task whose video this one continues (`task_info.parent_video`).
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_ms", "-id"]
        indexes = [
            models.Index(fields=["created_by", "product", "-created_ms"], name="simtask_list_by_key"),
            models.Index(fields=["created_by", "package", "finish_ms"], name="simtask_in_flight_by_key"),
        ]
        constraints = [
            # external_task_id is unique per account, as at Kling.
            models.UniqueConstraint(
                fields=["created_by", "product", "external_task_id"],
                condition=~models.Q(external_task_id=""),
                name="simtask_unique_external_id_by_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.task_id}"

    def status_at(self, at_ms: int | None = None) -> str:
        at_ms = now_ms() if at_ms is None else at_ms
        if at_ms < self.processing_ms:
            return "submitted"
        if at_ms < self.finish_ms:
            return "processing"
        return self.outcome

    def changed_at(self, status: str) -> int:
        """When the task entered `status` (Kling's `updated_at` for it)."""
        if status == "submitted":
            return self.created_ms
        if status == "processing":
            return self.processing_ms
        return self.finish_ms

    @property
    def status(self) -> str:
        return self.status_at()


class SimCallback(models.Model):
    """One delivery of the task object to `callback_url`, due at a given time: a generation
    task's, or a custom element's creation task's (exactly one of the two)."""

    task = models.ForeignKey(SimTask, on_delete=models.CASCADE, related_name="callbacks", null=True)
    element = models.ForeignKey("SimElement", on_delete=models.CASCADE, related_name="callbacks", null=True)
    status = models.CharField(max_length=16, help_text="The task status this delivery reports.")
    due_ms = models.BigIntegerField()
    done = models.BooleanField(default=False)
    claimed_ms = models.BigIntegerField(null=True, blank=True)
    delivered_ms = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["due_ms", "id"]
        indexes = [
            models.Index(fields=["due_ms"], condition=models.Q(done=False), name="simcallback_due"),
        ]

    def __str__(self) -> str:
        return f"{self.status} callback for {(self.task or self.element).task_id}"

    @property
    def callback_url(self) -> str:
        return (self.task or self.element).callback_url


class SimFaults(models.Model):
    """The simulator's knobs (a single row, editable in admin). Rates are probabilities 0-1."""

    queue_seconds = models.FloatField(
        null=True, blank=True, help_text="Seconds in 'submitted'. Blank: SIMULATOR_QUEUE_SECONDS."
    )
    run_seconds = models.FloatField(
        null=True, blank=True, help_text="Seconds in 'processing'. Blank: SIMULATOR_RUN_SECONDS."
    )
    concurrency_limit = models.PositiveIntegerField(
        default=10, help_text="Tasks in flight per package (video, image) before 1303. 0: no limit."
    )
    rate_1302 = models.FloatField(default=0, validators=RATE, help_text="Answer 429/1302 (rate limit).")
    rate_1303 = models.FloatField(
        default=0, validators=RATE, help_text="Answer creates with 429/1303 even under the limit."
    )
    rate_5000 = models.FloatField(default=0, validators=RATE, help_text="Answer 500/5000 (nothing created).")
    rate_5002_after_create = models.FloatField(
        default=0, validators=RATE, help_text="Create the task, then answer 504/5002."
    )
    rate_read_timeout = models.FloatField(
        default=0, validators=RATE, help_text="Do the work, then sleep before answering."
    )
    read_timeout_seconds = models.FloatField(
        default=35, help_text="How long to sleep (past the client's KLING_READ_TIMEOUT)."
    )
    rate_malformed_json = models.FloatField(
        default=0, validators=RATE, help_text="Do the work, then answer with broken JSON."
    )
    rate_failed_task = models.FloatField(
        default=0, validators=RATE, help_text="Accept the task, then end it as failed."
    )
    failed_task_message = models.CharField(max_length=300, default=DEFAULT_FAILURE_MESSAGE)
    rate_callback_lost = models.FloatField(default=0, validators=RATE, help_text="Drop a callback.")
    rate_callback_duplicate = models.FloatField(
        default=0, validators=RATE, help_text="Send a callback twice."
    )
    rate_callback_reordered = models.FloatField(
        default=0, validators=RATE, help_text="Send the 'processing' callback after the final one."
    )
    url_ttl_seconds = models.PositiveIntegerField(
        default=30 * 24 * 3600, help_text="Result URLs answer 403 this long after the task finished."
    )
    discontinued_models = models.CharField(
        max_length=200, blank=True, default="kling-v1", help_text="Comma-separated; answered with 1203."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "simulator settings"
        verbose_name_plural = "simulator settings"

    def __str__(self) -> str:
        return "Simulator settings"

    @classmethod
    def current(cls) -> SimFaults:
        faults, _ = cls.objects.get_or_create(pk=1)
        return faults

    @property
    def queue_ms(self) -> int:
        seconds = self.queue_seconds if self.queue_seconds is not None else settings.SIMULATOR_QUEUE_SECONDS
        return int(seconds * 1000)

    @property
    def run_ms(self) -> int:
        seconds = self.run_seconds if self.run_seconds is not None else settings.SIMULATOR_RUN_SECONDS
        return int(seconds * 1000)

    @property
    def discontinued(self) -> set[str]:
        return {name.strip() for name in self.discontinued_models.split(",") if name.strip()}


class SimElement(models.Model):
    """A custom element (a saved subject) and the task that made it. Like a task, its build
    status follows from the clock: submitted until `finish_ms`, then succeed."""

    task_id = models.CharField(max_length=32, unique=True)
    element_id = models.BigIntegerField(unique=True)
    created_by = models.CharField(max_length=200, blank=True)
    external_task_id = models.CharField(max_length=128, blank=True)
    callback_url = models.CharField(max_length=1000, blank=True)
    element_name = models.CharField(max_length=20)
    element_description = models.CharField(max_length=100)
    reference_type = models.CharField(max_length=16)
    # The references as given, with Base64 pictures replaced by their length, so a list
    # answer stays small.
    image_list = models.JSONField(default=dict, blank=True)
    video_list = models.JSONField(default=dict, blank=True)
    tag_list = models.JSONField(default=list, blank=True)
    created_ms = models.BigIntegerField()
    finish_ms = models.BigIntegerField()
    deleted_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_ms", "-id"]

    def __str__(self) -> str:
        return f"element {self.element_id} ({self.element_name})"

    def status_at(self, at_ms: int | None = None) -> str:
        return "succeed" if (at_ms if at_ms is not None else now_ms()) >= self.finish_ms else "submitted"

    def task_object(self, at_ms: int | None = None) -> dict[str, Any]:
        """Kling's task object of the element's creation, as of `at_ms` (default now)."""
        status = self.status_at(at_ms)
        result: dict[str, Any] = {}
        if status == "succeed":
            result = {
                "elements": [
                    {
                        "element_id": self.element_id,
                        "element_name": self.element_name,
                        "element_description": self.element_description,
                        "reference_type": self.reference_type,
                        "element_image_list": self.image_list,
                        "element_video_list": self.video_list,
                        "element_voice_info": {},
                        "tag_list": self.tag_list,
                        "owned_by": self.created_by[-12:] or "0",
                        "status": "deleted" if self.deleted_ms else "succeed",
                    }
                ]
            }
        return {
            "task_id": self.task_id,
            "task_status": status,
            "task_status_msg": "",
            "task_info": {"external_task_id": self.external_task_id} if self.external_task_id else {},
            "task_result": result,
            "final_unit_deduction": "0",
            "created_at": self.created_ms,
            "updated_at": self.finish_ms if status == "succeed" else self.created_ms,
        }
