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


class RollupDay(models.Model):
    """One past day of the dashboard's figures, summed once so the page reads a few rows.

    Days are the site's local days (`zone`, the TIME_ZONE they were cut in). The ledger part
    is final once the day is over (entries are append-only); the generations part only when
    every generation created that day had reached a terminal state (`generations_closed`)
    and with the packs as they were (`packs_key`: a pack's dates decide which pack paid
    for a job). Anything else is read from the raw rows.
    """

    zone = models.CharField(max_length=64)
    day = models.DateField()
    generations_closed = models.BooleanField(default=False)
    packs_key = models.CharField(max_length=64, blank=True)
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["zone", "day"]
        constraints = [models.UniqueConstraint(fields=["zone", "day"], name="rollup_one_row_per_day")]

    def __str__(self) -> str:
        return f"{self.day} ({self.zone})"


class GenerationDay(models.Model):
    """Generations created on a rolled-up day, per kind, model, mode, duration, outcome and pack."""

    rollup = models.ForeignKey(RollupDay, on_delete=models.CASCADE, related_name="generations")
    kind = models.CharField(max_length=32)
    model_name = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, blank=True)
    duration = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16)
    error_code = models.CharField(max_length=40, blank=True)
    # Not a foreign key: deleting a pack must not delete history (the day is rebuilt instead).
    pack = models.BigIntegerField(null=True, blank=True)
    n = models.PositiveIntegerField()
    credits = models.BigIntegerField()
    units = models.DecimalField(max_digits=16, decimal_places=3)

    def __str__(self) -> str:
        return f"{self.model_name} {self.mode} {self.status}: {self.n}"


class LedgerDay(models.Model):
    """Ledger entries of a rolled-up day, per account and kind."""

    rollup = models.ForeignKey(RollupDay, on_delete=models.CASCADE, related_name="ledger")
    account = models.ForeignKey("billing.CreditAccount", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    total = models.BigIntegerField()  # signed, as the entries
    entries = models.PositiveIntegerField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "kind"], name="ledgerday_account_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.total}"
