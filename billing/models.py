"""Credits and payments.

Credits live in an append-only ledger: every change is one `LedgerEntry`, and
`CreditAccount.balance` caches the sum of the account's entries. Only
`billing.ledger` writes either of them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_noop

from billing.money import format_minor, per_hundred_credits


class CreditAccountQuerySet(models.QuerySet):
    def for_user(self, user) -> CreditAccount:
        """The user's account, created on first use (every user has exactly one)."""
        account, _ = self.get_or_create(user=user)
        return account


class CreditAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_account"
    )
    # Cache of SUM(entries.amount), moved only by billing.ledger in the same transaction as
    # the entry. It can go below zero only through a clawback (credits bought, spent, then
    # refunded or disputed at the bank); a negative balance blocks new charges.
    balance = models.BigIntegerField(default=0)
    is_frozen = models.BooleanField(
        default=False, help_text="Frozen accounts cannot spend credits (open dispute)."
    )
    frozen_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CreditAccountQuerySet.as_manager()

    class Meta:
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance} credits)"


class LedgerEntry(models.Model):
    """One movement of credits. Never updated, never deleted."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        PURCHASE = "purchase", "Purchase"
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        CLAWBACK = "clawback", "Clawback"
        ADJUSTMENT = "adjustment", "Adjustment"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(help_text="Signed: positive adds credits, negative takes them.")
    balance_after = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The UNIQUE key makes every retry safe: a redelivered task, webhook or double click
    # collapses to the entry that already exists. Examples: "gen:42:charge",
    # "gen:42:refund", "checkout:cs_test_...", "refund:re_..." (the clawback for a Stripe
    # refund; stored keys keep that form).
    idempotency_key = models.CharField(max_length=200, unique=True)
    generation = models.ForeignKey(
        "generations.Generation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    purchase = models.ForeignKey(
        "billing.Purchase", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    memo = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The staff member who made a manual grant or adjustment.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="ledger_account_history"),
            # The operator's figures read "entries in [start, end)" across all accounts, some
            # of one kind (billing.reports, economics.rollup): the time leads, the kind follows.
            models.Index(fields=["created_at", "kind"], name="ledger_created_kind"),
        ]
        verbose_name_plural = "ledger entries"
        # The last line of defence under billing.ledger: a bug there becomes an
        # IntegrityError instead of a wrong balance. The account row itself cannot carry
        # CHECK (balance >= 0) because a clawback may legitimately take it below zero, so
        # the rule lives here: only a clawback may debit an account into the negative.
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["grant", "purchase", "refund"], amount__gt=0)
                | models.Q(kind__in=["charge", "clawback"], amount__lt=0)
                | models.Q(kind="adjustment"),
                name="ledger_amount_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0) | models.Q(balance_after__gte=0) | models.Q(kind="clawback"),
                name="ledger_no_overdraft_but_clawback",
            ),
        ]
        permissions = [("grant_credits", "Can grant or deduct credits (staff adjustments)")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} ({self.idempotency_key})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Ledger entries are append-only: post a new entry instead of editing one")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only and cannot be deleted")


# The default packs' names and badges (migration 0004), translated when shown; a pack the
# staff name otherwise shows as they wrote it.
PACK_WORDS = (
    gettext_noop("Starter"),
    gettext_noop("Creator"),
    gettext_noop("Studio"),
    gettext_noop("Popular"),
    gettext_noop("Best value"),
)


# The ledger kinds' names (LedgerEntry.Kind), translated where a person reads them (the
# credits page); the choices themselves stay as they are, like the stored rows.
LEDGER_KIND_WORDS = (
    gettext_noop("Grant"),
    gettext_noop("Purchase"),
    gettext_noop("Charge"),
    gettext_noop("Refund"),
    gettext_noop("Clawback"),
    gettext_noop("Adjustment"),
)


class CreditPack(models.Model):
    name = models.CharField(max_length=80)
    credits = models.PositiveIntegerField()
    price_minor = models.PositiveIntegerField(help_text="Price in the currency's minor unit (cents).")
    currency = models.CharField(max_length=3, default="usd")
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)
    stripe_price_id = models.CharField(
        max_length=100, blank=True, help_text="Optional: a Price from your Stripe catalogue."
    )
    badge = models.CharField(max_length=40, blank=True, help_text='Optional label such as "Best value".')

    class Meta:
        ordering = ["order", "price_minor"]

    def __str__(self) -> str:
        return f"{self.name} ({self.credits} credits)"

    @property
    def price_display(self) -> str:
        return format_minor(self.price_minor, self.currency)

    @property
    def price_per_hundred_display(self) -> str:
        return format_minor(per_hundred_credits(self.price_minor, self.credits), self.currency)


class Purchase(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        DISPUTED = "disputed", "Disputed"
        # Stripe says complete, but not for the pack's price (another amount or currency,
        # or a 100% coupon): nothing is credited until staff approve it.
        REVIEW = "review", "Being reviewed"
        REJECTED = "rejected", "Not accepted"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases")
    pack = models.ForeignKey(
        CreditPack, null=True, blank=True, on_delete=models.SET_NULL, related_name="purchases"
    )
    # A snapshot of what was bought: later edits to the pack never change a purchase.
    pack_name = models.CharField(max_length=80)
    credits = models.PositiveIntegerField()
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    stripe_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    receipt_url = models.URLField(max_length=500, blank=True)
    amount_refunded_minor = models.PositiveIntegerField(default=0)
    # Checkout completed but the money has not arrived yet (a bank debit or transfer):
    # Stripe sends checkout.session.async_payment_succeeded or _failed later.
    payment_processing = models.BooleanField(default=False)
    stripe_dispute_id = models.CharField(max_length=255, blank=True, db_index=True)
    dispute_status = models.CharField(
        max_length=32, blank=True, help_text="Stripe's status of the latest dispute on this payment."
    )
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="purchase_user_history")]
        permissions = [("review_purchase", "Can approve or reject purchases held for review")]

    def __str__(self) -> str:
        return f"Purchase #{self.pk} {self.pack_name} ({self.get_status_display()})"

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_minor, self.currency)

    @property
    def amount_refunded_display(self) -> str:
        return format_minor(self.amount_refunded_minor, self.currency)

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def was_credited(self) -> bool:
        return self.paid_at is not None

    @property
    def chip_class(self) -> str:
        return {
            self.Status.PENDING: "chip-processing",
            self.Status.PAID: "chip-succeeded",
            self.Status.FAILED: "chip-failed",
            self.Status.EXPIRED: "chip-queued",
            self.Status.REFUNDED: "chip-queued",
            self.Status.PARTIALLY_REFUNDED: "chip-submitted",
            self.Status.DISPUTED: "chip-failed",
            self.Status.REVIEW: "chip-processing",
            self.Status.REJECTED: "chip-failed",
        }.get(self.status, "chip-queued")


class PurchaseLog(models.Model):
    """Append-only audit trail of what happened to a purchase and who or what did it."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="log")
    source = models.CharField(
        max_length=20, help_text="webhook, success_page, reconciler, admin, checkout or demo."
    )
    message = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The staff member, for manual actions.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} [{self.source}] {self.message}"


class StripeEvent(models.Model):
    """One row per Stripe event id: the webhook stores it, a task processes it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    # When a worker claimed it: a row left "processing" long after this was abandoned by a
    # crashed worker and may be claimed again.
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    @property
    def object_id(self) -> str:
        try:
            return str(self.payload["data"]["object"]["id"])
        except (KeyError, TypeError):
            return ""


class DemoCheckoutSession(models.Model):
    """Demo mode's stand-in for a Stripe Checkout Session (used only when STRIPE_DEMO).

    It stores what Stripe would store, in Stripe's terms, so `billing.stripe_api`
    can serve the same functions from it and the production fulfilment code runs
    unchanged. Nothing outside `billing.demo_backend` and `billing.demo_checkout` reads
    it.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETE = "complete", "Complete"
        EXPIRED = "expired", "Expired"

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid", "Unpaid"
        PAID = "paid", "Paid"

    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    payment_status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    amount_total = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=200)
    client_reference_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    customer_id = models.CharField(max_length=255, blank=True)
    customer_email = models.EmailField(blank=True)
    success_url = models.URLField(max_length=500)
    cancel_url = models.URLField(max_length=500)
    payment_intent_id = models.CharField(max_length=64, blank=True)
    charge_id = models.CharField(max_length=64, blank=True, db_index=True)
    card_declines = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} ({self.status}, {self.payment_status})"

    @property
    def amount_display(self) -> str:
        return format_minor(self.amount_total, self.currency)


class WelcomeGrant(models.Model):
    """A mailbox (by the digest of its normalised address) that has had welcome credits.

    Kept when the account goes, so deleting an account and signing up again with the
    same mailbox earns nothing twice.
    """

    mailbox = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the normalised address.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"welcome grant {self.mailbox[:12]}"
