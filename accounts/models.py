from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.crypto import KeyGenerator
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person with an account. The email address is the login; there is no username."""

    username = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    notify_on_finish = models.BooleanField(
        "email me when a long generation finishes",
        default=True,
        help_text="Sent when a generation that took over a minute succeeds or fails.",
    )
    # The site's and the emails' language once the person picks one in the footer or on
    # the profile; empty means "as the browser asks".
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES, default=""
    )
    # Set once by accounts.erasure: the row stays (ledger entries and purchases point at
    # it) but holds nothing personal any more.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@")[0]


class PersonalAPIKeyManager(BaseAPIKeyManager):
    # 40 random characters after the 8 of the prefix: about 238 bits, so the fast unsalted
    # SHA-512 the library stores is safe (a key is not a password a person chose).
    key_generator = KeyGenerator(prefix_length=8, secret_key_length=40)

    def get_usable_keys(self) -> models.QuerySet:
        # The owner and their credit account come with the key: one query authenticates a
        # request and tells whether the account may still use the API.
        return self.filter(revoked=False).select_related("user", "user__credit_account")


class PersonalAPIKey(AbstractAPIKey):
    """A person's key for the REST API. Only a hash is stored (djangorestframework-api-key);
    the full key, `ks_live_<prefix>.<secret>`, is shown once, when it is created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    # Written at most once a minute per key (accounts.api_keys.touch), not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        abstract = False
        verbose_name = "personal API key"
        verbose_name_plural = "personal API keys"
        indexes = [models.Index(fields=["user", "-created"], name="apikey_user_recent")]
