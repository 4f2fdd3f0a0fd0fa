"""Where a developer wants to hear about finished generations, and every try at telling them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Endpoint(models.Model):
    """A person's default webhook URL and the secret every event to them is signed with."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    url = models.URLField(
        max_length=500, blank=True, help_text="Where events go when a request names no URL."
    )
    secret = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.url or f"no default URL ({self.owner})"


class Delivery(models.Model):
    """One event for one URL. URL and secret are copied in when the event is promised, so
    changing the default endpoint later never redirects an event already on its way."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for the generation to finish"
        PENDING = "pending", "Sending"
        DELIVERED = "delivered", "Delivered"
        GAVE_UP = "gave_up", "Gave up"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    generation = models.OneToOneField(
        "generations.Generation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_delivery",
    )
    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.event_id}"

    def get_absolute_url(self) -> str:
        return reverse("outbound_webhooks:delivery", args=[self.pk])


class Attempt(models.Model):
    """One POST of a delivery: what came back, or why nothing did."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
