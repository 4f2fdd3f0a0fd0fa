"""The business rules of generations: create (validate, price, charge), the one state
transition, failure and refund, delete, remix, and time estimates.

Money: a generation is charged when it is created and refunded when it reaches `failed`,
both through `billing.ledger` with the keys `gen:<id>:charge` and `gen:<id>:refund`. The
refund happens inside the same transaction as the compare-and-set that moves the row to
`failed`, and only the caller whose UPDATE matched gets there, so it happens exactly once.
A series Kling sizes itself is charged for its most pictures, and those it did not make are
given back the same way on reaching `succeeded` (key `gen:<id>:unmade`).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing import ledger
from generations import capabilities, effects, fair_queue, limiter, pricing, queue, uploads
from generations.models import (
    TERMINAL_STATUSES,
    UNFINISHED_STATUSES,
    Asset,
    FaceSession,
    Generation,
    InputFile,
    Kind,
    Status,
    WaitReason,
)
from kling_site import stored_text
from kling_site.cache_errors import CACHE_ERRORS

logger = logging.getLogger(__name__)

# Typical Kling run times in seconds (ComfyUI's averages, docs/kling.md section 8), used until
# a model and mode have finished generations of their own to learn from.
TYPICAL_SECONDS = {
    Kind.TEXT2IMAGE: 32,
    Kind.TEXT2VIDEO: 319,
    Kind.IMAGE2VIDEO: 164,
    Kind.MOTION_CONTROL: 319,
    Kind.MULTI_IMAGE2VIDEO: 319,
    Kind.VIDEO_EXTEND: 320,
    # Not published: our guess until the site has its own history.
    Kind.TEXT2AUDIO: 60,
    Kind.VIDEO2AUDIO: 90,
    # Kling's change log: avatar went from about an hour to ten minutes and more.
    Kind.AVATAR: 600,
    Kind.OMNI_VIDEO: 319,
    Kind.MULTI_IMAGE2IMAGE: 32,
    Kind.OMNI_IMAGE: 32,
    Kind.VIRTUAL_TRY_ON: 32,
    Kind.EXPAND_IMAGE: 32,
    # Not published: like a short image to video.
    Kind.VIDEO_EFFECTS: 319,
    Kind.LIP_SYNC: 455,
}
# The estimates come from the last ESTIMATE_SAMPLE successes of each model and mode within
# ESTIMATE_WINDOW, recomputed every ESTIMATE_REFRESH_MINUTES by a schedule. They stay in
# the cache a few refreshes long, so a paused or stuck schedule falls back to the table above.
ESTIMATE_SAMPLE = 20
ESTIMATE_WINDOW = timedelta(days=7)
ESTIMATE_REFRESH_MINUTES = 5
ESTIMATE_CACHE_SECONDS = 6 * ESTIMATE_REFRESH_MINUTES * 60


# --- create -----------------------------------------------------------------------------


def request_values(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned form data in the shape capabilities.validate() and pricing.quote() read."""
    values = {
        key: data.get(key)
        for key in (
            "model_name",
            "prompt",
            "negative_prompt",
            "mode",
            "duration",
            "aspect_ratio",
            "cfg_scale",
            "camera_control",
            "n",
            "resolution",
            "image_reference",
            "image_fidelity",
            "human_fidelity",
        )
    }
    values["sound"] = bool(data.get("sound"))
    values["image"] = bool(data.get("image") or data.get("image_url") or data.get("image_from"))
    values["image_tail"] = bool(data.get("image_tail"))
    if kind == Kind.TEXT2IMAGE:
        values["element_list"] = len(data.get("element_list") or [])
        values["n"] = data.get("n") or 1
        values["resolution"] = data.get("resolution") or "1k"
    if kind == Kind.MOTION_CONTROL:
        video = data.get("video_url")
        source = data.get("source_asset")  # one of the person's own finished videos
        info = getattr(video, "media_info", None)
        seconds = info.duration if info is not None else (source.duration if source is not None else None)
        values.update(
            character_orientation=data.get("character_orientation") or "",
            keep_original_sound=data.get("keep_original_sound") or "yes",
            video=bool(video or source),
            video_seconds=seconds,
        )
    if kind == Kind.AVATAR:
        sound = data.get("sound_file")
        info = getattr(sound, "media_info", None)
        values.update(sound_file=bool(sound), video_seconds=info.duration if info is not None else None)
    if kind in capabilities.PER_SECOND_KINDS:
        # The output is as long as its input (the reference video, the sound): billed by
        # that input's whole seconds.
        values["output_seconds"] = values["video_seconds"]
        values["duration"] = pricing.billed_seconds(values["output_seconds"]) or None
    if kind in (Kind.MULTI_IMAGE2VIDEO, Kind.OMNI_VIDEO, Kind.OMNI_IMAGE):
        values["image_list"] = len(data.get("image_list") or [])
    if kind in (Kind.OMNI_VIDEO, Kind.MOTION_CONTROL):
        values["element_list"] = len(data.get("element_list") or [])
    if kind == Kind.VIDEO_EFFECTS:
        # The scene, not a model, says what Kling runs; a two-person scene may name one.
        values.update(
            model_name=capabilities.KLING_EFFECTS.name,
            effect_scene=data.get("effect_scene") or "",
            effect_model=data.get("effect_model") or "",
            mode=data.get("mode") or "",
            prompt=values["prompt"] or "",
        )
    if kind == Kind.EXPAND_IMAGE:
        values["model_name"] = capabilities.KLING_EXPAND.name
        values["n"] = data.get("n") or 1
        for side in capabilities.EXPANSION_SIDES:
            values[f"{side}_expansion_ratio"] = data.get(f"{side}_expansion_ratio")
    if kind == Kind.VIRTUAL_TRY_ON:
        values.update(
            n=1,
            human_image=bool(data.get("human_image")),
            cloth_image=bool(data.get("cloth_image")),
            garment_type=data.get("garment_type") or "",
        )
    if kind == Kind.OMNI_IMAGE:
        series = data.get("result_type") == "series"
        values.update(
            result_type=data.get("result_type") or "single",
            series_amount=data.get("series_amount"),
            resolution=data.get("resolution") or "1k",
            requested_n=data.get("n") or 1,
            element_list=len(data.get("element_list") or []),
            # A series is charged, and takes Kling's slots, per picture.
            n=capabilities.series_pictures_charged(data.get("model_name") or "", data.get("series_amount"))
            if series
            else data.get("n") or 1,
        )
    if kind == Kind.MULTI_IMAGE2IMAGE:
        values["n"] = data.get("n") or 1
        values["subject_image_list"] = len(data.get("subject_image_list") or [])
        values["scene_image"] = bool(data.get("scene_image"))
        values["style_image"] = bool(data.get("style_image"))
    if kind == Kind.OMNI_VIDEO:
        values["multi_shot"] = bool(data.get("multi_shot"))
        values["multi_prompt"] = data.get("multi_prompt") or []
        values.update(omni_video_values(data))
    if kind in (Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO):
        # Kling's audio products take no model: one entry of the table stands for them.
        values["model_name"] = data.get("model_name") or capabilities.KLING_AUDIO.name
        values["mode"] = ""
    if kind == Kind.VIDEO2AUDIO:
        video = data.get("video_url")
        source = data.get("source_asset")
        info = getattr(video, "media_info", None)
        values.update(
            video=bool(video),
            video_id=data.get("video_id") or "",
            sound_effect_prompt=data.get("sound_effect_prompt") or "",
            bgm_prompt=data.get("bgm_prompt") or "",
            video_seconds=info.duration
            if info is not None
            else (source.duration if source is not None else None),
        )
    if kind == Kind.LIP_SYNC:
        values.update(lip_sync_values(data))
    if kind == Kind.VIDEO_EXTEND:
        values["video_id"] = data.get("video_id") or ""
        source = data.get("source_asset")
        if source is not None:
            # Kling extends with the source's own model and mode.
            values["model_name"] = source.generation.model_name
            values["mode"] = source.generation.mode
            values["duration"] = capabilities.EXTEND_ADDS_SECONDS
    return values


def omni_video_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Omni video's reference video, uploaded (`video_url`, measured by ffmpeg) or one of
    the person's own finished videos (`source_asset`): how Kling uses it and how long it
    is. A base video is edited as it is, so the clip lasts as long as the video and is
    billed by its whole seconds."""
    upload = data.get("video_url")
    source = data.get("source_asset")
    if not upload and source is None:
        return {"video": False}
    info = getattr(upload, "media_info", None)
    seconds = info.duration if info is not None else (source.duration if source is not None else None)
    refer_type = data.get("refer_type") or "feature"
    values = {
        "video": True,
        "video_upload": bool(upload),
        "video_seconds": seconds,
        "refer_type": refer_type,
        "keep_original_sound": data.get("keep_original_sound") or "yes",
    }
    if refer_type == "base":
        values["duration"] = pricing.billed_seconds(seconds) or None
    return values


def lip_sync_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Lip-sync's checked values: the chosen face of the person's face session
    (`face_session`), the sound (an upload measured by ffmpeg, or one of their sound
    results: `sound_asset`), the times in ms and the volumes. Priced by the video's length
    in Kling's 5 s blocks."""
    session: FaceSession | None = data.get("face_session")
    face = session.face(data.get("face_id") or "") if session is not None else None
    sound = data.get("sound_file")
    info = getattr(sound, "media_info", None)
    asset = data.get("sound_asset")
    sound_seconds = info.duration if info is not None else (asset.duration if asset is not None else None)
    video_seconds = session.video_seconds if session is not None else None
    block = capabilities.LIP_SYNC_BLOCK_SECONDS
    return {
        "model_name": capabilities.KLING_LIP_SYNC.name,
        "mode": "",
        "session_id": session.session_id if session is not None else "",
        "face_id": face["face_id"] if face else "",
        "face_start_ms": face["start_time"] if face else 0,
        "face_end_ms": face["end_time"] if face else 0,
        "video_seconds": video_seconds,
        "video_ms": round(video_seconds * 1000) if video_seconds is not None else None,
        "duration": -(-int(pricing.billed_seconds(video_seconds)) // block) * block or None,
        "sound": bool(sound or asset),
        "sound_seconds": sound_seconds,
        "sound_ms": round(sound_seconds * 1000) if sound_seconds is not None else None,
        **{
            name: data.get(name)
            for name in (
                "sound_start_time",
                "sound_end_time",
                "sound_insert_time",
                "sound_volume",
                "original_audio_volume",
            )
        },
    }


# Each identify-face costs Kling units whether or not a lip-sync follows: a person may
# look for faces this many times an hour.
FACE_SESSIONS_PER_HOUR = 20


def face_session(user, session_id: str) -> FaceSession:
    """`user`'s own face session (Kling keeps it 24 hours); ValidationError on `session_id`
    otherwise."""
    session = (
        FaceSession.objects.filter(owner=user, session_id=(session_id or "").strip()).first()
        if session_id
        else None
    )
    if session is None:
        raise ValidationError({"session_id": [_("Find the faces in one of your videos first.")]})
    if timezone.now() >= session.expires_at:
        raise ValidationError(
            {"session_id": [_("Kling keeps found faces for 24 hours; these have expired. Find them again.")]}
        )
    return session


def own_sound(user, asset_id: Any) -> Asset:
    """One of `user`'s own finished sounds (a text-to-audio result) as lip-sync's sound."""
    try:
        pk = int(asset_id)
    except (TypeError, ValueError):
        pk = 0
    asset = (
        Asset.objects.select_related("generation")
        .filter(
            pk=pk,
            kind=Asset.Kind.AUDIO,
            generation__owner=user,
            generation__deleted_at__isnull=True,
            generation__status=Status.SUCCEEDED,
        )
        .first()
    )
    if asset is None:
        raise ValidationError({"sound_from": [_("Choose one of your own finished sounds.")]})
    return asset


def lip_sync_videos(user, limit: int = 50) -> list[Asset]:
    """`user`'s finished videos Kling may still read by id (30 days), newest first."""
    since = timezone.now() - timedelta(days=capabilities.EXTEND_SOURCE_DAYS)
    return list(
        Asset.objects.select_related("generation")
        .filter(
            kind=Asset.Kind.VIDEO,
            generation__owner=user,
            generation__deleted_at__isnull=True,
            generation__status=Status.SUCCEEDED,
            generation__created_at__gte=since,
        )
        .exclude(video_id="")
        .order_by("-generation__created_at")[:limit]
    )


def lip_sync_sounds(user, limit: int = 50) -> list[Asset]:
    """`user`'s finished sounds of a length lip-sync takes, newest first."""
    limits = capabilities.LIP_SYNC_SOUND_LIMITS
    return list(
        Asset.objects.select_related("generation")
        .filter(
            kind=Asset.Kind.AUDIO,
            generation__owner=user,
            generation__deleted_at__isnull=True,
            generation__status=Status.SUCCEEDED,
            duration__gte=limits.min_seconds,
            duration__lte=limits.max_seconds,
        )
        .order_by("-generation__created_at")[:limit]
    )


def identify_faces(user, *, video_id: str = "", upload=None) -> FaceSession:
    """Ask Kling for the faces in one of `user`'s own videos (by Kling id) or an uploaded
    one (checked first, then fetched by Kling at a signed URL), and keep the answer.
    Raises ValidationError (on `video_id` or `video_url`) with the reason."""
    from generations import inputs, providers
    from generations.providers.base import ProviderError

    since = timezone.now() - timedelta(hours=1)
    if FaceSession.objects.filter(owner=user, created_at__gte=since).count() >= FACE_SESSIONS_PER_HOUR:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _("You can look for faces %(count)d times an hour; try again later.")
                    % {"count": FACE_SESSIONS_PER_HOUR}
                ]
            }
        )
    provider = providers.get_provider()
    if not providers.offers(capabilities.product_for(Kind.LIP_SYNC)) or not hasattr(
        provider, "identify_face"
    ):
        raise ValidationError({NON_FIELD_ERRORS: [_("Lip-sync is not offered at the moment.")]})
    limits = capabilities.FACE_VIDEO_LIMITS
    if video_id:
        asset = own_video(user, video_id, use="lip-syncs")
        if asset.duration and asset.duration > limits.max_seconds:
            raise _refuse_source(
                _("This video is %(seconds)d s long; Kling finds faces in videos of up to %(most)s s.")
                % {"seconds": round(asset.duration), "most": f"{limits.max_seconds:g}"}
            )
        session = FaceSession(owner=user, video_id=asset.video_id, video_seconds=asset.duration or 0)
        field, ask = "video_id", {"video_id": asset.video_id}
    elif upload is not None:
        try:
            info = getattr(upload, "media_info", None) or uploads.check_video(upload, limits)
        except ValidationError as exc:
            raise ValidationError({"video_url": exc.messages}) from None
        session = FaceSession(
            owner=user,
            video_seconds=info.duration or 0,
            video_content_type=info.content_type or "video/mp4",
        )
        session.session_id = f"pending-{timezone.now().timestamp()}"
        session.video.save(_upload_name(upload), upload, save=False)
        session.save()
        field, ask = "video_url", {"video_url": inputs.signed_face_video_url(session)}
    else:
        raise ValidationError({"video_url": [_("Upload a video, or choose one of your own.")]})
    try:
        scan = provider.identify_face(**ask)
    except ProviderError as error:
        if session.pk:
            session.video.delete(save=False)
            session.delete()
        logger.warning("identify-face for user %s failed: %s", user.pk, error)
        raise ValidationError({field: [error.user_message]}) from None
    if not scan.faces:
        if session.pk:
            session.video.delete(save=False)
            session.delete()
        raise ValidationError({field: [_("Kling found no face to lip-sync in this video.")]})
    session.session_id, session.faces, session.units = scan.session_id, scan.faces, scan.units
    session.save()
    return session


def measure_inputs(kind: str, data: dict[str, Any]) -> None:
    """Measure uploads a price depends on, when no form did it already (API callers):
    raises ValidationError for the field, before anything is charged."""
    sound = data.get("sound_file")
    if (
        kind == Kind.AVATAR
        and sound
        and not isinstance(sound, str)
        and getattr(sound, "media_info", None) is None
    ):
        try:
            sound.media_info = uploads.check_audio(sound, capabilities.AVATAR_SOUND_LIMITS)
        except ValidationError as exc:
            raise ValidationError({"sound_file": exc.messages}) from None
    limits = {
        Kind.MOTION_CONTROL: capabilities.MOTION_UPLOAD_LIMITS,
        Kind.VIDEO2AUDIO: capabilities.VIDEO_TO_AUDIO_LIMITS,
        Kind.OMNI_VIDEO: capabilities.OMNI_VIDEO_LIMITS,
    }.get(kind)
    video = data.get("video_url")
    if limits and video and not isinstance(video, str) and getattr(video, "media_info", None) is None:
        try:
            video.media_info = uploads.check_video(video, limits)
        except ValidationError as exc:
            raise ValidationError({"video_url": exc.messages}) from None


def own_video(user, video_id: str, *, use: str = "reuses") -> Asset:
    """The finished video of `user`'s own that `video_id` (Kling's id) names, while Kling
    still knows it (30 days); otherwise ValidationError on `video_id` saying why."""
    video_id = (video_id or "").strip()
    asset = (
        Asset.objects.select_related("generation")
        .filter(
            video_id=video_id,
            kind=Asset.Kind.VIDEO,
            generation__owner=user,
            generation__deleted_at__isnull=True,
            generation__status=Status.SUCCEEDED,
        )
        .first()
        if video_id
        else None
    )
    if asset is None:
        raise _refuse_source(_("Choose one of your own finished videos."))
    made = asset.generation.finished_at or asset.generation.created_at
    if timezone.now() - made > timedelta(days=capabilities.EXTEND_SOURCE_DAYS):
        template = {
            "extends": _(
                "Kling extends videos for %(days)d days after they are made; this one is from %(date)s."
            ),
            "lip-syncs": _(
                "Kling lip-syncs videos for %(days)d days after they are made; this one is from %(date)s."
            ),
        }.get(use) or _(
            "Kling reuses videos for %(days)d days after they are made; this one is from %(date)s."
        )
        raise _refuse_source(
            template % {"days": capabilities.EXTEND_SOURCE_DAYS, "date": date_format(made, "DATE_FORMAT")}
        )
    return asset


def _refuse_source(message: str) -> ValidationError:
    return ValidationError({"video_id": [message]}, code="video_source")


def extend_source(user, video_id: str) -> Asset:
    """The finished video of `user`'s own that `video_id` (Kling's id) names, if Kling can
    still extend it; otherwise ValidationError on `video_id` saying why, before any charge.

    Kling extends its own videos of the last 30 days (models 1.0 to 1.6), by about 5 s a
    call, up to 3 minutes in all (docs/kling.md section 3.4)."""
    asset = own_video(user, video_id, use="extends")
    source = asset.generation
    if capabilities.get(Kind.VIDEO_EXTEND, source.model_name) is None:
        models = ", ".join(m.label for m in capabilities.models_for(Kind.VIDEO_EXTEND))
        raise _refuse_source(
            _("Kling extends videos made with %(models)s only; this one was made with %(model)s.")
            % {"models": models, "model": source.model_name}
        )
    length = asset.duration or float(source.duration or 0)
    limit = capabilities.EXTEND_MAX_TOTAL_SECONDS
    if length + capabilities.EXTEND_ADDS_SECONDS > limit:
        raise _refuse_source(
            _(
                "This video is already %(seconds)d s long; Kling extends videos up to %(minutes)d minutes in all."
            )
            % {"seconds": round(length), "minutes": limit // 60}
        )
    return asset


def build_params(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The Kling request body in its own field names, without uploaded images (the submit
    task adds those as Base64) and without callback_url / external_task_id."""
    params = _params_without_subjects(kind, data)
    if data.get("element_list"):
        # Saved subjects go by their Kling element id, in the order picked (<<<element_1>>> first).
        params["element_list"] = [{"element_id": element_id} for element_id in data["element_list"]]
    return params


def _params_without_subjects(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if kind in _KIND_PARAMS:
        return {k: v for k, v in _KIND_PARAMS[kind](data).items() if v not in (None, "")}
    model = capabilities.get(kind, data["model_name"])
    params: dict[str, Any] = {"model_name": model.name, "prompt": data["prompt"]}
    if data.get("negative_prompt"):
        params["negative_prompt"] = data["negative_prompt"]
    if isinstance(model, capabilities.VideoModel):
        if model.modes:
            params["mode"] = data["mode"]
        params["duration"] = str(data["duration"])
        if kind == Kind.TEXT2VIDEO:
            params["aspect_ratio"] = data["aspect_ratio"]
        if model.cfg_scale and data.get("cfg_scale") is not None:
            params["cfg_scale"] = float(data["cfg_scale"])
        if model.sound is not None:
            params["sound"] = "on" if data.get("sound") else "off"
        if data.get("camera_control"):
            params["camera_control"] = data["camera_control"]
        if data.get("image_url"):
            params["image"] = data["image_url"]
    else:
        params["n"] = data.get("n") or 1
        params["aspect_ratio"] = data["aspect_ratio"]
        params["resolution"] = data.get("resolution") or "1k"
        if data.get("image") or data.get("image_from"):
            if data.get("image_reference"):
                params["image_reference"] = data["image_reference"]
            if data.get("image_fidelity") is not None:
                params["image_fidelity"] = float(data["image_fidelity"])
            if data.get("image_reference") == "subject" and data.get("human_fidelity") is not None:
                params["human_fidelity"] = float(data["human_fidelity"])
    return params


def _motion_control_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `image_url` and `video_url` are added at submit, as signed URLs (follow.input_params).
    return {
        "model_name": data["model_name"],
        "prompt": data.get("prompt") or "",
        "mode": data["mode"],
        "character_orientation": data["character_orientation"],
        "keep_original_sound": data.get("keep_original_sound") or "yes",
    }


def _multi_image_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `image_list` is added at submit, from the stored pictures.
    return {
        "model_name": data["model_name"],
        "prompt": data["prompt"],
        "negative_prompt": data.get("negative_prompt") or "",
        "mode": data["mode"],
        "duration": str(data["duration"]),
        "aspect_ratio": data["aspect_ratio"],
    }


def _omni_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `image_list` is added at submit, from the stored pictures (as `image_url` items); the
    # reference video's `video_url` too, as a signed URL the client puts in `video_list`.
    params: dict[str, Any] = {
        "model_name": data["model_name"],
        "prompt": data.get("prompt") or "",
        "mode": data["mode"],
    }
    refer_type = data.get("refer_type") or "feature"
    if data.get("video_url") or data.get("source_asset") is not None:
        params["video_list"] = [
            {"refer_type": refer_type, "keep_original_sound": data.get("keep_original_sound") or "yes"}
        ]
    else:
        refer_type = ""
    if refer_type != "base":
        # Kling edits a base video as it is: its length and shape are the clip's.
        params.update(duration=str(data["duration"]), aspect_ratio=data["aspect_ratio"])
    if data.get("multi_shot"):
        # Kling's table spells each shot's duration as a string, like the clip's.
        params.update(
            multi_shot=True,
            shot_type="customize",
            multi_prompt=[
                {"index": n, "prompt": shot["prompt"], "duration": str(shot["duration"])}
                for n, shot in enumerate(data["multi_prompt"], start=1)
            ],
        )
    return params


def _multi_image2image_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # The subject, scene and style pictures are added at submit, from the stored files.
    return {
        "model_name": data["model_name"],
        "prompt": data["prompt"],
        "n": data.get("n") or 1,
        "aspect_ratio": data["aspect_ratio"],
    }


def _omni_image_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `image_list` is added at submit, from the stored pictures (as `image` items).
    params = {
        "model_name": data["model_name"],
        "prompt": data["prompt"],
        "n": data.get("n") or 1,
        "aspect_ratio": data["aspect_ratio"],
        "resolution": data.get("resolution") or "1k",
        "result_type": data.get("result_type") or "single",
    }
    if params["result_type"] == "series":
        params.update(n=1, series_amount=data["series_amount"])
    return params


def _effects_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # Flat here; the client nests them into Kling's `input` (effects.request_input), with
    # `image` / `image_tail` (the left and right person) added at submit as Base64.
    chosen = effects.scene(data.get("effect_scene") or "")
    two_person = bool(chosen and chosen.two_person)
    return {
        "effect_scene": data["effect_scene"],
        "two_person": two_person,
        "model_name": data.get("effect_model") or "",
        "mode": (data.get("mode") or "") if data.get("effect_model") else "",
        "duration": int(data["duration"]),
    }


def _expand_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # No model_name (Kling's expand has none); `image` is added at submit as Base64.
    params: dict[str, Any] = {"prompt": data.get("prompt") or "", "n": data.get("n") or 1}
    for side in capabilities.EXPANSION_SIDES:
        params[f"{side}_expansion_ratio"] = float(data[f"{side}_expansion_ratio"])
    return params


def _try_on_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `human_image` and `cloth_image` are added at submit. Kling has no field for the
    # garment's kind (it sees it): `garment_type` is kept for the result's page and a
    # remix, and never sent (follow.LOCAL_PARAMS).
    return {"model_name": data["model_name"], "garment_type": data["garment_type"]}


def _extend_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # No model_name or mode: Kling takes the source video's.
    return {
        "video_id": data["source_asset"].video_id,
        "prompt": data.get("prompt") or "",
        "negative_prompt": data.get("negative_prompt") or "",
    }


def _text_to_audio_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # No model_name: Kling's audio products have none. `duration` is a number here.
    return {"prompt": data["prompt"], "duration": round(float(data["duration"]), 1)}


def _video_to_audio_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # `video_url` (an upload) is added at submit, as a signed URL; else Kling's video_id.
    source = data.get("source_asset")
    return {
        "video_id": source.video_id if source is not None else "",
        "sound_effect_prompt": data.get("sound_effect_prompt") or "",
        "bgm_prompt": data.get("bgm_prompt") or "",
        "asmr_mode": bool(data.get("asmr_mode")),
    }


def _lip_sync_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # No model_name or mode. The sound (`sound_file`, a signed URL) is added at submit and
    # moved into the face by the client (providers.kling.lip_sync_faces).
    face = {
        "face_id": str(data["face_id"]),
        "sound_start_time": int(data["sound_start_time"]),
        "sound_end_time": int(data["sound_end_time"]),
        "sound_insert_time": int(data["sound_insert_time"]),
        "sound_volume": float(data["sound_volume"]),
        "original_audio_volume": float(data["original_audio_volume"]),
    }
    return {"session_id": data["face_session"].session_id, "face_choose": [face]}


def _avatar_params(data: Mapping[str, Any]) -> dict[str, Any]:
    # No model_name (Kling's avatar has none); `image` (Base64) and `sound_file` (a signed
    # URL) are added at submit.
    return {"prompt": data.get("prompt") or "", "mode": data["mode"]}


_KIND_PARAMS = {
    Kind.LIP_SYNC: _lip_sync_params,
    Kind.AVATAR: _avatar_params,
    Kind.TEXT2AUDIO: _text_to_audio_params,
    Kind.VIDEO2AUDIO: _video_to_audio_params,
    Kind.MOTION_CONTROL: _motion_control_params,
    Kind.MULTI_IMAGE2VIDEO: _multi_image_params,
    Kind.OMNI_VIDEO: _omni_params,
    Kind.MULTI_IMAGE2IMAGE: _multi_image2image_params,
    Kind.OMNI_IMAGE: _omni_image_params,
    Kind.VIRTUAL_TRY_ON: _try_on_params,
    Kind.EXPAND_IMAGE: _expand_params,
    Kind.VIDEO_EFFECTS: _effects_params,
    Kind.VIDEO_EXTEND: _extend_params,
}


def _save_inputs(generation: Generation, kind: str, data: Mapping[str, Any]) -> None:
    """Store the uploads Kling will fetch as InputFiles (after the charge went through)."""
    files: list[tuple[str, int, Any]] = []
    if kind == Kind.MOTION_CONTROL:
        video = data.get("video_url")
        source = data.get("source_asset")
        if not video and source is not None:
            _copy_asset_input(generation, "video_url", source)
        files = [("image_url", 0, data.get("image_url")), ("video_url", 0, video)]
    elif kind == Kind.VIDEO2AUDIO:
        files = [("video_url", 0, data.get("video_url"))]
    elif kind == Kind.AVATAR:
        files = [("sound_file", 0, data.get("sound_file"))]
    elif kind == Kind.LIP_SYNC:
        sound = data.get("sound_file")
        if not sound and data.get("sound_asset") is not None:
            _copy_asset_input(generation, "sound_file", data["sound_asset"])
        files = [("sound_file", 0, sound)]
    elif kind in (Kind.MULTI_IMAGE2VIDEO, Kind.OMNI_VIDEO, Kind.OMNI_IMAGE):
        files = [("image_list", i, upload) for i, upload in enumerate(data.get("image_list") or [])]
        if kind == Kind.OMNI_VIDEO:
            # The reference video: an upload, or a copy of one of the person's own videos.
            video = data.get("video_url")
            if not video and data.get("source_asset") is not None:
                _copy_asset_input(generation, "video_url", data["source_asset"])
            files.append(("video_url", 0, video))
    elif kind == Kind.VIRTUAL_TRY_ON:
        files = [("human_image", 0, data.get("human_image")), ("cloth_image", 0, data.get("cloth_image"))]
    elif kind == Kind.MULTI_IMAGE2IMAGE:
        files = [
            *(
                ("subject_image_list", i, upload)
                for i, upload in enumerate(data.get("subject_image_list") or [])
            ),
            ("scene_image", 0, data.get("scene_image")),
            ("style_image", 0, data.get("style_image")),
        ]
    for field, index, upload in files:
        if not upload or isinstance(upload, str):
            continue
        info = getattr(upload, "media_info", None)
        given = InputFile(
            generation=generation,
            field=field,
            index=index,
            content_type=(info.content_type if info else "")
            or {"JPEG": "image/jpeg", "PNG": "image/png"}.get(getattr(upload, "image_format", ""), "")
            or getattr(upload, "content_type", "")
            or "application/octet-stream",
            size=upload.size,
            width=info.width if info else None,
            height=info.height if info else None,
            duration=info.duration if info else None,
        )
        given.file.save(_upload_name(upload), upload, save=False)
        given.save()


def _copy_asset_input(generation: Generation, field: str, asset: Asset) -> None:
    """One of the person's own results as an input Kling fetches (a copy: deleting the
    source generation must not take the new one's input with it)."""
    given = InputFile(
        generation=generation,
        field=field,
        index=0,
        content_type=asset.content_type or "video/mp4",
        size=asset.file.size,
        width=asset.width,
        height=asset.height,
        duration=asset.duration,
    )
    with asset.file.open("rb") as handle:
        given.file.save(asset.file.name.rsplit("/", 1)[-1], File(handle), save=False)
    given.save()


# Ledger memos stay in English on the entry; the credits page shows them in the reader's
# language (kling_site.stored_text).
CHARGE_MEMO = stored_text.template(gettext_noop("%(kind)s with %(model)s"), known=("kind",))
REFUND_MEMO = stored_text.template(gettext_noop("Refund: %(kind)s failed"), known=("kind",))


def _english_kind(generation: Generation) -> str:
    # The kind's name is lazy: read in the request's language it would store Chinese.
    with translation.override("en"):
        return str(generation.get_kind_display())


def create_generation(
    user,
    kind: str,
    cleaned_data: Mapping[str, Any],
    client_token: str = "",
    *,
    queue_cap: bool = True,
    price_book: pricing.PriceBook | None = None,
) -> Generation:
    """Validate, price, charge and save a generation, then queue its submission on commit.

    Raises ValidationError (per field, or for the whole form when the person already has
    MAX_QUEUED_PER_USER generations unfinished), pricing.NotOffered,
    ledger.InsufficientCredits or ledger.AccountFrozen; in each case nothing is charged,
    saved or sent. The same
    `client_token` (a hidden form field) returns the generation it already created, so a
    double click or a resubmitted form creates one generation and one charge.
    `queue_cap=False` is for batches, which have their own row limit and still wait their
    turn in the fair queue. `price_book` is the request's price rows when its form already
    quoted it (GenerationForm.price_book): the charge is then from the rows the form's
    quote came from, read once.
    """
    if client_token:
        existing = Generation.objects.filter(owner=user, client_token=client_token).first()
        if existing is not None:
            return existing

    cleaned_data = dict(cleaned_data)
    measure_inputs(kind, cleaned_data)
    if kind == Kind.VIDEO_EXTEND:
        cleaned_data["source_asset"] = extend_source(user, cleaned_data.get("video_id") or "")
    if (
        kind in (Kind.MOTION_CONTROL, Kind.OMNI_VIDEO)
        and cleaned_data.get("video_id")
        and not cleaned_data.get("video_url")
    ):
        cleaned_data["source_asset"] = own_video(user, cleaned_data["video_id"])
    if kind == Kind.VIDEO2AUDIO and cleaned_data.get("video_id"):
        cleaned_data["source_asset"] = own_video(user, cleaned_data["video_id"])
    if kind == Kind.LIP_SYNC:
        cleaned_data["face_session"] = face_session(user, cleaned_data.get("session_id") or "")
        if cleaned_data.get("sound_from") and not cleaned_data.get("sound_file"):
            cleaned_data["sound_asset"] = own_sound(user, cleaned_data["sound_from"])
    values = request_values(kind, cleaned_data)
    errors = capabilities.validate(kind, values)
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})
    quote = pricing.quote(kind, values, book=price_book)
    model = capabilities.get(kind, values["model_name"])
    source = cleaned_data.get("image_from")

    try:
        with transaction.atomic():
            generation = Generation.objects.create(
                owner=user,
                kind=kind,
                provider=settings.KLING_PROVIDER,
                model_name=model.name,
                mode=(values["mode"] or "") if model.is_video else "",
                duration=values["duration"] if model.is_video else None,
                audio=values["sound"],
                prompt=values["prompt"],
                params=build_params(kind, cleaned_data),
                cost=quote.credits,
                product=capabilities.product_for(kind),
                client_token=client_token,
                deadline_at=timezone.now() + timedelta(minutes=settings.GENERATION_DEADLINE_MINUTES),
                slot_count=1 if model.is_video else int(values["n"] or 1),
                parent=cleaned_data["source_asset"].generation if kind == Kind.VIDEO_EXTEND else None,
            )
            if quote.credits:
                # Takes the account's row lock, so the count below sees every create of
                # this person that committed before ours.
                ledger.charge(
                    user,
                    quote.credits,
                    key=f"gen:{generation.pk}:charge",
                    generation=generation,
                    memo=CHARGE_MEMO % {"kind": _english_kind(generation), "model": model.label},
                )
            if queue_cap:
                _check_queue_cap(user, generation)
            # Files are stored only once the charge went through.
            if cleaned_data.get("image"):
                generation.input_image.save(
                    _upload_name(cleaned_data["image"]), cleaned_data["image"], save=False
                )
            elif source is not None and source.input_image:
                generation.input_image.name = source.input_image.name
            if cleaned_data.get("image_tail"):
                generation.input_image_tail.save(
                    _upload_name(cleaned_data["image_tail"]), cleaned_data["image_tail"], save=False
                )
            if generation.input_image or generation.input_image_tail:
                generation.save(update_fields=["input_image", "input_image_tail"])
            _save_inputs(generation, kind, cleaned_data)
            transaction.on_commit(lambda: queue.submit(generation.pk), robust=True)
    except IntegrityError:
        # The same form arrived twice at once: the other request created it first.
        if client_token:
            existing = Generation.objects.filter(owner=user, client_token=client_token).first()
            if existing is not None:
                return existing
        raise
    return generation


def _check_queue_cap(user, generation: Generation) -> None:
    cap = settings.MAX_QUEUED_PER_USER
    if cap <= 0:
        return
    others = fair_queue.unfinished_count(user.pk) - 1
    if others >= cap:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _(
                        "You already have %(count)d generations waiting or in progress, the most at once. "
                        "This one was not started and nothing was charged: try again when some have finished."
                    )
                    % {"count": others}
                ]
            },
            code="too_many_queued",
        )


def _upload_name(upload) -> str:
    ext = {"JPEG": "jpg", "PNG": "png"}.get(getattr(upload, "image_format", ""), "")
    base = (getattr(upload, "name", "") or "image").rsplit("/", 1)[-1]
    if ext and not base.lower().endswith(("." + ext, ".jpeg")):
        base = f"{base}.{ext}"
    return base


# --- the one transition -----------------------------------------------------------------


def transition(generation_id: int, from_statuses: Iterable[str], to_status: str, **fields: Any) -> bool:
    """Move a generation from one of `from_statuses` to `to_status`, compare-and-set.

    Returns False (and changes nothing) when the row is not in one of `from_statuses`:
    another worker, a callback or a sweep got there first. Terminal states never change.
    Reaching `failed` refunds the cost in the same transaction; reaching a terminal state
    frees the limiter slot in the same transaction too (so no later failure can leak it)
    and lets the next queued generation go after commit.
    """
    from_statuses = _from(from_statuses)
    updates = _transition_updates(to_status, fields, timezone.now())

    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation_id, status__in=from_statuses).update(**updates)
        if not changed:
            return False
        if to_status == Status.FAILED:
            generation = Generation.objects.select_related("owner").get(pk=generation_id)
            if generation.cost:
                ledger.refund(
                    generation.owner,
                    generation.cost,
                    key=f"gen:{generation_id}:refund",
                    generation=generation,
                    memo=REFUND_MEMO % {"kind": _english_kind(generation).lower()},
                )
            # Robust: a broker error while enqueueing one follow-up must not skip the others.
            transaction.on_commit(lambda: queue.notify_finished(generation_id), robust=True)
        if to_status == Status.SUCCEEDED:
            _give_back_unmade_pictures(generation_id)
            transaction.on_commit(lambda: queue.fetch_results(generation_id), robust=True)
        if to_status in TERMINAL_STATUSES:
            limiter.release_slot(generation_id)
            transaction.on_commit(start_next_waiting, robust=True)
    return True


def _from(from_statuses: Iterable[str]) -> tuple[str, ...]:
    from_statuses = tuple(from_statuses)
    if any(status in TERMINAL_STATUSES for status in from_statuses):
        raise ValueError("Terminal states never change")
    return from_statuses


def _transition_updates(to_status: str, fields: Mapping[str, Any], now) -> dict[str, Any]:
    updates: dict[str, Any] = {"status": to_status, **fields}
    if to_status == Status.SUBMITTED:
        updates.setdefault("submitted_at", now)
    if to_status == Status.PROCESSING:
        updates.setdefault("started_at", now)
    if to_status != Status.QUEUED:
        updates.setdefault("wait_reason", "")
    if to_status in TERMINAL_STATUSES:
        updates.setdefault("finished_at", now)
        updates.setdefault("due_at", None)
    return updates


# Successes written per transaction by succeed_many: a batch's rows become visible together,
# and its row locks are held until its commit.
SUCCEED_BATCH_ROWS = 100


def may_give_back(generation: Generation) -> bool:
    """Whether reaching `succeeded` may refund part of the cost (a series Kling sized)."""
    return generation.params.get("series_amount") == "auto" and bool(generation.cost)


def succeed_many(
    results: Iterable[tuple[Generation, dict[str, Any]]], from_statuses: Iterable[str]
) -> list[int]:
    """transition() to `succeeded` for many generations at once (a batched confirmation):
    the same compare-and-set UPDATE for each, but one transaction, one slot release and one
    hand-over of freed slots per SUCCEED_BATCH_ROWS rows instead of per row. Returns the
    ids that moved; a row another worker finished first is left alone, as transition()
    leaves it.

    Only for generations that give nothing back on success (not may_give_back(): the
    caller sends those through transition()), so these transactions never touch the
    ledger: holding many generation rows, they never wait for a balance that a refunding
    transaction holds while it waits for one of those rows.
    """
    from_statuses = _from(from_statuses)
    ordered = sorted(results, key=lambda item: item[0].pk)  # one lock order for every batch
    moved: list[int] = []
    for start in range(0, len(ordered), SUCCEED_BATCH_ROWS):
        batch = ordered[start : start + SUCCEED_BATCH_ROWS]
        if any(may_give_back(generation) for generation, _ in batch):
            raise ValueError("A success that may give credits back goes through transition()")
        with transaction.atomic():
            done = [
                generation.pk
                for generation, fields in batch
                if Generation.objects.filter(pk=generation.pk, status__in=from_statuses).update(
                    **_transition_updates(Status.SUCCEEDED, fields, timezone.now())
                )
            ]
            if not done:
                continue
            limiter.release_slots(done)
            for pk in done:
                transaction.on_commit(lambda pk=pk: queue.fetch_results(pk), robust=True)
            for _ in done:  # each start_next_waiting() hands on one freed slot
                transaction.on_commit(start_next_waiting, robust=True)
        moved.extend(done)
    return moved


def _give_back_unmade_pictures(generation_id: int) -> None:
    """A series Kling sized itself ("auto") was charged for the most pictures it may have;
    on success, give back those it did not make (Generation.unmade_credits). Runs in the
    transition's transaction, once: only one transition reaches `succeeded`."""
    generation = Generation.objects.select_related("owner").get(pk=generation_id)
    credits = generation.unmade_credits
    if credits:
        ledger.refund(
            generation.owner,
            credits,
            key=f"gen:{generation_id}:unmade",
            generation=generation,
            memo="Refund: series pictures Kling did not make",
        )


def start_next_waiting() -> None:
    """A slot came free: let the generation whose turn it is (see fair_queue) try again now."""
    waiting = fair_queue.waiting_for_slot().filter(wait_reason=WaitReason.SLOT)
    # Most releases find nobody waiting (always so without KLING_MAX_CONCURRENCY): a plain
    # EXISTS costs a fraction of ranking the turns, which every finish would pay otherwise.
    if not waiting.exists():
        return
    turns = fair_queue.in_turn(waiting, 1)
    if not turns:
        return
    ((pk, due),) = turns
    # Conditional, so only one of several releases racing here moves it.
    if Generation.objects.filter(pk=pk, status=Status.QUEUED, due_at=due).update(due_at=None):
        queue.submit(pk)


def fail(
    generation_id: int,
    *,
    code: str,
    message: str,
    provider_message: str = "",
    from_statuses: Iterable[str] = UNFINISHED_STATUSES,
    **fields: Any,
) -> bool:
    """Fail a generation that is not finished yet, and refund it (see transition)."""
    return transition(
        generation_id,
        from_statuses,
        Status.FAILED,
        error_code=code,
        error_message=message,
        provider_message=provider_message[:2000],
        **fields,
    )


def fail_by_staff(generation_id: int, reason: str, staff_user) -> bool:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required")
    logger.info("generation %s failed by %s: %s", generation_id, staff_user, reason)
    return fail(
        generation_id, code="stopped_by_staff", message=reason, provider_message=f"Stopped by {staff_user}"
    )


# --- people's actions -------------------------------------------------------------------


def delete_generation(user, generation_id: int) -> bool:
    """Hide a generation from its owner. The row, its files and its ledger entries stay:
    the money trail never loses a line, and work in flight is still followed (and refunded
    if it fails)."""
    return bool(Generation.objects.owned_by(user).filter(pk=generation_id).update(deleted_at=timezone.now()))


def remix_initial(generation: Generation) -> dict[str, Any]:
    """The create form's initial values from an earlier generation's parameters."""
    params = generation.params or {}
    initial: dict[str, Any] = {
        key: params[key]
        for key in (
            "model_name",
            "prompt",
            "negative_prompt",
            "mode",
            "aspect_ratio",
            "cfg_scale",
            "n",
            "resolution",
            "image_reference",
            "image_fidelity",
            "human_fidelity",
            "garment_type",
        )
        if key in params
    }
    if "duration" in params:
        initial["duration"] = int(params["duration"])
    initial["sound"] = params.get("sound") == "on"
    camera = params.get("camera_control")
    if camera:
        initial.update(camera_form_values(camera))
    if generation.kind == Kind.IMAGE2VIDEO and isinstance(params.get("image"), str):
        initial["image_url"] = params["image"]
    if generation.input_image:
        initial["image_from"] = generation.pk
    return initial


def camera_form_values(camera: Mapping[str, Any]) -> dict[str, Any]:
    if camera.get("type") != capabilities.CAMERA_SIMPLE:
        return {"camera_control": camera.get("type", "")}
    config = camera.get("config") or {}
    moves = [(axis, float(config.get(axis) or 0)) for axis in capabilities.CAMERA_AXES]
    moves = [(axis, value) for axis, value in moves if value]
    if len(moves) != 1:
        return {}
    axis, value = moves[0]
    for preset, (_label, preset_axis, preset_value) in capabilities.CAMERA_PRESETS.items():
        if (preset_axis, preset_value) == (axis, value):
            return {"camera_control": preset}
    return {"camera_control": capabilities.CAMERA_SIMPLE, "camera_axis": axis, "camera_value": value}


# --- estimates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    elapsed_seconds: int
    estimate_seconds: int

    @property
    def percent(self) -> int:
        # Never 100 before it is done: the estimate is a guess.
        if not self.estimate_seconds:
            return 0
        return max(2, min(95, round(100 * self.elapsed_seconds / self.estimate_seconds)))

    @property
    def remaining_seconds(self) -> int:
        return max(0, self.estimate_seconds - self.elapsed_seconds)


def _estimate_key(kind: str, model_name: str, mode: str) -> str:
    return f"generations:estimate:{kind}:{model_name}:{mode}"


def estimate_keys() -> list[tuple[str, str, str]]:
    """Every (kind, model, mode) the capability table offers, disabled models included
    (their unfinished work still shows progress)."""
    return [
        (kind, model.name, mode)
        for kind, models in capabilities.TABLE.items()
        for model in models.values()
        for mode in (model.modes or ("",))
    ]


def refresh_estimates() -> dict[tuple[str, str, str], int]:
    """Recompute every estimate from recent history and store it in the cache.

    Run by a schedule, never by a page: each key reads at most ESTIMATE_SAMPLE successes of
    the last ESTIMATE_WINDOW through the `generation_estimate_sample` index, so the cost
    does not grow with the size of the history.
    """
    since = timezone.now() - ESTIMATE_WINDOW
    estimates = {}
    for key in estimate_keys():
        kind, model_name, mode = key
        rows = (
            Generation.objects.filter(
                kind=kind, model_name=model_name, mode=mode, status=Status.SUCCEEDED, finished_at__gte=since
            )
            .order_by("-finished_at")
            .values_list("created_at", "finished_at")[:ESTIMATE_SAMPLE]
        )
        seconds = [(finished_at - created_at).total_seconds() for created_at, finished_at in rows]
        estimates[key] = max(1, round(statistics.median(seconds)) if seconds else TYPICAL_SECONDS[kind])
    cache.set_many({_estimate_key(*key): value for key, value in estimates.items()}, ESTIMATE_CACHE_SECONDS)
    return estimates


def estimates_for(keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """Typical seconds from creation to finish for each (kind, model, mode), as the
    scheduled `refresh_estimates` last stored them; Kling's published averages when the
    cache has none. Never a database query: pages with many live cards call this on
    every poll."""
    keys = set(keys)
    try:
        cached = cache.get_many([_estimate_key(*key) for key in keys])
    except CACHE_ERRORS:
        # Redis restarting: the published averages will do until it is back.
        cached = {}
    return {key: cached.get(_estimate_key(*key)) or TYPICAL_SECONDS[key[0]] for key in keys}


def progress_for(generations: Iterable[Generation]) -> dict[int, Progress]:
    """Elapsed time and estimate for each unfinished generation, without a query."""
    live = [g for g in generations if not g.is_terminal]
    estimates = estimates_for((g.kind, g.model_name, g.mode) for g in live)
    return {
        g.pk: Progress(int(g.elapsed.total_seconds()), estimates[(g.kind, g.model_name, g.mode)])
        for g in live
    }
