"""Saved subjects: create one as a Kling custom element, follow its build, use it by id on
the create pages, delete it. Views, the API and admin call these and nothing else.

Kling's contract (Element Management, `/v1/general/advanced-custom-elements`): a name of at
most 20 characters, a description of at most 100, `reference_type: image_refer` with one
frontal picture and 1 to 3 more, and tags from a fixed list. Creating is a task: the element
id arrives with the task's success, so a new subject is "being prepared" until then.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.models import Kind
from generations.providers import get_provider
from generations.providers.base import ProviderError, TaskStatus
from generations.providers.kling import supports_elements
from subjects.models import Subject, SubjectImage

logger = logging.getLogger(__name__)

MIN_PICTURES, MAX_PICTURES = 2, 4
NAME_LIMIT, DESCRIPTION_LIMIT = 20, 100
# Kling's tag ids for element kinds.
TAGS = {
    Subject.Kind.CHARACTER: "o_102",
    Subject.Kind.PET: "o_103",
    Subject.Kind.PRODUCT: "o_104",
    Subject.Kind.COSTUME: "o_105",
    Subject.Kind.SCENE: "o_106",
    Subject.Kind.OTHER: "o_108",
}
# How many saved subjects a request may carry, per kind (Kling's limits; omni image counts
# them with its reference pictures, checked with those in capabilities). Text to image
# states no number: the video models' three is used.
LIMITS = {Kind.TEXT2IMAGE: 3, Kind.OMNI_IMAGE: 10, Kind.OMNI_VIDEO: 7, Kind.MOTION_CONTROL: 1}
# Kinds whose subjects only some models take.
MODELS = {Kind.TEXT2IMAGE: {"kling-v3"}, Kind.MOTION_CONTROL: {"kling-v3"}}
REFRESH_AT_ONCE = 10


def available() -> bool:
    """Whether the configured provider keeps custom elements."""
    return supports_elements(get_provider())


def subject_limit(kind: str, model_name: str) -> int:
    """How many subjects `kind` with `model_name` takes (0: none)."""
    if kind in MODELS and model_name not in MODELS[kind]:
        return 0
    return LIMITS.get(kind, 0)


def _encoded(image: SubjectImage) -> str:
    with image.file.open("rb") as handle:
        return base64.b64encode(handle.read()).decode("ascii")


def element_body(subject: Subject) -> dict[str, Any]:
    """The create body in Kling's field names; pictures as raw Base64."""
    images = list(subject.images.all())
    return {
        "element_name": subject.name,
        "element_description": subject.description,
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": _encoded(images[0]),
            "refer_images": [{"image_url": _encoded(image)} for image in images[1:]],
        },
        "tag_list": [{"tag_id": TAGS[subject.kind]}],
        "external_task_id": f"subject-{subject.pk}",
    }


def check_new_subject(name: str, description: str, kind: str, pictures: Sequence) -> None:
    """Refuse what Kling would refuse, before anything is stored or sent."""
    errors: dict[str, str] = {}
    if not name.strip() or len(name.strip()) > NAME_LIMIT:
        errors["name"] = _("Give a name of 1 to %(most)s characters.") % {"most": NAME_LIMIT}
    if len(description) > DESCRIPTION_LIMIT:
        errors["description"] = _("Keep the description to %(most)s characters.") % {
            "most": DESCRIPTION_LIMIT
        }
    if kind not in TAGS:
        errors["kind"] = _("Choose what the subject is.")
    if not MIN_PICTURES <= len(pictures) <= MAX_PICTURES:
        errors["pictures"] = _(
            "Give %(least)s to %(most)s pictures: one from the front, then other angles or details."
        ) % {"least": MIN_PICTURES, "most": MAX_PICTURES}
    if errors:
        raise ValidationError(errors)


def create_subject(owner, *, name: str, description: str, kind: str, pictures: Sequence) -> Subject:
    """Store the subject and its pictures (already checked as uploads), then ask Kling to
    make the element. A refusal leaves a failed subject with Kling's reason."""
    name, description = name.strip(), description.strip()
    check_new_subject(name, description, kind, pictures)
    with transaction.atomic():
        subject = Subject.objects.create(owner=owner, name=name, description=description or name, kind=kind)
        for position, upload in enumerate(pictures):
            SubjectImage.objects.create(
                subject=subject,
                position=position,
                file=upload,
                content_type=getattr(upload, "content_type", "") or "image/png",
            )
    try:
        task = get_provider().create_element(element_body(subject))
    except ProviderError as error:
        logger.warning("subject %s: element create refused: %s", subject.pk, error.detail)
        Subject.objects.filter(pk=subject.pk).update(
            status=Subject.Status.FAILED, error=error.user_message[:300]
        )
    else:
        Subject.objects.filter(pk=subject.pk).update(task_id=task.task_id)
    subject.refresh_from_db()
    return subject


def refresh_subject(subject: Subject) -> Subject:
    """Ask Kling how the element's build went; a ready or failed subject stays as it is."""
    if subject.status != Subject.Status.PENDING or not subject.task_id:
        return subject
    task = get_provider().get_element(subject.task_id)
    if task.status == TaskStatus.SUCCEEDED and task.element_id:
        fields = {"status": Subject.Status.READY, "element_id": task.element_id}
    elif task.status == TaskStatus.FAILED:
        fields = {
            "status": Subject.Status.FAILED,
            "error": (task.message or _("Kling could not use these pictures."))[:300],
        }
    else:
        return subject
    # Compare-and-set: two pages refreshing at once write the same answer once.
    Subject.objects.filter(pk=subject.pk, status=Subject.Status.PENDING).update(**fields)
    subject.refresh_from_db()
    return subject


def refresh_pending(owner) -> None:
    """Bring `owner`'s subjects still being prepared up to date (a few per page view)."""
    for subject in (
        Subject.objects.owned_by(owner)
        .filter(status=Subject.Status.PENDING)
        .exclude(task_id="")[:REFRESH_AT_ONCE]
    ):
        try:
            refresh_subject(subject)
        except ProviderError as error:
            logger.info("subject %s: status not read: %s", subject.pk, error.detail)


def delete_subject(owner, subject_id: int) -> bool:
    """Hide the subject and delete Kling's element. Past generations are untouched: they sent
    the element id at the time and keep their own inputs and results."""
    updated = Subject.objects.owned_by(owner).filter(pk=subject_id).update(deleted_at=timezone.now())
    if not updated:
        return False
    subject = Subject.objects.get(pk=subject_id)
    if subject.element_id:
        try:
            get_provider().delete_element(subject.element_id)
        except ProviderError as error:
            # The subject is gone for its owner either way; an element left at Kling is harmless.
            logger.warning(
                "subject %s: element %s not deleted: %s", subject.pk, subject.element_id, error.detail
            )
    return True


def usable_subjects(owner):
    """`owner`'s subjects that can be picked on a create page, newest first."""
    return Subject.objects.owned_by(owner).ready()


def element_ids(owner, subject_ids: Iterable[int]) -> list[str]:
    """The element ids of `owner`'s ready subjects among `subject_ids`, in the given order;
    raises ValidationError naming any that is not usable (someone else's, deleted, not ready)."""
    wanted = list(dict.fromkeys(int(pk) for pk in subject_ids))
    found = dict(usable_subjects(owner).filter(pk__in=wanted).values_list("pk", "element_id"))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ValidationError(_("That subject is not available; choose one of yours that is ready."))
    return [found[pk] for pk in wanted]
