"""What the operator paid Kling: the resource packs bought, unit by unit."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProductType(models.TextChoices):
    # Kling sells units per product type; a video pack never pays for a picture.
    VIDEO = "video", _("Video")
    IMAGE = "image", _("Image")


class ResourcePack(models.Model):
    """One Kling resource pack the operator bought, as staff entered it."""

    name = models.CharField(
        max_length=120, help_text=_("Kling's name for the pack, e.g. Trial-Video-100Units.")
    )
    product_type = models.CharField(max_length=8, choices=ProductType.choices, default=ProductType.VIDEO)
    units = models.DecimalField(max_digits=12, decimal_places=3, help_text=_("Units in the pack."))
    price_paid = models.DecimalField(
        max_digits=12, decimal_places=2, help_text=_("What the pack cost, in the currency below.")
    )
    currency = models.CharField(max_length=3, default="usd")
    purchased_at = models.DateTimeField(default=timezone.now, help_text=_("When the pack took effect."))
    expires_at = models.DateTimeField(help_text=_("When Kling invalidates what is left of it."))
    exhausted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When it ran out, if it did before expiring.")
    )
    notes = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["purchased_at", "id"]
        permissions = [("view_dashboard", "Can view the operator's economics dashboard")]
        constraints = [
            models.CheckConstraint(condition=models.Q(units__gt=0), name="pack_units_positive"),
            models.CheckConstraint(condition=models.Q(price_paid__gt=0), name="pack_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.units} {self.get_product_type_display()} units)"

    @property
    def cost_per_unit(self) -> Decimal:
        return self.price_paid / self.units

    def clean(self) -> None:
        errors = {}
        if self.units is not None and self.units <= 0:
            errors["units"] = _("A pack has more than zero units.")
        if self.price_paid is not None and self.price_paid <= 0:
            errors["price_paid"] = _("Enter the price paid, more than zero.")
        if self.expires_at and self.purchased_at and self.expires_at <= self.purchased_at:
            errors["expires_at"] = _("A pack expires after it was bought.")
        if self.currency:
            self.currency = self.currency.lower()
        if errors:
            raise ValidationError(errors)


class PackSnapshot(models.Model):
    """What Kling's `/account/costs` said about the account's packs at one moment.

    One row per fetch (the newest one is shown); `error` says why a fetch gave nothing.
    """

    fetched_at = models.DateTimeField(default=timezone.now, db_index=True)
    packs = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-fetched_at", "-id"]
        get_latest_by = "fetched_at"

    def __str__(self) -> str:
        return f"Kling packs at {self.fetched_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """A condition staff must hear about (a pack running low, a price below cost, ...).

    One open row per condition (`key`): a check that finds it again changes nothing, so
    staff are emailed once per condition, not once per check. When the condition is gone
    the row is closed; if it comes back, a new row is opened and emailed.
    """

    key = models.CharField(max_length=120)
    message = models.CharField(max_length=300)
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Two checks running at once cannot both open (and email) the same condition.
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(cleared_at__isnull=True), name="alert_one_open_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.message


class Reconciliation(models.Model):
    """Units we recorded for a period against what Kling's own pack figures say it used."""

    ran_at = models.DateTimeField(default=timezone.now, db_index=True)
    product_type = models.CharField(max_length=8, choices=ProductType.choices)
    start = models.DateTimeField(help_text=_("Time of Kling's figures at the start of the period."))
    end = models.DateTimeField(help_text=_("Time of Kling's figures at the end of the period."))
    recorded_units = models.DecimalField(max_digits=14, decimal_places=3)
    kling_units = models.DecimalField(max_digits=14, decimal_places=3)

    class Meta:
        ordering = ["-ran_at", "product_type"]

    def __str__(self) -> str:
        return f"{self.product_type} {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

    @property
    def difference(self):
        return self.kling_units - self.recorded_units
