"""The simulated Kling's custom elements (saved subjects), per Kling's Element Management
page (`/v1/general/advanced-custom-elements`, `/v1/general/delete-advanced-elements`).

Create answers with a task; the element exists once that task has succeeded (after the
simulator's queue + run time). With a `callback_url`, the task object is POSTed there when
its status changes (submitted, then succeed), as for every Kling task. Each key sees only
its own elements, and a create request may only name its own built ones in `element_list`.
Deleting keeps the row, marked `deleted`, as Kling reports it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction

from generations.simulator.engine import SimError, _bad, _callback_url, _string, new_task_id, roll
from generations.simulator.models import SimCallback, SimElement, SimFaults, now_ms

NAME_LIMIT = 20
DESCRIPTION_LIMIT = 100
REFERENCE_TYPES = ("image_refer", "video_refer")
# At least one frontal picture and 1 to 3 others, in Kling's words.
MIN_REFER_IMAGES, MAX_REFER_IMAGES = 1, 3
TAG_IDS = tuple(f"o_{n}" for n in range(101, 109))


def _picture(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{name} must be an image URL or Base64 string")
    if value.lstrip().lower().startswith("data:"):
        raise _bad(f"{name}: send raw Base64 without a data: prefix")
    # Keep URLs; stand in for Base64 so stored rows and list answers stay small.
    return value if value.startswith(("http://", "https://")) else f"base64:{len(value)}"


def _image_list(body: dict[str, Any]) -> dict[str, Any]:
    images = body.get("element_image_list")
    if not isinstance(images, dict):
        raise _bad("element_image_list is required for image_refer")
    refer = images.get("refer_images")
    if not isinstance(refer, list) or not MIN_REFER_IMAGES <= len(refer) <= MAX_REFER_IMAGES:
        raise _bad(
            f"element_image_list.refer_images must have {MIN_REFER_IMAGES} to {MAX_REFER_IMAGES} images"
        )
    return {
        "frontal_image": _picture(images.get("frontal_image"), "element_image_list.frontal_image"),
        "refer_images": [
            {"image_url": _picture(item.get("image_url") if isinstance(item, dict) else None, "refer_images")}
            for item in refer
        ],
    }


def _video_list(body: dict[str, Any]) -> dict[str, Any]:
    videos = body.get("element_video_list")
    refer = videos.get("refer_videos") if isinstance(videos, dict) else None
    if not isinstance(refer, list) or len(refer) != 1:
        raise _bad("element_video_list.refer_videos must have exactly one video")
    url = refer[0].get("video_url") if isinstance(refer[0], dict) else None
    if not isinstance(url, str) or not url:
        raise _bad("video_url must not be empty")
    return {"refer_videos": [{"video_url": url}]}


def _tags(body: dict[str, Any]) -> list[dict[str, str]]:
    tags = body.get("tag_list") or []
    if not isinstance(tags, list):
        raise _bad("tag_list must be a list")
    for tag in tags:
        if not isinstance(tag, dict) or tag.get("tag_id") not in TAG_IDS:
            raise _bad(f"tag_list[].tag_id must be one of {', '.join(TAG_IDS)}")
    return [{"tag_id": tag["tag_id"]} for tag in tags]


def create(body: Any, faults: SimFaults, owner: str) -> SimElement:
    """Validate a create body and store the element for `owner`."""
    if not isinstance(body, dict):
        raise SimError(400, 1200, "Invalid request parameters: the body must be an object")
    name = _string(body, "element_name").strip()
    description = _string(body, "element_description").strip()
    if not name or len(name) > NAME_LIMIT:
        raise _bad(f"element_name is required and must not exceed {NAME_LIMIT} characters")
    if not description or len(description) > DESCRIPTION_LIMIT:
        raise _bad(f"element_description is required and must not exceed {DESCRIPTION_LIMIT} characters")
    reference_type = _string(body, "reference_type")
    if reference_type not in REFERENCE_TYPES:
        raise _bad(f"reference_type must be one of {', '.join(REFERENCE_TYPES)}")
    images = _image_list(body) if reference_type == "image_refer" else {}
    videos = _video_list(body) if reference_type == "video_refer" else {}
    external = _string(body, "external_task_id")
    callback_url = _callback_url(body)
    with transaction.atomic():
        if external and SimElement.objects.filter(created_by=owner, external_task_id=external).exists():
            raise _bad("external_task_id must be unique within the account")
        now = now_ms()
        element = SimElement.objects.create(
            task_id=new_task_id(),
            element_id=10**11 + secrets.randbelow(9 * 10**11),
            created_by=owner,
            external_task_id=external,
            callback_url=callback_url,
            element_name=name,
            element_description=description,
            reference_type=reference_type,
            image_list=images,
            video_list=videos,
            tag_list=_tags(body),
            created_ms=now,
            finish_ms=now + faults.queue_ms + faults.run_ms,
        )
        if callback_url:
            _schedule_callbacks(element, faults)
    return element


def _schedule_callbacks(element: SimElement, faults: SimFaults) -> None:
    """One callback per status change (an element's build has no `processing` step and
    never fails here), with the lost and duplicate knobs of task callbacks."""
    planned = []
    for status, due in (("submitted", element.created_ms), ("succeed", element.finish_ms)):
        if roll(faults.rate_callback_lost):
            continue
        planned.append(SimCallback(element=element, status=status, due_ms=due))
        if roll(faults.rate_callback_duplicate):
            planned.append(SimCallback(element=element, status=status, due_ms=due + 300))
    SimCallback.objects.bulk_create(planned)


def check_element_list(body: Any, owner: str) -> None:
    """A create request's `element_list`: every id one of `owner`'s own custom elements,
    built and not deleted. Kling answers 1201 for any other (someone else's included)."""
    items = body.get("element_list") if isinstance(body, dict) else None
    if items in (None, []):
        return
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _bad('element_list must be a list of {"element_id": ...} objects')
    wanted = []
    for position, item in enumerate(items):
        value = item.get("element_id")
        text = "" if isinstance(value, bool) or value is None else str(value).strip()
        if not text.isdigit():
            raise _bad(f"element_list[{position}].element_id must be an element id")
        wanted.append(int(text))
    usable = set(
        SimElement.objects.filter(
            created_by=owner, element_id__in=wanted, deleted_ms__isnull=True, finish_ms__lte=now_ms()
        ).values_list("element_id", flat=True)
    )
    for element_id in wanted:
        if element_id not in usable:
            raise _bad(f"element_id {element_id} not found")


def find(reference: str, owner: str) -> SimElement | None:
    """By task id or by our external_task_id, like every Kling query."""
    mine = SimElement.objects.filter(created_by=owner)
    return mine.filter(task_id=reference).first() or mine.filter(external_task_id=reference).first()


def page(owner: str, number: int, size: int) -> list[SimElement]:
    start = (number - 1) * size
    return list(SimElement.objects.filter(created_by=owner)[start : start + size])


def delete(body: Any, owner: str) -> dict[str, Any]:
    element_id = body.get("element_id") if isinstance(body, dict) else None
    if not isinstance(element_id, str) or not element_id.strip().isdigit():
        raise _bad("element_id must be the element's id, as a string")
    # Only custom elements can be deleted, and only by the account that made them.
    updated = SimElement.objects.filter(
        created_by=owner, element_id=int(element_id), deleted_ms__isnull=True
    ).update(deleted_ms=now_ms())
    if not updated:
        raise SimError(400, 1201, f"custom element {element_id} not found")
    return {"task_id": new_task_id(), "task_status": "succeed"}


def created_object(element: SimElement) -> dict[str, Any]:
    return {
        "task_id": element.task_id,
        "task_info": {"external_task_id": element.external_task_id} if element.external_task_id else {},
        "task_status": "submitted",
        "created_at": element.created_ms,
        "updated_at": element.created_ms,
    }
