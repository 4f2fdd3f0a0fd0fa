"""A batch: many prompts of one kind and one set of options, each row a normal generation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generations.models import Generation, Kind


class Batch(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    kind = models.CharField(max_length=32)
    # The shared options as the kind's form takes them (no prompt), so a failed row can be
    # made again with the same choices.
    options = models.JSONField(default=dict)
    total_cost = models.PositiveIntegerField(default=0)
    # The same token returns the batch already made: a double click makes one batch.
    client_token = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = _("batches")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "client_token"],
                condition=~models.Q(client_token=""),
                name="batch_unique_client_token",
            )
        ]

    def __str__(self) -> str:
        return f"Batch {self.pk} of {self.owner}"

    def get_absolute_url(self) -> str:
        return reverse("batches:detail", args=[self.pk])

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    row = models.PositiveIntegerField()
    prompt = models.TextField()
    # Per-row options from the CSV, on top of the batch's own.
    options = models.JSONField(default=dict, blank=True)
    # The current attempt; a retry points the row at a new generation (the failed one stays
    # in the gallery with its refund).
    generation = models.OneToOneField(Generation, on_delete=models.CASCADE, related_name="batch_item")

    class Meta:
        ordering = ["batch", "row"]
        constraints = [models.UniqueConstraint(fields=["batch", "row"], name="batch_item_unique_row")]

    def __str__(self) -> str:
        return f"Row {self.row} of batch {self.batch_id}"
