"""A saved subject: a character, product or pet kept as one of Kling's custom elements, so
its pictures are sent once and the subject is picked by id on every create page after."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SubjectQuerySet(models.QuerySet):
    def owned_by(self, user) -> SubjectQuerySet:
        return self.filter(owner=user, deleted_at__isnull=True)

    def ready(self) -> SubjectQuerySet:
        return self.filter(status=Subject.Status.READY).exclude(element_id="")


class Subject(models.Model):
    class Kind(models.TextChoices):
        CHARACTER = "character", _("Character")
        PRODUCT = "product", _("Product")
        PET = "pet", _("Pet or animal")
        COSTUME = "costume", _("Costume")
        SCENE = "scene", _("Scene")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subjects")
    name = models.CharField(max_length=20)
    description = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHARACTER)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Kling's element-creation task, then the element it made (what `element_list` takes).
    task_id = models.CharField(max_length=64, blank=True)
    element_id = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Deleting hides the subject and removes Kling's element; past generations keep their
    # own copy of what they were made from, so nothing points here.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = SubjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "status"], name="subject_owner_status")]

    def __str__(self) -> str:
        return self.name


def subject_upload_to(instance: SubjectImage, filename: str) -> str:
    return f"subjects/{instance.subject.owner_id}/{instance.subject_id}/{instance.position}-{filename}"


class SubjectImage(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="images")
    # 0 is the frontal picture; the others show other angles or details.
    position = models.PositiveSmallIntegerField()
    file = models.FileField(upload_to=subject_upload_to, max_length=300)
    content_type = models.CharField(max_length=32, default="image/png")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "position"], name="subject_image_position"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} #{self.position}"
