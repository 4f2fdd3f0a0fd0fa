"""The simulated Kling: authentication, validation, task creation, answers and callbacks.

Views are thin wrappers around these functions. Everything reads the clock through
`time.time()`, so tests move time with `time-machine`.

Deterministic triggers for demos and tests (besides the fault knobs): a prompt containing
`[sim:fail]` is accepted and then fails with the content-safety message; `[sim:refuse]`
is refused at once with 400/1301. A Base64 image under 300 px a side (or outside 1:2.5 to
2.5:1) is accepted and then fails with "Image pixel is invalid", as Kling does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
import os
import queue
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.core import signing
from django.db import close_old_connections, connection, transaction
from django.db.models import Min, Q, Sum

from generations.providers import webhook_signature
from generations.simulator import catalog
from generations.simulator.media import variant_for
from generations.simulator.models import SimCallback, SimFaults, SimTask, now_ms

logger = logging.getLogger("generations.simulator")

CDN_SALT = "kling-simulator-cdn"
CALLBACK_ATTEMPTS = 3
CALLBACK_CLAIM_MS = 30_000
CALLBACK_SENDERS = 8  # threads of the callback sender: Kling does not send one at a time
IMAGE_PROBLEM = "Image pixel is invalid"


class SimError(Exception):
    """An error answer: HTTP status, Kling code and message (the body has no `data`)."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


def roll(rate: float) -> bool:
    return rate > 0 and random.random() < rate


# --- Authentication (docs/kling.md section 1) ------------------------------------------


def accepted_api_keys() -> list[str]:
    keys = [settings.KLING_API_KEY, *settings.SIMULATOR_API_KEYS]
    return [key for key in keys if key]


def access_key_owner(access_key: str) -> str:
    """The `SimTask.created_by` of tasks created with a JWT issued for `access_key`."""
    return f"ak:{access_key}"


def api_key_owner(api_key: str) -> str:
    """The `SimTask.created_by` of tasks created with a static API key (a digest, not the key)."""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]


def authenticate(authorization: str) -> str:
    """Check the Authorization header like Kling; returns who is asking (see `SimTask.created_by`)."""
    if not authorization.strip():
        raise SimError(401, 1001, "Authorization is empty")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SimError(401, 1002, "Authorization is invalid")
    if token.count(".") == 2 and token.startswith("eyJ"):
        _check_jwt(token)
        return access_key_owner(settings.KLING_ACCESS_KEY)
    if not any(hmac.compare_digest(token.encode(), key.encode()) for key in accepted_api_keys()):
        raise SimError(401, 1002, "Authorization is invalid")
    return api_key_owner(token)


def _check_jwt(token: str) -> None:
    secret = settings.KLING_SECRET_KEY
    if not (secret and settings.KLING_ACCESS_KEY):
        raise SimError(401, 1002, "Authorization is invalid")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["iss", "exp", "nbf"]}, leeway=0
        )
    except jwt.ExpiredSignatureError:
        raise SimError(401, 1004, "Authorization token has expired") from None
    except jwt.ImmatureSignatureError:
        raise SimError(401, 1003, "Authorization token is not yet valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise SimError(401, 1000, f"Authentication failed: {exc}") from None
    except jwt.InvalidTokenError:
        raise SimError(401, 1002, "Authorization is invalid") from None
    if not hmac.compare_digest(str(claims.get("iss", "")).encode(), settings.KLING_ACCESS_KEY.encode()):
        raise SimError(401, 1002, "Authorization is invalid")


# --- Validation (section 3) --------------------------------------------------------------


def _bad(message: str) -> SimError:
    return SimError(400, 1201, message)


def _string(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string")
    return value


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _string(body, name, default) or default
    if value not in allowed:
        raise _bad(f"{name} must be one of {', '.join(allowed)}")
    return value


def _unit_float(body: dict[str, Any], name: str) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise _bad(f"{name} must be a number in [0, 1]")


def _camera(value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") not in catalog.CAMERA_TYPES:
        raise _bad(f"camera_control.type must be one of {', '.join(catalog.CAMERA_TYPES)}")
    config = value.get("config")
    if value["type"] != "simple":
        if config not in (None, {}):
            raise _bad("camera_control.config must be empty unless type is simple")
        return
    if not isinstance(config, dict) or set(config) - set(catalog.CAMERA_AXES):
        raise _bad("camera_control.config is required for type simple")
    non_zero = 0
    for axis in catalog.CAMERA_AXES:
        number = config.get(axis, 0)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not -10 <= number <= 10:
            raise _bad(f"camera_control.config.{axis} must be a number in [-10, 10]")
        non_zero += number != 0
    if non_zero != 1:
        raise _bad("camera_control.config: choose exactly one of the six values to be non-zero")


def _image(body: dict[str, Any], name: str) -> bool | None:
    """Check one image field. Returns None if absent, else whether the image is usable."""
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} must be a URL or a Base64 string")
    if value.startswith("data:"):
        raise _bad(f"{name}: Base64 images must not carry a data: prefix")
    if value.startswith(("http://", "https://")):
        return True  # the simulator does not fetch URLs
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{name} is neither a URL nor valid Base64") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as picture:
            width, height = picture.size
            fmt = picture.format
    except (UnidentifiedImageError, OSError):
        raise _bad(f"{name}: image format is invalid") from None
    if fmt not in ("PNG", "JPEG"):
        raise _bad(f"{name}: image format is invalid (use jpg or png)")
    # Kling accepts these and fails the task afterwards ("Image pixel is invalid").
    return min(width, height) >= 300 and 1 / 2.5 <= width / height <= 2.5


def callback_allowed(url: str) -> bool:
    """Whether `url` is under SITE_URL: same scheme, host and port, and below its path."""
    if any(ord(char) <= 32 or ord(char) >= 127 or char == "\\" for char in url):
        return False
    site = urlsplit(settings.SITE_URL)
    try:
        target = urlsplit(url)
        ports = (target.port, site.port)
    except ValueError:
        return False
    defaults = {"http": 80, "https": 443}
    base_path = site.path.rstrip("/")
    return (
        target.scheme.lower() == site.scheme.lower()
        and target.username is None
        and target.password is None
        and bool(target.hostname)
        and target.hostname == site.hostname
        and (ports[0] or defaults.get(target.scheme.lower()))
        == (ports[1] or defaults.get(site.scheme.lower()))
        and (target.path == base_path or target.path.startswith(base_path + "/"))
        and not {".", ".."} & set(target.path.split("/"))  # no way back out of SITE_URL's path
    )


@dataclass
class CreateRequest:
    product: str
    model_name: str
    prompt: str
    mode: str = ""
    duration: str = ""
    aspect_ratio: str = ""
    sound: str = ""
    resolution: str = ""
    n: int = 1
    reference_image: bool = False
    reference_video: bool = False  # omni video with a `video_list` (a dearer rate)
    images_usable: bool = True
    voice: bool = False
    external_task_id: str = ""
    callback_url: str = ""
    parent: SimTask | None = None
    failure_message: str = ""  # accepted, but the task will fail with this (as Kling does)


def validate(product: str, body: Any, faults: SimFaults, owner: str = "") -> CreateRequest:
    """The create request Kling would accept, or the SimError Kling would answer. `owner`
    is who asks: a video extension may only continue one of their own videos."""
    if not isinstance(body, dict):
        raise SimError(400, 1200, "Invalid request parameters: the body must be a JSON object")
    request = CreateRequest(
        product=product,
        model_name=_model(product, body, faults),
        prompt=_prompt(product, body),
        external_task_id=_external_id(body),
        callback_url=_callback_url(body),
    )
    watermark = body.get("watermark_info")
    if watermark is not None and not (
        isinstance(watermark, dict) and isinstance(watermark.get("enabled"), bool)
    ):
        raise _bad('watermark_info must be {"enabled": true|false}')
    if product == catalog.MOTION_CONTROL:
        _motion_control_fields(request, body)
    elif product == catalog.MULTI_IMAGE2VIDEO:
        _multi_image_fields(request, body)
    elif product == catalog.VIDEO_EXTEND:
        _extend_fields(request, body, owner)
    elif product == catalog.TEXT2AUDIO:
        _text_to_audio_fields(request, body)
    elif product == catalog.AVATAR:
        _avatar_fields(request, body)
    elif product == catalog.OMNI_VIDEO:
        _omni_fields(request, body)
    elif product == catalog.MULTI_IMAGE2IMAGE:
        _multi_image2image_fields(request, body)
    elif product == catalog.OMNI_IMAGE:
        _omni_image_fields(request, body)
    elif product == catalog.TRY_ON:
        _try_on_fields(request, body)
    elif product == catalog.EXPAND:
        _expand_fields(request, body)
    elif product == catalog.EFFECTS:
        _effects_fields(request, body)
    elif product == catalog.VIDEO2AUDIO:
        _video_to_audio_fields(request, body, owner)
    elif product == catalog.LIP_SYNC:
        _lip_sync_fields(request, body, owner)
    elif product in catalog.VIDEO_PRODUCTS:
        _video_fields(request, body)
    else:
        _image_fields(request, body)
    return request


def _model(product: str, body: dict, faults: SimFaults) -> str:
    if (
        product in (catalog.VIDEO_EXTEND, catalog.AVATAR, catalog.EXPAND, catalog.LIP_SYNC)
        or product in catalog.AUDIO_PRODUCTS
    ):
        return ""  # audio and expand have no model; an extension takes its source video's (_extend_fields)
    # `model` is not a Kling field: like Kling, ignore it (and fall back to the default model).
    model = _string(body, "model_name") or catalog.DEFAULT_MODELS.get(product, catalog.DEFAULT_MODEL)
    if model in faults.discontinued:
        raise SimError(404, 1203, f"The model '{model}' has been discontinued and is no longer available.")
    if model not in catalog.MODELS[product]:
        raise SimError(404, 1203, f"model_name {model} is not found for {product}")
    return model


def _prompt(product: str, body: dict) -> str:
    prompt = _string(body, "prompt")
    optional = (
        catalog.IMAGE2VIDEO,
        catalog.MOTION_CONTROL,
        catalog.VIDEO_EXTEND,
        catalog.VIDEO2AUDIO,
        catalog.AVATAR,
        catalog.TRY_ON,
        catalog.EXPAND,
        catalog.EFFECTS,
        catalog.LIP_SYNC,
    )
    # A storyboard's shots carry the prompts: Kling ignores the top-level one then.
    multi_shot = product == catalog.OMNI_VIDEO and body.get("multi_shot") is True
    if product not in optional and not multi_shot and not prompt.strip():
        raise _bad("prompt is required")
    if len(prompt) > catalog.PROMPT_LIMIT:
        raise _bad(f"prompt must be at most {catalog.PROMPT_LIMIT} characters")
    if len(_string(body, "negative_prompt")) > catalog.PROMPT_LIMIT:
        raise _bad(f"negative_prompt must be at most {catalog.PROMPT_LIMIT} characters")
    if "[sim:refuse]" in prompt:
        raise SimError(400, 1301, "Content security policy: the prompt was refused")
    return prompt


def _external_id(body: dict) -> str:
    external = _string(body, "external_task_id")
    if len(external) > 128:
        raise _bad("external_task_id must be at most 128 characters")
    return external


def _callback_url(body: dict) -> str:
    callback_url = _string(body, "callback_url")
    if callback_url and not callback_url.startswith(("http://", "https://")):
        raise _bad("callback_url must be an http(s) URL")
    if callback_url and not callback_allowed(callback_url):
        # The simulator is part of the site: it calls back the site it serves, never any
        # other address (it must not be a way to make this server POST to the internal network).
        raise _bad(
            f"callback_url must be under {settings.SITE_URL}/: the simulator only calls back this site"
        )
    return callback_url


def _video_fields(request: CreateRequest, body: dict) -> None:
    model = request.model_name
    request.mode = _choice(body, "mode", catalog.modes(model), "std")
    if "duration" in body and not isinstance(body["duration"], str):
        raise _bad('duration must be a string such as "5"')
    request.duration = _choice(body, "duration", catalog.durations(model), "5")
    request.aspect_ratio = _choice(body, "aspect_ratio", catalog.VIDEO_ASPECT_RATIOS, "16:9")
    request.sound = _choice(body, "sound", ("on", "off"), "off")
    if request.sound == "on" and not catalog.sound_allowed(model, request.mode):
        raise _bad(f"sound on is not supported by {model} in mode {request.mode}")
    request.voice = bool(body.get("voice_list"))
    _unit_float(body, "cfg_scale")
    if body.get("camera_control") is not None:
        _camera(body["camera_control"])
    if request.product == catalog.IMAGE2VIDEO:
        first, last = _image(body, "image"), _image(body, "image_tail")
        if first is None and last is None:
            raise _bad("image is required")
        if body.get("camera_control") is not None and last is not None:
            raise _bad("image_tail and camera_control cannot be used together")
        request.images_usable = first is not False and last is not False


def _required_choice(body: dict, name: str, allowed: tuple[str, ...]) -> str:
    if body.get(name) in (None, ""):
        raise _bad(f"{name} is required")
    return _choice(body, name, allowed, "")


def _seconds_text(seconds: float) -> str:
    """A duration as Kling writes it: "5", "5.2"."""
    return format(Decimal(str(round(seconds, 1))).normalize(), "f")


def _motion_control_fields(request: CreateRequest, body: dict) -> None:
    request.mode = _required_choice(body, "mode", ("std", "pro"))
    orientation = _required_choice(body, "character_orientation", tuple(catalog.MOTION_MAX_SECONDS))
    _choice(body, "keep_original_sound", ("yes", "no"), "yes")
    image = _image(body, "image_url")
    if image is None:
        raise _bad("image_url is required")
    video_url = _string(body, "video_url")
    if not video_url:
        raise _bad("video_url is required")
    if not video_url.startswith(("http://", "https://")):
        raise _bad("video_url must be an http(s) URL")
    seconds, size = _reference_video(video_url)
    if seconds is None:
        # Like Kling: accepted, and the task fails once the file turns out unusable.
        request.failure_message = "Failed to read the video from video_url"
        seconds = catalog.UNFETCHED_VIDEO_SECONDS
    if seconds < catalog.MOTION_MIN_SECONDS:
        raise _bad(f"video_url: the video must be at least {catalog.MOTION_MIN_SECONDS:g} seconds long")
    limit = catalog.MOTION_MAX_SECONDS[orientation]
    if seconds > limit:
        raise _bad(
            f"video_url: the video must be at most {limit:g} seconds long when character_orientation is {orientation}"
        )
    request.duration = _seconds_text(seconds)
    width, height = size
    request.aspect_ratio = "9:16" if height > width else ("1:1" if height == width else "16:9")
    request.images_usable = image is not False


def _reference_video(url: str) -> tuple[float | None, tuple[int, int]]:
    """The length (and size) of a video the simulator may fetch: only from SITE_URL, like
    its callbacks, so it never reaches into other networks; other URLs are assumed to hold
    a clip of UNFETCHED_VIDEO_SECONDS. None when the fetch or the file fails."""
    if not callback_allowed(url):
        return catalog.UNFETCHED_VIDEO_SECONDS, (16, 9)
    try:
        response = _callback_session().get(url, timeout=(3, 20), allow_redirects=False)
    except requests.RequestException:
        return None, (16, 9)
    if response.status_code != 200 or len(response.content) > 100 * 1024 * 1024:
        return None, (16, 9)
    info = _probe_bytes(response.content)
    if info is None or not info.video_codec or info.duration is None:
        return None, (16, 9)
    return info.duration, (info.width or 16, info.height or 9)


def _multi_image_fields(request: CreateRequest, body: dict) -> None:
    model = request.model_name
    request.mode = _choice(body, "mode", ("std", "pro"), "std")
    if "duration" in body and not isinstance(body["duration"], str):
        raise _bad('duration must be a string such as "5"')
    request.duration = _choice(body, "duration", catalog.durations(model), "5")
    request.aspect_ratio = _choice(body, "aspect_ratio", catalog.VIDEO_ASPECT_RATIOS, "16:9")
    images = body.get("image_list")
    if images in (None, []):
        raise _bad("image_list is required")
    if not isinstance(images, list) or not all(isinstance(item, dict) for item in images):
        raise _bad('image_list must be a list of {"image": ...} objects')
    if len(images) > catalog.MAX_SUBJECT_IMAGES:
        raise _bad(f"image_list must have at most {catalog.MAX_SUBJECT_IMAGES} items")
    usable = True
    for position, item in enumerate(images):
        checked = _image(item, "image")
        if checked is None:
            raise _bad(f"image_list[{position}].image is required")
        usable = usable and checked
    request.images_usable = usable


def _omni_fields(request: CreateRequest, body: dict) -> None:
    model = request.model_name
    request.mode = _choice(body, "mode", ("std", "pro"), "pro")
    if "duration" in body and not isinstance(body["duration"], str):
        raise _bad('duration must be a string such as "5"')
    request.duration = _choice(body, "duration", catalog.OMNI_DURATIONS, "5")
    request.aspect_ratio = _choice(body, "aspect_ratio", catalog.VIDEO_ASPECT_RATIOS, "16:9")
    images = body.get("image_list") or []
    if not isinstance(images, list) or not all(isinstance(item, dict) for item in images):
        raise _bad('image_list must be a list of {"image_url": ...} objects')
    refer_type = _omni_video(request, body)
    most = catalog.MAX_OMNI_IMAGES_WITH_VIDEO if refer_type else catalog.MAX_OMNI_IMAGES
    if len(images) > most:
        raise _bad(
            f"image_list must have at most {most} items" + (" when video_list is given" if refer_type else "")
        )
    usable = True
    for position, item in enumerate(images):
        checked = _image(item, "image_url")
        if checked is None:
            raise _bad(f"image_list[{position}].image_url is required")
        if item.get("type") not in (None, "first_frame", "end_frame"):
            raise _bad(f"image_list[{position}].type must be first_frame or end_frame")
        if refer_type == "base" and item.get("type"):
            # A base video is edited as it is: it has its own first and last frames.
            raise _bad(f"image_list[{position}].type {item['type']} cannot be used with a base video")
        usable = usable and checked
    request.images_usable = usable
    texts = [request.prompt]
    multi_shot = body.get("multi_shot", False)
    if not isinstance(multi_shot, bool):
        raise _bad("multi_shot must be a boolean")
    if multi_shot and refer_type == "base":
        raise _bad("multi_shot cannot be used with a base video")
    if multi_shot:
        texts = _shots(model, body, int(request.duration))
    _check_image_tokens(texts, len(images))
    for text in texts:
        for number in re.findall(r"<<<video_(\d+)>>>", text):
            if not refer_type or number != "1":
                raise _bad(f"<<<video_{number}>>> refers to a video that is not in video_list")


def _omni_video(request: CreateRequest, body: dict) -> str:
    """Omni video's `video_list` (at most one video, fetched to measure it): its
    refer_type, or "" without a video. A base video sets the clip's length and shape."""
    videos = body.get("video_list")
    if videos in (None, []):
        return ""
    if not isinstance(videos, list) or not all(isinstance(item, dict) for item in videos):
        raise _bad('video_list must be a list of {"video_url": ...} objects')
    if len(videos) > 1:
        raise _bad("video_list must have at most 1 item")
    video = videos[0]
    url = video.get("video_url")
    if not isinstance(url, str) or not url:
        raise _bad("video_list[0].video_url is required")
    if not url.startswith(("http://", "https://")):
        raise _bad("video_list[0].video_url must be an http(s) URL")
    refer_type = video.get("refer_type", "feature")
    if refer_type not in catalog.OMNI_REFER_TYPES:
        raise _bad("video_list[0].refer_type must be feature or base")
    if video.get("keep_original_sound", "yes") not in ("yes", "no"):
        raise _bad("video_list[0].keep_original_sound must be yes or no")
    seconds, (width, height) = _reference_video(url)
    if seconds is None:
        # Like Kling: accepted, and the task fails once the file turns out unusable.
        request.failure_message = "Failed to read the video from video_url"
        seconds = catalog.UNFETCHED_VIDEO_SECONDS
    low, high = catalog.OMNI_VIDEO_SECONDS
    if not low <= seconds <= high:
        raise _bad(f"video_list[0].video_url: the video must be {low:g} to {high:g} seconds long")
    request.reference_video = True
    if refer_type == "base":
        request.duration = _seconds_text(seconds)
        request.aspect_ratio = "9:16" if height > width else ("1:1" if height == width else "16:9")
    return refer_type


def _check_image_tokens(texts: list[str], count: int) -> None:
    for text in texts:
        for number in re.findall(r"<<<image_(\d+)>>>", text):
            if not 1 <= int(number) <= count:
                raise _bad(f"<<<image_{number}>>> refers to an image that is not in image_list")


def _shots(model: str, body: dict, duration: int) -> list[str]:
    """The prompts of a multi-shot storyboard, after Kling's checks."""
    if model not in catalog.OMNI_MULTI_SHOT_MODELS:
        raise _bad(f"multi_shot is not supported by {model}")
    if body.get("shot_type") != "customize":
        raise _bad("shot_type must be customize when multi_prompt is given")
    shots = body.get("multi_prompt")
    low, high = catalog.MULTI_SHOT_RANGE
    if not isinstance(shots, list) or not low <= len(shots) <= high:
        raise _bad(f"multi_prompt must have {low} to {high} items")
    total, prompts = 0, []
    for position, shot in enumerate(shots):
        if not isinstance(shot, dict):
            raise _bad(f"multi_prompt[{position}] must be an object")
        if shot.get("index") != position + 1:
            raise _bad(f"multi_prompt[{position}].index must be {position + 1}")
        text = shot.get("prompt")
        if not isinstance(text, str) or not text.strip() or len(text) > catalog.SHOT_PROMPT_LIMIT:
            raise _bad(f"multi_prompt[{position}].prompt must be 1-{catalog.SHOT_PROMPT_LIMIT} characters")
        # Kling's table says "n" (a string); its own examples send a number: both are taken.
        seconds = shot.get("duration")
        if isinstance(seconds, str) and seconds.isdigit():
            seconds = int(seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
            raise _bad(f"multi_prompt[{position}].duration must be a whole number of seconds")
        total += seconds
        prompts.append(text)
    if total != duration:
        raise _bad(f"the durations in multi_prompt add up to {total}, not duration {duration}")
    return prompts


def _avatar_fields(request: CreateRequest, body: dict) -> None:
    request.mode = _choice(body, "mode", ("std", "pro"), "std")
    image = _image(body, "image")
    if image is None:
        raise _bad("image is required")
    seconds = _sound_file_seconds(body, catalog.AVATAR_SOUND_SECONDS, formats="mp3, wav, m4a or aac")
    request.duration = _seconds_text(seconds)
    request.aspect_ratio = "1:1"
    request.images_usable = image is not False


def _sound_file_seconds(body: dict, bounds: tuple[float, float], *, formats: str, where: str = "") -> float:
    """The length of the sound in `body` (audio_id or raw Base64 sound_file), checked as Kling
    checks it; raises a 1201 answer otherwise."""
    audio_id, sound = _string(body, "audio_id"), _string(body, "sound_file")
    if bool(audio_id) == bool(sound):
        raise _bad(f"{where}exactly one of audio_id and sound_file is required")
    if audio_id:
        raise _bad(f"audio_id {audio_id} not found")  # the simulator makes no speech to refer to
    if sound.startswith("data:"):
        raise _bad("sound_file: Base64 audio must not carry a data: prefix")
    seconds = _sound_seconds(sound)
    if seconds is None:
        raise _bad(f"sound_file: audio format is invalid (use {formats})")
    low, high = bounds
    if not low <= seconds <= high:
        raise _bad(f"sound_file: the audio must be {low:g} to {high:g} seconds long")
    return seconds


def _sound_seconds(sound: str) -> float | None:
    """The length of a sound file given by URL (fetched only under SITE_URL; other URLs are
    assumed to last UNFETCHED_SOUND_SECONDS) or as raw Base64; None when unreadable."""
    if sound.startswith(("http://", "https://")):
        if not callback_allowed(sound):
            return catalog.UNFETCHED_SOUND_SECONDS
        try:
            response = _callback_session().get(sound, timeout=(3, 20), allow_redirects=False)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        content = response.content
    else:
        try:
            content = base64.b64decode(sound, validate=True)
        except (binascii.Error, ValueError):
            return None
    if len(content) > 5 * 1024 * 1024:
        return None
    info = _probe_bytes(content)
    return info.duration if info is not None and info.audio_codec and not info.video_codec else None


def _probe_bytes(content: bytes):
    import tempfile

    from generations.uploads import probe_path

    with tempfile.NamedTemporaryFile(suffix=".media") as handle:
        handle.write(content)
        handle.flush()
        return probe_path(handle.name)


def _text_to_audio_fields(request: CreateRequest, body: dict) -> None:
    if len(request.prompt) > catalog.AUDIO_PROMPT_LIMIT:
        raise _bad(f"prompt must be at most {catalog.AUDIO_PROMPT_LIMIT} characters")
    low, high = catalog.TEXT_TO_AUDIO_SECONDS
    seconds = body.get("duration", 5.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not low <= seconds <= high:
        raise _bad(f"duration must be a number from {low:g} to {high:g}")
    if round(seconds, 1) != seconds:
        raise _bad("duration supports one decimal place at most")
    request.duration = _seconds_text(float(seconds))


def _video_to_audio_fields(request: CreateRequest, body: dict, owner: str) -> None:
    for name in ("sound_effect_prompt", "bgm_prompt"):
        if len(_string(body, name)) > catalog.AUDIO_PROMPT_LIMIT:
            raise _bad(f"{name} must be at most {catalog.AUDIO_PROMPT_LIMIT} characters")
    if body.get("asmr_mode") is not None and not isinstance(body["asmr_mode"], bool):
        raise _bad("asmr_mode must be true or false")
    video_id, video_url = _string(body, "video_id"), _string(body, "video_url")
    if bool(video_id) == bool(video_url):
        raise _bad("exactly one of video_id and video_url is required")
    if video_id:
        parent = _own_video(video_id, owner)
        seconds = float(parent.duration or 0)
        request.parent = parent
        request.aspect_ratio = parent.aspect_ratio or "16:9"
    else:
        if not video_url.startswith(("http://", "https://")):
            raise _bad("video_url must be an http(s) URL")
        seconds, (width, height) = _reference_video(video_url)
        if seconds is None:
            request.failure_message = "Failed to read the video from video_url"
            seconds = catalog.UNFETCHED_VIDEO_SECONDS
        request.aspect_ratio = "9:16" if height > width else ("1:1" if height == width else "16:9")
    low, high = catalog.VIDEO_TO_AUDIO_SECONDS
    if not low <= seconds <= high:
        raise _bad(f"the video must be {low:g} to {high:g} seconds long")
    request.duration = _seconds_text(seconds)


def _own_video(video_id: str, owner: str) -> SimTask:
    """The owner's succeeded video task a video id names ("<task_id>0"), within 30 days."""
    parent = (
        SimTask.objects.filter(
            created_by=owner, task_id=video_id[:-1], outcome=SimTask.SUCCEED, package="video"
        ).first()
        if video_id.endswith("0")
        else None
    )
    if parent is None or parent.status_at() != SimTask.SUCCEED:
        raise _bad(f"video_id {video_id} not found")
    if now_ms() - parent.finish_ms > catalog.EXTEND_SOURCE_DAYS * 24 * 3600 * 1000:
        raise _bad(f"video_id {video_id} has expired: videos can be reused within 30 days")
    return parent


# --- Lip-sync: identify-face (synchronous) and advanced-lip-sync -------------------------


def identify_face(body: Any, owner: str, base_url: str, faults: SimFaults) -> dict[str, Any]:
    """identify-face's `data`: a session (kept as a finished task, its id the session id)
    and the faces found, or the SimError Kling would answer."""
    if not isinstance(body, dict):
        raise SimError(400, 1200, "Invalid request parameters: the body must be a JSON object")
    video_id, video_url = _string(body, "video_id"), _string(body, "video_url")
    if bool(video_id) == bool(video_url):
        raise _bad("exactly one of video_id and video_url is required")
    parent = None
    if video_id:
        parent = _own_video(video_id, owner)
        seconds = float(parent.duration or 0)
        aspect_ratio = parent.aspect_ratio or "16:9"
        if seconds > catalog.FACE_VIDEO_SECONDS[1]:
            raise _bad(f"video_id {video_id}: only videos of at most 60 seconds are supported")
    else:
        if not video_url.startswith(("http://", "https://")):
            raise _bad("video_url must be an http(s) URL")
        fetched, (width, height) = _reference_video(video_url)
        if fetched is None:
            raise _bad("video_url: failed to read the video (use .mp4 or .mov, at most 100MB)")
        seconds = fetched
        low_side, high_side = catalog.FACE_VIDEO_SIDES
        if callback_allowed(video_url) and not (
            low_side <= width <= high_side and low_side <= height <= high_side
        ):
            raise _bad(f"video_url: each side of the video must be {low_side} to {high_side} px")
        aspect_ratio = "9:16" if height > width else ("1:1" if height == width else "16:9")
    low, high = catalog.FACE_VIDEO_SECONDS
    if not low <= seconds <= high:
        raise _bad(f"the video must be {low:g} to {high:g} seconds long")
    now = now_ms()
    session = SimTask.objects.create(
        task_id=new_task_id(),
        created_by=owner,
        product=catalog.IDENTIFY_FACE,
        package="video",
        slots=0,  # answered at once: takes no concurrency
        model_name="",
        duration=_seconds_text(seconds),
        aspect_ratio=aspect_ratio,
        base_url=base_url.rstrip("/"),
        created_ms=now,
        processing_ms=now,
        finish_ms=now,
        units=catalog.FACE_UNITS,
        parent=parent,
    )
    return {
        "session_id": session.task_id,
        "final_unit_deduction": catalog.format_units(catalog.FACE_UNITS),
        "face_data": face_data(session, faults.url_ttl_seconds),
    }


def face_windows(session: SimTask) -> list[tuple[str, int, int]]:
    """(face_id, start_time, end_time) in ms: one face through the whole video, and from
    4 s on a second one in its second half."""
    total = round(float(session.duration or 0) * 1000)
    faces = [("0", 0, total)]
    if total >= 4000:
        faces.append(("1", total // 2, total))
    return faces


def face_data(session: SimTask, ttl_seconds: int) -> list[dict[str, Any]]:
    return [
        {
            "face_id": face_id,
            "face_image": cdn_url(
                session, "face", int(face_id), f"{session.task_id}-face{face_id}.jpg", ttl_seconds
            ),
            "start_time": start,
            "end_time": end,
        }
        for face_id, start, end in face_windows(session)
    ]


def _millis(item: dict, name: str) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"face_choose.{name} is required and must be an integer (ms)")
    if value < 0:
        raise _bad(f"face_choose.{name} must not be negative")
    return value


def _volume(item: dict, name: str) -> None:
    value = item.get(name, 1)
    low, high = catalog.VOLUME_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(f"face_choose.{name} must be a number from {low:g} to {high:g}")


def _lip_sync_fields(request: CreateRequest, body: dict, owner: str) -> None:
    session_id = _string(body, "session_id")
    if not session_id:
        raise _bad("session_id is required")
    session = SimTask.objects.filter(
        created_by=owner, product=catalog.IDENTIFY_FACE, task_id=session_id
    ).first()
    if session is None:
        raise _bad(f"session_id {session_id} not found")
    if now_ms() - session.created_ms > catalog.FACE_SESSION_MS:
        raise _bad(f"session_id {session_id} has expired: sessions are valid for 24 hours")
    choose = body.get("face_choose")
    if not isinstance(choose, list) or len(choose) != 1 or not isinstance(choose[0], dict):
        raise _bad("face_choose must be a list of exactly one face")
    item = choose[0]
    faces = {face_id: (start, end) for face_id, start, end in face_windows(session)}
    face_id = str(item.get("face_id") or "")
    if face_id not in faces:
        raise _bad(f"face_choose.face_id {face_id or '(empty)'} not found in session {session_id}")
    seconds = _sound_file_seconds(
        item, catalog.LIP_SYNC_SOUND_SECONDS, formats="mp3, wav or m4a", where="face_choose: "
    )
    start, end, insert = (
        _millis(item, "sound_start_time"),
        _millis(item, "sound_end_time"),
        _millis(item, "sound_insert_time"),
    )
    for name in ("sound_volume", "original_audio_volume"):
        _volume(item, name)
    video_ms = round(float(session.duration or 0) * 1000)
    face_start, face_end = faces[face_id]
    if end - start < catalog.LIP_SYNC_MIN_MS:
        raise _bad("the cropped audio must be at least 2 seconds long")
    if end > int(seconds * 1000) + 1:
        raise _bad("sound_end_time must not be later than the end of the audio")
    if insert + (end - start) > video_ms:
        raise _bad("the inserted audio must end within the video")
    if min(insert + end - start, face_end) - max(insert, face_start) < catalog.LIP_SYNC_MIN_MS:
        raise _bad("the inserted audio must overlap the face's lip-sync window by at least 2 seconds")
    request.duration = session.duration
    request.aspect_ratio = session.aspect_ratio or "16:9"
    request.parent = session.parent


def _extend_fields(request: CreateRequest, body: dict, owner: str) -> None:
    video_id = _string(body, "video_id")
    if not video_id:
        raise _bad("video_id is required")
    _unit_float(body, "cfg_scale")
    parent = _own_video(video_id, owner)
    if parent.model_name not in catalog.EXTENDABLE_MODELS:
        raise _bad(f"video_id {video_id}: videos made with {parent.model_name} cannot be extended")
    total = float(parent.duration or 0) + catalog.EXTEND_SECONDS
    if total > catalog.EXTEND_MAX_TOTAL_SECONDS:
        raise _bad("video_id: the total duration after extension must not exceed 3 minutes")
    request.model_name = parent.model_name
    request.mode = parent.mode or "std"
    request.aspect_ratio = parent.aspect_ratio or "16:9"
    request.duration = _seconds_text(total)
    request.parent = parent


def _image_fields(request: CreateRequest, body: dict) -> None:
    model = request.model_name
    request.aspect_ratio = _choice(body, "aspect_ratio", catalog.IMAGE_ASPECT_RATIOS, "16:9")
    if model == "kling-v1" and request.aspect_ratio == "21:9":
        raise _bad("aspect_ratio 21:9 is not supported by kling-v1")
    request.resolution = _choice(body, "resolution", catalog.RESOLUTIONS, "1k")
    if request.resolution == "2k" and model in ("kling-v1", "kling-v1-5"):
        raise _bad(f"resolution 2k is not supported by {model}")
    request.n = _count(body)
    _unit_float(body, "image_fidelity")
    _unit_float(body, "human_fidelity")
    reference = _image(body, "image")
    request.reference_image = reference is not None
    request.images_usable = reference is not False


def _count(body: dict) -> int:
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
        raise _bad("n must be an integer from 1 to 9")
    return n


def _picture_list(body: dict, name: str, key: str, most: int, *, required: bool) -> bool:
    """Check a list of {key: picture} objects; whether every picture is usable."""
    items = body.get(name)
    if items in (None, []):
        if required:
            raise _bad(f"{name} is required")
        return True
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _bad(f'{name} must be a list of {{"{key}": ...}} objects')
    if len(items) > most:
        raise _bad(f"{name} must have at most {most} items")
    usable = True
    for position, item in enumerate(items):
        checked = _image(item, key)
        if checked is None:
            raise _bad(f"{name}[{position}].{key} is required")
        usable = usable and checked
    return usable


def _multi_image2image_fields(request: CreateRequest, body: dict) -> None:
    request.aspect_ratio = _choice(body, "aspect_ratio", catalog.IMAGE_ASPECT_RATIOS, "16:9")
    request.n = _count(body)
    usable = _picture_list(
        body, "subject_image_list", "subject_image", catalog.MAX_SUBJECT_PICTURES, required=True
    )
    for name in ("scene_image", "style_image"):
        usable = usable and _image(body, name) is not False
    request.images_usable = usable
    request.reference_image = True


def _omni_image_fields(request: CreateRequest, body: dict) -> None:
    model = request.model_name
    request.aspect_ratio = _choice(body, "aspect_ratio", (*catalog.IMAGE_ASPECT_RATIOS, "auto"), "auto")
    request.resolution = _choice(body, "resolution", catalog.OMNI_IMAGE_RESOLUTIONS, "1k")
    if request.resolution == "4k" and model != "kling-v3-omni":
        raise _bad(f"resolution 4k is not supported by {model}")
    n = _count(body)
    result_type = _choice(body, "result_type", ("single", "series"), "single")
    if result_type == "series":
        amount = body.get("series_amount", "auto")
        if amount == "auto":
            amount = catalog.AUTO_SERIES_AMOUNT
        low, high = catalog.SERIES_RANGE
        if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= high:
            raise _bad(f'series_amount must be an integer from {low} to {high} or "auto"')
        n *= amount
    elif "series_amount" in body:
        raise _bad("series_amount is only for result_type series")
    request.n = n
    count = len(body.get("image_list") or [])
    elements = body.get("element_list") or []
    if not isinstance(elements, list):
        raise _bad("element_list must be a list")
    if count + len(elements) > catalog.MAX_OMNI_IMAGE_REFERENCES:
        raise _bad(
            f"image_list and element_list must have at most {catalog.MAX_OMNI_IMAGE_REFERENCES} items in all"
        )
    request.images_usable = _picture_list(
        body, "image_list", "image", catalog.MAX_OMNI_IMAGE_REFERENCES, required=False
    )
    request.reference_image = bool(count)
    _check_image_tokens([request.prompt], count)


def _try_on_fields(request: CreateRequest, body: dict) -> None:
    usable = True
    for name in ("human_image", "cloth_image"):
        checked = _image(body, name)
        if checked is None:
            raise _bad(f"{name} is required")
        usable = usable and checked
    request.images_usable = usable
    request.reference_image = True


def _effects_fields(request: CreateRequest, body: dict) -> None:
    """`effect_scene` and its `input`: one `image`, or two `images` for the two-person
    scenes, with `model_name` and `mode` only where the scene takes them."""
    scene = _string(body, "effect_scene")
    if not scene:
        raise _bad("effect_scene is required")
    if scene in catalog.RETIRED_EFFECTS:
        raise _bad(f"effect_scene {scene} is not supported")
    given = body.get("input")
    if not isinstance(given, dict):
        raise _bad("input is required")
    duration = given.get("duration", "5")
    if duration not in ("5", "10"):
        raise _bad('input.duration must be "5" or "10"')
    lengths = catalog.EFFECT_DURATIONS.get(scene)
    if lengths and duration not in lengths:
        allowed = " or ".join(f'"{d}"' for d in lengths)
        raise _bad(f"effect_scene {scene} supports input.duration {allowed} only")
    request.duration = duration
    request.mode = "std"
    request.reference_image = True
    two_person = scene in catalog.DUAL_EFFECT_MODELS or scene in catalog.DUAL_EFFECTS
    if not two_person:
        usable = _image(given, "image")
        if usable is None:
            raise _bad("input.image is required")
        request.images_usable = usable
        return
    images = given.get("images")
    if not isinstance(images, list) or len(images) != 2:
        raise _bad("input.images must hold two images")
    request.images_usable = all(_image({"image": item}, "image") for item in images)
    models = catalog.DUAL_EFFECT_MODELS.get(scene)
    if models is None:
        if "model_name" in given or "mode" in given:
            raise _bad(f"{scene} takes no model_name or mode")
        return
    model = given.get("model_name") or "kling-v1"
    if model not in models:
        raise _bad(f"{scene} supports model_name {', '.join(models)}")
    mode = given.get("mode") or "std"
    if mode not in ("std", "pro"):
        raise _bad("input.mode must be std or pro")
    request.model_name = model
    request.mode = mode


def _expand_fields(request: CreateRequest, body: dict) -> None:
    image = _image(body, "image")
    if image is None:
        raise _bad("image is required")
    request.images_usable = image
    request.reference_image = True
    request.n = _count(body)
    ratios = {}
    for side in ("up", "down", "left", "right"):
        name = f"{side}_expansion_ratio"
        value = body.get(name)
        if value is None:
            raise _bad(f"{name} is required")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value <= catalog.MAX_EXPANSION_RATIO
        ):
            raise _bad(f"{name} must be a number in [0, {catalog.MAX_EXPANSION_RATIO}]")
        ratios[side] = float(value)
    area = (1 + ratios["left"] + ratios["right"]) * (1 + ratios["up"] + ratios["down"]) - 1
    if area > catalog.MAX_NEW_AREA + 1e-9:
        raise _bad(f"the expanded area must not exceed {catalog.MAX_NEW_AREA} times the original image")


# --- Creating and reading tasks ----------------------------------------------------------


def new_task_id() -> str:
    """18 digits, like Kling's recent ids (e.g. "867283741759111202")."""
    return str(10**17 + secrets.randbelow(9 * 10**17))


def create_task(request: CreateRequest, faults: SimFaults, base_url: str, owner: str) -> SimTask:
    """Store a task for `owner` (raises 1303 over its concurrency limit, 1201 for a reused external id)."""
    package = catalog.package(request.product)
    slots = request.n if package == "image" else 1
    outcome, failure = _outcome(request, faults)
    units = catalog.units(
        request.product,
        request.model_name,
        mode=request.mode or "std",
        duration=request.duration or "5",
        sound=request.sound or "off",
        voice=request.voice,
        n=request.n,
        reference_image=request.reference_image,
        resolution=request.resolution,
        reference_video=request.reference_video,
    )
    with transaction.atomic():
        # Serialize creates so the in-flight count cannot be overrun by a race (a no-op
        # lock on SQLite, where IMMEDIATE transactions already run one at a time).
        list(SimFaults.objects.select_for_update().filter(pk=faults.pk).values_list("pk", flat=True))
        now = now_ms()
        _check_room(owner, package, slots, faults, now)
        _check_external_id_unused(owner, request)
        processing = now + faults.queue_ms
        task = SimTask.objects.create(
            task_id=new_task_id(),
            created_by=owner,
            product=request.product,
            package=package,
            slots=slots,
            external_task_id=request.external_task_id,
            model_name=request.model_name,
            mode=request.mode,
            duration=request.duration,
            aspect_ratio=request.aspect_ratio,
            sound=request.sound,
            resolution=request.resolution,
            n=request.n,
            prompt=request.prompt,
            callback_url=request.callback_url,
            base_url=base_url.rstrip("/"),
            created_ms=now,
            processing_ms=processing,
            finish_ms=processing + faults.run_ms,
            outcome=outcome,
            failure_message=failure,
            units=units if outcome == SimTask.SUCCEED else Decimal(0),
            parent=request.parent,
        )
        if task.callback_url:
            schedule_callbacks(task, faults)
    return task


def _outcome(request: CreateRequest, faults: SimFaults) -> tuple[str, str]:
    """How the task will end: (outcome, failure message)."""
    if request.failure_message:
        return SimTask.FAILED, request.failure_message
    if not request.images_usable:
        return SimTask.FAILED, IMAGE_PROBLEM
    if "[sim:fail]" in request.prompt or roll(faults.rate_failed_task):
        return SimTask.FAILED, faults.failed_task_message
    return SimTask.SUCCEED, ""


def _check_room(owner: str, package: str, slots: int, faults: SimFaults, now: int) -> None:
    if not faults.concurrency_limit:
        return
    in_flight = (
        SimTask.objects.filter(created_by=owner, package=package, finish_ms__gt=now).aggregate(
            total=Sum("slots")
        )["total"]
        or 0
    )
    if in_flight + slots > faults.concurrency_limit:
        raise SimError(429, 1303, "parallel task over resource pack limit")


def _check_external_id_unused(owner: str, request: CreateRequest) -> None:
    if (
        request.external_task_id
        and SimTask.objects.filter(
            created_by=owner, product=request.product, external_task_id=request.external_task_id
        ).exists()
    ):
        raise _bad(f"external_task_id {request.external_task_id} already exists")


def schedule_callbacks(task: SimTask, faults: SimFaults) -> None:
    """One callback per status change, with the lost/duplicate/reorder knobs applied."""
    planned: list[tuple[str, int]] = []
    for status in ("submitted", "processing", task.outcome):
        due = task.changed_at(status)
        if roll(faults.rate_callback_lost):
            continue
        planned.append((status, due))
        if roll(faults.rate_callback_duplicate):
            planned.append((status, due + 300))
    if roll(faults.rate_callback_reordered):
        # The "processing" news arrives after the final one, as a slow retry would.
        planned = [(s, task.finish_ms + 500 if s == "processing" else due) for s, due in planned]
    SimCallback.objects.bulk_create(SimCallback(task=task, status=s, due_ms=due) for s, due in planned)
    # The "submitted" one is due at once: wake this process's sender rather than let it sleep on.
    transaction.on_commit(_wake.set)


def find_task(product: str, reference: str, owner: str) -> SimTask | None:
    """One of `owner`'s tasks by task id, or by external_task_id in the same path segment."""
    mine = SimTask.objects.filter(created_by=owner, product=product)
    task = mine.filter(task_id=reference).first()
    if task is None and reference:
        task = mine.filter(external_task_id=reference).first()
    return task


def list_tasks(product: str, owner: str, page: int, page_size: int) -> list[SimTask]:
    start = (page - 1) * page_size
    mine = SimTask.objects.filter(created_by=owner, product=product).select_related("parent")
    return list(mine.order_by("-created_ms", "-id")[start : start + page_size])


# --- Answers -----------------------------------------------------------------------------


def cdn_url(task: SimTask, kind: str, index: int, filename: str, ttl_seconds: int) -> str:
    expires = task.finish_ms + ttl_seconds * 1000
    token = signing.dumps([task.task_id, kind, index, expires], salt=CDN_SALT, compress=True)
    return f"{task.base_url}/cdn/{token}/{filename}"


def task_object(
    task: SimTask, faults: SimFaults, *, at_ms: int | None = None, as_status: str | None = None
) -> dict[str, Any]:
    """Kling's legacy task object as of now (or as of `as_status`, for a late callback)."""
    status = as_status or task.status_at(at_ms)
    data: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": task.failure_message if status == SimTask.FAILED else "",
        "task_info": _task_info(task, faults),
        "task_result": {},
        "watermark_info": {"enabled": False},
        "created_at": task.created_ms,
        "updated_at": task.changed_at(status),
    }
    if status == SimTask.SUCCEED:
        data["final_unit_deduction"] = catalog.format_units(task.units)
        ttl = faults.url_ttl_seconds
        if task.package == "audio":
            data["task_result"] = _audio_result(task, ttl)
        elif task.package == "video":
            url = cdn_url(task, "video", 0, f"{task.task_id}.mp4", ttl)
            data["task_result"] = {
                "videos": [
                    {
                        "id": f"{task.task_id}0",
                        "url": url,
                        "watermark_url": url,
                        "duration": task.duration,
                        "cover_url": cdn_url(task, "cover", 0, f"{task.task_id}.jpg", ttl),
                    }
                ]
            }
        else:
            images = []
            for index in range(task.n):
                url = cdn_url(task, "image", index, f"{task.task_id}-{index}.png", ttl)
                images.append({"index": index, "url": url, "watermark_url": url})
            data["task_result"] = {"images": images}
    elif status == SimTask.FAILED:
        data["final_unit_deduction"] = "0"
    return data


def _audio_result(task: SimTask, ttl: int) -> dict[str, Any]:
    """`audios[]` with MP3 and WAV of the task's length; video to audio also the dubbed video."""
    result: dict[str, Any] = {
        "audios": [
            {
                "id": f"{task.task_id}a0",
                "url_mp3": cdn_url(task, "audio_mp3", 0, f"{task.task_id}.mp3", ttl),
                "url_wav": cdn_url(task, "audio_wav", 0, f"{task.task_id}.wav", ttl),
                "duration_mp3": task.duration,
                "duration_wav": task.duration,
            }
        ]
    }
    if task.product == catalog.VIDEO2AUDIO:
        url = cdn_url(task, "video", 0, f"{task.task_id}.mp4", ttl)
        result["videos"] = [
            {"id": f"{task.task_id}0", "url": url, "watermark_url": url, "duration": task.duration}
        ]
    return result


def _task_info(task: SimTask, faults: SimFaults) -> dict[str, Any]:
    info: dict[str, Any] = {"external_task_id": task.external_task_id} if task.external_task_id else {}
    if task.parent is not None:
        parent = task.parent
        info["parent_video"] = {
            "id": f"{parent.task_id}0",
            "url": cdn_url(parent, "video", 0, f"{parent.task_id}.mp4", faults.url_ttl_seconds),
            "duration": parent.duration,
        }
    return info


def created_object(task: SimTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "task_status": "submitted",
        "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
        "created_at": task.created_ms,
        "updated_at": task.created_ms,
    }


def account_costs(start_ms: int, end_ms: int, owner: str) -> dict[str, Any]:
    """`/account/costs` inner data: two trial packs, drawn down by `owner`'s succeeded tasks."""
    now = now_ms()
    packs = []
    for package_type, name, total in (
        ("video", "Trial-Video-1000Units-10Con-1Months", Decimal(1000)),
        ("image", "Trial-Image-10000Units-10Con-1Months", Decimal(10000)),
    ):
        used = (
            SimTask.objects.filter(
                created_by=owner, package=package_type, outcome=SimTask.SUCCEED, finish_ms__lte=now
            ).aggregate(total=Sum("units"))["total"]
            or 0
        )
        packs.append(
            {
                "resource_pack_name": name,
                "resource_pack_id": f"sim-{package_type}-pack",
                "resource_pack_type": "decreasing_total",
                "total_quantity": float(total),
                "remaining_quantity": float(max(total - used, 0)),
                "purchase_time": start_ms,
                "effective_time": start_ms,
                "invalid_time": end_ms + 30 * 24 * 3600 * 1000,
                "status": "online" if used < total else "runOut",
            }
        )
    return {"code": 0, "msg": "success", "resource_pack_subscribe_infos": packs}


def media_path(token: str):
    """The file behind a CDN token; raises SimError(404) / SimError(403) like a CDN."""
    from generations.simulator import media

    try:
        task_id, kind, index, expires = signing.loads(token, salt=CDN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise SimError(404, 0, "Not Found") from None
    if now_ms() > expires:
        raise SimError(403, 0, "Forbidden: this URL has expired")
    task = SimTask.objects.filter(task_id=task_id).first()
    if task is None or task.status_at() != SimTask.SUCCEED:
        raise SimError(404, 0, "Not Found")
    if kind in ("audio_mp3", "audio_wav") and task.package == "audio":
        seconds = float(task.duration or 5)
        fmt = kind.removeprefix("audio_")
        return media.audio_file(
            seconds, fmt, variant_for(task.prompt)
        ), "audio/mpeg" if fmt == "mp3" else "audio/wav"
    label = catalog.LABELLED_PRODUCTS.get(task.product)
    if kind == "video" and label:
        seconds = float(task.duration or catalog.UNFETCHED_VIDEO_SECONDS)
        return media.labelled_video_file(
            task.aspect_ratio, variant_for(task.prompt), seconds, label
        ), "video/mp4"
    if kind == "video":
        return media.video_file(task.aspect_ratio, variant_for(task.prompt)), "video/mp4"
    if kind == "face" and task.product == catalog.IDENTIFY_FACE:
        return media.cover_file("1:1", variant_for(f"{task.task_id}:{index}")), "image/jpeg"
    if kind == "cover":
        return media.cover_file(task.aspect_ratio, variant_for(task.prompt)), "image/jpeg"
    if kind == "image" and 0 <= index < task.n:
        return media.image_file(task.prompt, task.aspect_ratio, task.resolution, index), "image/png"
    raise SimError(404, 0, "Not Found")


# --- Callbacks ---------------------------------------------------------------------------

_session_lock = threading.Lock()
_sessions: dict[int, requests.Session] = {}


def _callback_session() -> requests.Session:
    pid = os.getpid()
    with _session_lock:
        if pid not in _sessions:
            _sessions[pid] = requests.Session()
        return _sessions[pid]


def _due(now: int):
    return SimCallback.objects.filter(done=False, due_ms__lte=now).filter(
        Q(claimed_ms__isnull=True) | Q(claimed_ms__lt=now - CALLBACK_CLAIM_MS)
    )


def deliver_due_callbacks(limit: int = 200, senders: int = 1) -> int:
    """POST every callback that is due; returns how many were delivered (2xx).

    Each delivery is claimed first by a conditional UPDATE, so several web processes (each
    with its own callback thread) never send the same callback twice by accident. With
    `senders` > 1 that many threads share the work, as Kling's own senders do: each takes
    the next callback as soon as it is free, so one slow answer does not hold back the rest.
    """
    faults = SimFaults.current()
    due = _due_callbacks(now_ms(), limit)
    if senders <= 1 or len(due) <= 1:
        return sum(_claim_and_deliver(callback, faults) for callback in due)
    pool = CallbackSenders(min(senders, len(due)))
    pool.offer(due, faults)
    pool.close()
    return pool.delivered


def _due_callbacks(now: int, limit: int) -> list[SimCallback]:
    return list(_due(now).select_related("task", "element").order_by("due_ms", "id")[:limit])


def _claim_and_deliver(callback: SimCallback, faults: SimFaults) -> int:
    now = now_ms()
    if not _due(now).filter(pk=callback.pk).update(claimed_ms=now):
        return 0  # sent meanwhile, or claimed by another process
    return _deliver(callback, faults)


class CallbackSenders:
    """Threads sending callbacks from one queue: each takes the next as soon as it is free,
    with no batch to wait for (the callback thread keeps them fed as callbacks fall due).

    A callback is claimed when a sender takes it, not when it is queued, so the queue is
    kept short (`room`) and a claim always means a send under way.
    """

    def __init__(self, senders: int, freed: threading.Event | None = None) -> None:
        self.work: queue.Queue[tuple[SimCallback, SimFaults] | None] = queue.Queue()
        self.pending: set[int] = set()  # queued or being sent
        self.lock = threading.Lock()
        self.freed = freed or threading.Event()  # set whenever a sender is done with one
        self.delivered = 0
        self.threads = [
            threading.Thread(target=self._send, name=f"kling-simulator-callback-{i}", daemon=True)
            for i in range(senders)
        ]
        for thread in self.threads:
            thread.start()

    def room(self) -> int:
        with self.lock:
            return 2 * len(self.threads) - len(self.pending)

    def offer(self, callbacks: list[SimCallback], faults: SimFaults) -> int:
        """Queue the callbacks not already queued or being sent; returns how many."""
        with self.lock:
            fresh = [callback for callback in callbacks if callback.pk not in self.pending]
            self.pending.update(callback.pk for callback in fresh)
        for callback in fresh:
            self.work.put((callback, faults))
        return len(fresh)

    def close(self, timeout: float | None = None) -> None:
        """Stop every sender once the queue is sent; with a `timeout` (the callback thread
        stopping), drop what is still queued and wait at most that long for sends under way
        (what is dropped was never claimed: it is sent later, by this or another process)."""
        if timeout is not None:
            while True:
                try:
                    item = self.work.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    with self.lock:
                        self.pending.discard(item[0].pk)
        for _ in self.threads:
            self.work.put(None)
        until = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            thread.join(None if until is None else max(0.0, until - time.monotonic()))

    def _send(self) -> None:
        try:
            while (item := self.work.get()) is not None:
                callback, faults = item
                delivered = 0
                try:
                    delivered = _claim_and_deliver(callback, faults)
                except Exception:
                    logger.exception("simulator: callback %s failed", callback.pk)
                finally:
                    with self.lock:
                        self.pending.discard(callback.pk)
                        self.delivered += delivered
                    self.freed.set()
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection


def _callback_body(callback: SimCallback, faults: SimFaults) -> dict[str, Any]:
    if callback.task is not None:
        return task_object(callback.task, faults, as_status=callback.status)
    # A custom element's creation task, as of the status change this callback reports.
    return callback.element.task_object(callback.due_ms)


def _deliver(callback: SimCallback, faults: SimFaults) -> int:
    url = callback.callback_url
    if not callback_allowed(url):
        # Stored before SITE_URL changed (or before the check existed): never sent anywhere else.
        SimCallback.objects.filter(pk=callback.pk).update(
            done=True, last_error=f"not sent: callback_url is not under {settings.SITE_URL}/"[:300]
        )
        logger.warning("simulator: refused callback %s to %s (not under SITE_URL)", callback.pk, url)
        return 0
    body = json.dumps(_callback_body(callback, faults), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "kling-simulator"}
    if settings.KLING_WEBHOOK_SECRET:
        headers.update(webhook_signature.headers(settings.KLING_WEBHOOK_SECRET, f"sim-{callback.pk}", body))
    status, error = None, ""
    try:
        response = _callback_session().post(
            url, data=body, headers=headers, timeout=(3, 10), allow_redirects=False
        )
        status = response.status_code
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    attempts = callback.attempts + 1
    ok = status is not None and 200 <= status < 300
    fields: dict[str, Any] = {"attempts": attempts, "response_status": status, "last_error": error}
    if ok:
        fields.update(done=True, delivered_ms=now_ms())
    elif attempts >= CALLBACK_ATTEMPTS:
        fields.update(done=True)
        logger.warning("simulator: gave up on callback %s to %s: %s", callback.pk, url, error or status)
    else:
        fields.update(due_ms=now_ms() + 2000 * 4 ** (attempts - 1), claimed_ms=None)
    SimCallback.objects.filter(pk=callback.pk).update(**fields)
    return int(ok)


_thread_lock = threading.Lock()
_thread: threading.Thread | None = None
_thread_stop = threading.Event()
_wake = threading.Event()  # new callbacks, a free sender, or stop: the callback thread looks again


def ensure_callback_thread() -> bool:
    """Start the callback sender in this web process, once, unless SIMULATOR_CALLBACK_THREAD
    is off (tests turn it off and deliver callbacks themselves)."""
    if not settings.SIMULATOR_CALLBACK_THREAD:
        return False
    return start_callback_thread()


def start_callback_thread(interval: float = 0.5) -> bool:
    global _thread
    with _thread_lock:
        if _thread is not None and _thread.is_alive():
            return False
        _thread_stop.clear()
        _thread = threading.Thread(
            target=_callback_loop, args=(interval,), name="kling-simulator-callbacks", daemon=True
        )
        _thread.start()
        return True


def stop_callback_thread(timeout: float = 5.0) -> None:
    global _thread
    with _thread_lock:
        thread, _thread = _thread, None
    if thread is not None:
        _thread_stop.set()
        _wake.set()
        thread.join(timeout)


def _callback_loop(interval: float) -> None:
    """Keep the senders fed: queue what is due as room frees up, else sleep until the next
    callback falls due or new ones are scheduled (at most `interval`, so callbacks made by
    other processes and changed knobs are seen)."""
    pool = CallbackSenders(CALLBACK_SENDERS, freed=_wake)
    try:
        while not _thread_stop.is_set():
            wait = interval
            try:
                _wake.clear()
                room = pool.room()
                # Refilled when half of it is free: the senders never run dry, and a burst
                # costs one read per few sends, not one per send.
                if room >= CALLBACK_SENDERS:
                    now = now_ms()
                    asked = room + len(pool.pending)
                    due = _due_callbacks(now, asked)
                    pool.offer(due, SimFaults.current())
                    if len(due) < asked:  # all that is due is queued: sleep until the next
                        wait = min(interval, _seconds_to_next_due(now))
            except Exception:
                logger.exception("simulator: callback delivery failed")
            finally:
                close_old_connections()
            _wake.wait(wait)
    finally:
        pool.close(timeout=5)
        connection.close()


def _seconds_to_next_due(now: int) -> float:
    upcoming = SimCallback.objects.filter(done=False, due_ms__gt=now).aggregate(first=Min("due_ms"))["first"]
    return 3600.0 if upcoming is None else max(0.01, (upcoming - now) / 1000)
