"""Idempotency records: what an `Idempotency-Key` was first used for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """One client key of one person: the digest of the body it first came with, and the
    generation that body created (null until it is created, or when it was refused, in
    which case the same body may be sent again with the key)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    generation = models.ForeignKey(
        "generations.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_one_per_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"
