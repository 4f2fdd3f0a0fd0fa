"""What each Kling model supports, per kind: the one table behind forms, validation and prices.

Transcribed from Kling's API documentation (docs/kling.md sections 3 and 9). A
feature that works only for some modes or durations carries a `Rule` saying where. The
form offers only what the table allows, `check()` refuses anything else before a credit
is charged, and `pricing` seeds one price per combination the table allows.

Models Kling has discontinued stay in the table (so their history and prices still make
sense) and are switched off in one place: `settings.KLING_DISABLED_MODELS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from generations.models import Kind

# Kling's product path per kind: a task is only visible at the path that created it.
PRODUCTS = {
    Kind.TEXT2IMAGE: "images/generations",
    Kind.TEXT2VIDEO: "videos/text2video",
    Kind.IMAGE2VIDEO: "videos/image2video",
    Kind.MOTION_CONTROL: "videos/motion-control",
    Kind.MULTI_IMAGE2VIDEO: "videos/multi-image2video",
    Kind.VIDEO_EXTEND: "videos/video-extend",
    Kind.TEXT2AUDIO: "audio/text-to-audio",
    Kind.VIDEO2AUDIO: "audio/video-to-audio",
    Kind.AVATAR: "videos/avatar/image2video",
    Kind.OMNI_VIDEO: "videos/omni-video",
    Kind.MULTI_IMAGE2IMAGE: "images/multi-image2image",
    Kind.OMNI_IMAGE: "images/omni-image",
    Kind.VIRTUAL_TRY_ON: "images/kolors-virtual-try-on",
    Kind.EXPAND_IMAGE: "images/editing/expand",
    Kind.VIDEO_EFFECTS: "videos/effects",
    Kind.LIP_SYNC: "videos/advanced-lip-sync",
}
# Kling's synchronous face detection that lip-sync starts from (not a task of its own).
IDENTIFY_FACE_PATH = "videos/identify-face"

# Kinds billed per second of output (their Price rows hold credits per second).
PER_SECOND_KINDS = frozenset({Kind.MOTION_CONTROL, Kind.AVATAR})
# Kinds whose prompt may be empty: an input says what to show.
PROMPT_OPTIONAL_KINDS = frozenset(
    {
        Kind.IMAGE2VIDEO,
        Kind.MOTION_CONTROL,
        Kind.VIDEO_EXTEND,
        Kind.VIDEO2AUDIO,
        Kind.AVATAR,
        Kind.VIRTUAL_TRY_ON,
        Kind.EXPAND_IMAGE,
        Kind.VIDEO_EFFECTS,
        Kind.LIP_SYNC,
    }
)
# Kinds priced per call whatever their options (one Price row per model and mode).
PER_CALL_KINDS = frozenset({Kind.VIDEO_EXTEND, Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO})

MODE_LABELS = {"std": gettext_noop("Standard"), "pro": gettext_noop("Professional"), "4k": "4K"}
VIDEO_ASPECT_RATIOS = ("16:9", "9:16", "1:1")
IMAGE_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
ASPECT_RATIO_LABELS = {
    "16:9": gettext_noop("16:9 landscape"),
    "9:16": gettext_noop("9:16 portrait"),
    "1:1": gettext_noop("1:1 square"),
    "4:3": "4:3",
    "3:4": "3:4",
    "3:2": "3:2",
    "2:3": "2:3",
    "21:9": gettext_noop("21:9 cinema"),
    "auto": gettext_noop("Automatic (from the references)"),
}
RESOLUTION_LABELS = {"1k": "1K", "2k": "2K", "4k": "4K"}
IMAGE_REFERENCE_LABELS = {
    "subject": gettext_noop("Keep the subject"),
    "face": gettext_noop("Keep the face (exactly one face)"),
}

# Camera control (legacy `camera_control`). For `simple`, exactly one of the six axes is
# non-zero, each in [-10, 10]. Axis meanings as Kling documents them; note that Kling's
# `pan` turns the camera up or down and its `tilt` turns it left or right.
CAMERA_AXES = {
    "horizontal": gettext_noop("Move sideways (- left, + right)"),
    "vertical": gettext_noop("Move vertically (- down, + up)"),
    "pan": gettext_noop("Turn up or down (- down, + up)"),
    "tilt": gettext_noop("Turn left or right (- left, + right)"),
    "roll": gettext_noop("Roll (- counter-clockwise, + clockwise)"),
    "zoom": gettext_noop("Zoom (- narrower view, + wider view)"),
}
CAMERA_AXIS_LIMIT = 10.0
# Named presets are `simple` moves on one axis (value 5: a clear but not violent move).
CAMERA_PRESETS: dict[str, tuple[str, str, float]] = {
    "zoom_in": (gettext_noop("Zoom in"), "zoom", -5.0),
    "zoom_out": (gettext_noop("Zoom out"), "zoom", 5.0),
    "pan_left": (gettext_noop("Pan left"), "tilt", -5.0),
    "pan_right": (gettext_noop("Pan right"), "tilt", 5.0),
    "tilt_up": (gettext_noop("Tilt up"), "pan", 5.0),
    "tilt_down": (gettext_noop("Tilt down"), "pan", -5.0),
}
# Kling's four built-in movements take no config.
CAMERA_MOVEMENTS = {
    "down_back": gettext_noop("Descend and pull back"),
    "forward_up": gettext_noop("Push forward and rise"),
    "right_turn_forward": gettext_noop("Turn right and advance"),
    "left_turn_forward": gettext_noop("Turn left and advance"),
}
CAMERA_SIMPLE = "simple"
ALL_CAMERA_TYPES = (CAMERA_SIMPLE, *CAMERA_MOVEMENTS)

PROMPT_LIMIT = 2500
MB = 1024 * 1024


@dataclass(frozen=True)
class VideoLimits:
    """What Kling accepts as an input video (docs/kling.md section 3)."""

    min_seconds: float
    max_seconds: float
    max_bytes: int = 100 * MB
    min_side: int = 340
    max_side: int = 3850
    min_fps: float | None = None
    max_fps: float | None = None
    why: str = ""  # appended to a length refusal, e.g. " when the character follows the video"


@dataclass(frozen=True)
class AudioLimits:
    """What Kling accepts as an input sound file."""

    min_seconds: float
    max_seconds: float
    max_bytes: int = 5 * MB
    formats: tuple[str, ...] = ("mp3", "wav", "m4a", "aac")


# Motion control (section 3.8): the reference video is 3-30 s when the character follows
# the video's orientation, 3-10 s when it keeps the picture's. The upload check takes the
# wider limits; `validate` applies the orientation's.
CHARACTER_ORIENTATIONS = {
    "image": gettext_noop("As in the picture (reference video up to 10 s)"),
    "video": gettext_noop("As in the video (reference video up to 30 s)"),
}
MOTION_VIDEO_LIMITS = {
    "image": VideoLimits(3, 10, why=gettext_noop(" when the character keeps the picture's orientation")),
    "video": VideoLimits(3, 30, why=gettext_noop(" when the character follows the video")),
}
MOTION_UPLOAD_LIMITS = MOTION_VIDEO_LIMITS["video"]
KEEP_ORIGINAL_SOUND = ("yes", "no")

# Multi-image to video (section 3.3): up to four subject pictures.
MAX_SUBJECT_IMAGES = 4

# Video extension (section 3.4): Kling extends its own videos for 30 days, by 4-5 s a
# call, up to 3 minutes in all.
EXTEND_MAX_TOTAL_SECONDS = 180
EXTEND_ADDS_SECONDS = 5
EXTEND_SOURCE_DAYS = 30

# Audio (section 3.10): text to audio makes 3.0-10.0 s (one decimal) from a prompt of at
# most 200 characters; video to audio dubs a video of 3.0-20.0 s, by upload or by the
# Kling id of one of the person's own videos, with two optional prompts of 200 each.
AUDIO_PROMPT_LIMIT = 200
TEXT_TO_AUDIO_SECONDS = (3.0, 10.0)
VIDEO_TO_AUDIO_LIMITS = VideoLimits(3, 20, min_side=1, max_side=8192)

# Avatar (section 3.9): a portrait speaks a sound file of 2-300 s (MP3, WAV, M4A or AAC, at
# most 5 MB); the video is as long as the sound and billed per second.
AVATAR_SOUND_LIMITS = AudioLimits(2, 300)

# Lip-sync (section 3.5). identify-face reads a video of 2-60 s (MP4 or MOV, at most
# 100 MB, sides 512-2160 px) and keeps the faces for 24 hours; advanced-lip-sync makes one
# face speak a sound of 2-60 s (MP3, WAV or M4A, at most 5 MB). The sound is cut from
# `sound_start_time` to `sound_end_time` (ms; at least 2 s, within the sound) and put in at
# `sound_insert_time` (ms from the video's start): it must end within the video and
# overlap the face's window by at least 2 s. Both volumes are 0-2 (1 is unchanged). The
# video keeps its length, billed by started 5 s.
FACE_VIDEO_LIMITS = VideoLimits(2, 60, min_side=512, max_side=2160)
FACE_SESSION_HOURS = 24
LIP_SYNC_SOUND_LIMITS = AudioLimits(2, 60, formats=("mp3", "wav", "m4a"))
LIP_SYNC_MIN_MS = 2000
LIP_SYNC_BLOCK_SECONDS = 5
VOLUME_RANGE = (0.0, 2.0)

# Omni video (section 3.7): a prompt that may point at up to 7 reference pictures as
# <<<image_1>>> ... <<<image_7>>>; clips of 3-10 s. Multi-shot (kling-v3-omni only): 2-6
# shots, each with its own prompt (at most 512 characters) and whole seconds, adding up to
# the clip's duration; the top-level prompt is then ignored by Kling.
MAX_OMNI_IMAGES = 7
OMNI_IMAGE_TOKEN = re.compile(r"<<<image_(\d+)>>>")
# With a reference video (`video_list`, one video of 3-10 s, MP4 or MOV, at most 200 MB,
# sides 720-2160 px, 24-60 fps): at most 4 pictures. `feature` takes the video's motion,
# camera or style into a new clip; `base` edits the video itself, so the clip keeps its
# length and shape (no duration, aspect ratio or storyboard). <<<video_1>>> names it.
MAX_OMNI_IMAGES_WITH_VIDEO = 4
OMNI_VIDEO_LIMITS = VideoLimits(
    3, 10, max_bytes=200 * MB, min_side=720, max_side=2160, min_fps=24, max_fps=60
)
REFER_TYPES = {
    "feature": gettext_noop("Reference: take its motion, camera or style into a new clip"),
    "base": gettext_noop("Base: edit this video (the clip keeps its length and shape)"),
}
OMNI_VIDEO_REFERENCE = "<<<video_1>>>"
OMNI_OTHER_TOKEN = re.compile(r"<<<(video|element)_(\d+)>>>")
MULTI_SHOT_RANGE = (2, 6)
SHOT_PROMPT_LIMIT = 512
SHOT_TYPES = ("customize",)

# Multi-image to image (section 3.12): 1-4 subject pictures, plus an optional scene and an
# optional style picture, made into 1-9 images.
MAX_SUBJECT_PICTURES = 4

# Omni image (section 3.12): a prompt pointing at up to 10 reference pictures (and saved
# subjects, which count towards the same 10), one image or a series of 2-9 consistent ones.
# Kling also takes `series_amount: "auto"` (it decides how many, and bills and holds slots
# for the pictures it makes): we charge, and hold slots for, the most a series may have and
# give back the pictures it did not make when it succeeds (services.transition). A series is
# one request of its own (n is 1), because every picture takes one of Kling's slots.
MAX_OMNI_IMAGE_REFERENCES = 10
RESULT_TYPES = ("single", "series")
SERIES_AUTO = "auto"

# Virtual try-on (section 3.12): a photo of one person and a photo of the garment, which
# Kling tells apart by itself (no field says what it is); the person picks the kind of
# garment so that we can refuse a combination the model cannot dress. One result each.
# Expand (outpainting, section 3.12): how far to extend each side, as a share of the
# picture's height (up, down) or width (left, right), each 0-2; the new area may be at most
# 3 times the original, so the whole canvas at most 4 times.
EXPANSION_SIDES = ("up", "down", "left", "right")
MAX_EXPANSION_RATIO = 2.0
MAX_NEW_AREA = 3.0


def expanded_area(up: float, down: float, left: float, right: float) -> float:
    """The new area around the picture, as a multiple of the picture's own."""
    return (1 + left + right) * (1 + up + down) - 1


GARMENT_LABELS = {
    "upper": gettext_noop("Top (shirt, jacket, sweater)"),
    "lower": gettext_noop("Bottom (trousers, skirt, shorts)"),
    "dress": gettext_noop("Dress or one-piece"),
    "upper_lower": gettext_noop("Top and bottom together, in one picture"),
}


def translated(labels: Mapping[str, str]) -> dict[str, Promise]:
    """One of the label tables above with each label translated when shown: the tables
    stay plain English for the API, prices and logs; forms offer the translated labels."""
    return {key: gettext_lazy(label) for key, label in labels.items()}


@dataclass(frozen=True)
class Rule:
    """Where a feature works: in these modes and durations (None: in all of them)."""

    modes: tuple[str, ...] | None = None
    durations: tuple[int, ...] | None = None
    silent_only: bool = False

    def allows(self, mode: str, duration: int | None, *, sound: bool = False) -> bool:
        if self.modes is not None and mode not in self.modes:
            return False
        if self.durations is not None and duration not in self.durations:
            return False
        return not (self.silent_only and sound)

    def describe(self) -> str:
        """Where the feature works, in the active language (the form shows it)."""
        parts = []
        if self.modes is not None:
            modes = gettext(" or ").join(gettext(MODE_LABELS.get(m, m)) for m in self.modes)
            parts.append(gettext("%(modes)s mode") % {"modes": modes})
        if self.durations is not None:
            parts.append(gettext(" or ").join(f"{d} s" for d in self.durations))
        if self.silent_only:
            parts.append(gettext("without sound"))
        return gettext(", ").join(parts) or gettext("always")


@dataclass(frozen=True)
class VideoModel:
    name: str
    label: str
    modes: tuple[str, ...]  # empty: the model takes no `mode` at all
    durations: tuple[int, ...]
    aspect_ratios: tuple[str, ...] = VIDEO_ASPECT_RATIOS
    prompt_limit: int = PROMPT_LIMIT
    negative_prompt_limit: int = PROMPT_LIMIT
    cfg_scale: bool = False
    sound: Rule | None = None
    camera: Rule | None = None
    camera_types: tuple[str, ...] = ALL_CAMERA_TYPES
    end_frame: Rule | None = None
    multi_shot: bool = False

    is_video = True

    def mode_allowed(self, mode: str) -> bool:
        return mode in self.modes if self.modes else mode == ""

    def sound_allowed(self, mode: str, duration: int | None) -> bool:
        return self.sound is not None and self.sound.allows(mode, duration)

    def camera_allowed(self, mode: str, duration: int | None) -> bool:
        return self.camera is not None and self.camera.allows(mode, duration)

    def end_frame_allowed(self, mode: str, duration: int | None, *, sound: bool = False) -> bool:
        return self.end_frame is not None and self.end_frame.allows(mode, duration, sound=sound)

    @property
    def default_mode(self) -> str:
        return self.modes[0] if self.modes else ""

    @property
    def default_duration(self) -> int:
        return 5 if 5 in self.durations else self.durations[0]


@dataclass(frozen=True)
class ImageModel:
    name: str
    label: str
    aspect_ratios: tuple[str, ...] = IMAGE_ASPECT_RATIOS
    resolutions: tuple[str, ...] = ("1k",)
    max_n: int = 9
    prompt_limit: int = PROMPT_LIMIT
    negative_prompt_limit: int = PROMPT_LIMIT
    reference_image: bool = False
    # Non-empty: a reference image needs one of these `image_reference` values.
    image_references: tuple[str, ...] = ()
    # Image to image renders at 1K only (Kling's capability map).
    reference_resolutions: tuple[str, ...] = ("1k",)
    # Omni image: how many pictures a series may have (None: no series).
    series_range: tuple[int, int] | None = None
    # Virtual try-on: the kinds of garment picture the model dresses a person in.
    garments: tuple[str, ...] = ()
    # Takes saved subjects (Kling's custom elements) as `element_list[].element_id`.
    elements: bool = False
    durations: tuple[int, ...] = field(default=())
    modes: tuple[str, ...] = field(default=())

    is_video = False


@dataclass(frozen=True)
class AudioModel:
    """Kling's audio products take no model or mode: one entry stands for them in the table."""

    name: str
    label: str
    prompt_limit: int = AUDIO_PROMPT_LIMIT
    negative_prompt_limit: int = 0
    modes: tuple[str, ...] = ()
    durations: tuple[int, ...] = ()
    aspect_ratios: tuple[str, ...] = ()

    is_video = False


Capability = VideoModel | ImageModel | AudioModel

_STD_PRO = ("std", "pro")
_CLIPS = (5, 10)

# Video models, shared by text-to-video and image-to-video; each kind adds what it allows.
_V1 = VideoModel("kling-v1", "Kling 1.0", _STD_PRO, _CLIPS, cfg_scale=True)
_V1_5 = VideoModel("kling-v1-5", "Kling 1.5", _STD_PRO, _CLIPS, cfg_scale=True)
_V1_6 = VideoModel("kling-v1-6", "Kling 1.6", _STD_PRO, _CLIPS, cfg_scale=True)
_V2_MASTER = VideoModel("kling-v2-master", "Kling 2.0 Master", (), _CLIPS)
_V2_1 = VideoModel("kling-v2-1", "Kling 2.1", _STD_PRO, _CLIPS)
_V2_1_MASTER = VideoModel("kling-v2-1-master", "Kling 2.1 Master", (), _CLIPS)
_V2_5_TURBO = VideoModel("kling-v2-5-turbo", "Kling 2.5 Turbo", _STD_PRO, _CLIPS)
# 2.6: sound only in pro; its end frame only without sound.
_V2_6 = VideoModel("kling-v2-6", "Kling 2.6", _STD_PRO, _CLIPS, sound=Rule(modes=("pro",)))
_V3 = VideoModel(
    "kling-v3", "Kling 3.0", ("std", "pro", "4k"), tuple(range(3, 16)), sound=Rule(), end_frame=Rule()
)

# Motion control: the output follows the reference video, so `durations` are the whole
# seconds (rounded up) it may last; billed per second.
_MOTION_SECONDS = tuple(range(3, 31))
_MOTION_MODELS = (
    VideoModel("kling-v3", "Kling 3.0", _STD_PRO, _MOTION_SECONDS),
    VideoModel("kling-v2-6", "Kling 2.6", _STD_PRO, _MOTION_SECONDS),
)
# Extension: the model and mode are the source video's; each call adds about 5 s.
_EXTEND_MODELS = tuple(replace(m, durations=(EXTEND_ADDS_SECONDS,)) for m in (_V1_6, _V1_5, _V1))


KLING_AUDIO = AudioModel("kling-audio", "Kling audio")
# Avatar takes no model either, but std and pro modes; `durations` are the whole seconds
# (rounded up) of sound it may speak.
KLING_AVATAR = VideoModel("kling-avatar", "Kling Avatar", _STD_PRO, tuple(range(2, 301)))

# Lip-sync takes no model or mode; `durations` are the video's length rounded up to the
# 5 s blocks Kling bills.
KLING_LIP_SYNC = VideoModel(
    "kling-lip-sync", "Kling Lip-sync", (), tuple(range(5, 61, 5)), prompt_limit=0, negative_prompt_limit=0
)

# Omni video: o1 and 3.0 Omni, 3-10 s; only 3.0 Omni tells a story in several shots.
_OMNI_SECONDS = tuple(range(3, 11))
_OMNI_MODELS = (
    VideoModel("kling-v3-omni", "Kling 3.0 Omni", _STD_PRO, _OMNI_SECONDS, multi_shot=True),
    VideoModel("kling-video-o1", "Kling O1", _STD_PRO, _OMNI_SECONDS),
)

_IMAGE_MODELS = (
    ImageModel(
        "kling-v1",
        "Kling 1.0",
        aspect_ratios=IMAGE_ASPECT_RATIOS[:-1],  # no 21:9
        prompt_limit=500,
        negative_prompt_limit=200,
        reference_image=True,
    ),
    ImageModel(
        "kling-v1-5",
        "Kling 1.5",
        prompt_limit=500,
        negative_prompt_limit=200,
        reference_image=True,
        image_references=("subject", "face"),
    ),
    ImageModel("kling-v2", "Kling 2.0", resolutions=("1k", "2k")),
    ImageModel(
        "kling-v2-1",
        "Kling 2.1",
        resolutions=("1k", "2k"),
        reference_image=True,
        image_references=("subject", "face"),
    ),
    ImageModel("kling-v3", "Kling 3.0", resolutions=("1k", "2k"), elements=True),
)


# Multi-image to image: Kling's 2026 docs list kling-v2-1 only; kling-v2 took it before.
_MULTI_IMAGE2IMAGE_MODELS = (
    ImageModel("kling-v2-1", "Kling 2.1"),
    ImageModel("kling-v2", "Kling 2.0"),
)


# Omni image: 4K on 3.0 Omni only; both make series and pick the aspect ratio themselves.
_OMNI_IMAGE_RATIOS = (*IMAGE_ASPECT_RATIOS, "auto")
_OMNI_IMAGE_MODELS = (
    ImageModel(
        "kling-image-o1",
        gettext_noop("Kling Image O1"),
        aspect_ratios=_OMNI_IMAGE_RATIOS,
        resolutions=("1k", "2k"),
        series_range=(2, 9),
        elements=True,
    ),
    ImageModel(
        "kling-v3-omni",
        "Kling 3.0 Omni",
        aspect_ratios=_OMNI_IMAGE_RATIOS,
        resolutions=("1k", "2k", "4k"),
        series_range=(2, 9),
        elements=True,
    ),
)


# Virtual try-on: one picture a call, no aspect ratio (the person's photo sets it); 1.5 also
# takes a top and a bottom together in one white-background picture.
_TRY_ON_MODELS = (
    ImageModel(
        "kolors-virtual-try-on-v1-5",
        gettext_noop("Kolors try-on 1.5"),
        aspect_ratios=(),
        max_n=1,
        garments=("upper", "lower", "dress", "upper_lower"),
    ),
    ImageModel(
        "kolors-virtual-try-on-v1",
        gettext_noop("Kolors try-on 1.0"),
        aspect_ratios=(),
        max_n=1,
        garments=("upper", "lower", "dress"),
    ),
)


# Expand takes no model: one entry stands for it in the table.
KLING_EXPAND = ImageModel("kling-expand", "Kling expand", aspect_ratios=())


# Effects: the scene (generations.effects, a table staff edit) says what the request takes;
# one entry stands for the kind here, like the audio products.
KLING_EFFECTS = VideoModel("kling-effects", "Kling effects", (), (5, 10), aspect_ratios=())


def _by_name(models: Iterable[Capability]) -> dict[str, Capability]:
    return {m.name: m for m in models}


# Newest first: the first enabled model is the form's default.
TABLE: dict[str, dict[str, Capability]] = {
    Kind.TEXT2VIDEO: _by_name(
        [
            _V3,
            _V2_6,
            _V2_5_TURBO,
            _V2_1_MASTER,
            _V2_MASTER,
            _V1_6,
            # Camera control on text to video: kling-v1 std 5 s only.
            replace(_V1, camera=Rule(modes=("std",), durations=(5,))),
        ]
    ),
    Kind.IMAGE2VIDEO: _by_name(
        [
            _V3,
            replace(_V2_6, end_frame=Rule(modes=("pro",), silent_only=True)),
            replace(_V2_5_TURBO, end_frame=Rule(modes=("pro",))),
            _V2_1_MASTER,
            replace(_V2_1, end_frame=Rule(modes=("pro",))),
            _V2_MASTER,
            replace(_V1_6, end_frame=Rule(modes=("pro",))),
            # 1.5: end frame in pro; `simple` camera moves in pro 5 s only.
            replace(
                _V1_5,
                end_frame=Rule(modes=("pro",)),
                camera=Rule(modes=("pro",), durations=(5,)),
                camera_types=(CAMERA_SIMPLE,),
            ),
            replace(_V1, end_frame=Rule(durations=(5,))),
        ]
    ),
    Kind.TEXT2IMAGE: _by_name(reversed(_IMAGE_MODELS)),
    Kind.MOTION_CONTROL: _by_name(_MOTION_MODELS),
    Kind.MULTI_IMAGE2VIDEO: _by_name([_V1_6]),
    Kind.VIDEO_EXTEND: _by_name(_EXTEND_MODELS),
    Kind.TEXT2AUDIO: _by_name([KLING_AUDIO]),
    Kind.VIDEO2AUDIO: _by_name([KLING_AUDIO]),
    Kind.AVATAR: _by_name([KLING_AVATAR]),
    Kind.OMNI_VIDEO: _by_name(_OMNI_MODELS),
    Kind.MULTI_IMAGE2IMAGE: _by_name(_MULTI_IMAGE2IMAGE_MODELS),
    Kind.OMNI_IMAGE: _by_name(_OMNI_IMAGE_MODELS),
    Kind.VIRTUAL_TRY_ON: _by_name(_TRY_ON_MODELS),
    Kind.EXPAND_IMAGE: _by_name([KLING_EXPAND]),
    Kind.VIDEO_EFFECTS: _by_name([KLING_EFFECTS]),
    Kind.LIP_SYNC: _by_name([KLING_LIP_SYNC]),
}


def disabled_models() -> frozenset[str]:
    return frozenset(settings.KLING_DISABLED_MODELS)


def is_enabled(model_name: str) -> bool:
    return model_name not in disabled_models()


def models_for(kind: str, *, include_disabled: bool = False) -> list[Capability]:
    disabled = disabled_models()
    return [m for m in TABLE.get(kind, {}).values() if include_disabled or m.name not in disabled]


def get(kind: str, model_name: str, *, include_disabled: bool = False) -> Capability | None:
    model = TABLE.get(kind, {}).get(model_name)
    if model is None or (not include_disabled and not is_enabled(model_name)):
        return None
    return model


def default_model(kind: str) -> Capability:
    enabled = models_for(kind)
    if not enabled:
        raise LookupError(f"No enabled model for {kind}")
    return enabled[0]


def product_for(kind: str) -> str:
    return PRODUCTS[kind]


def camera_control(choice: str, axis: str = "", value: float | None = None) -> dict[str, Any] | None:
    """Kling's `camera_control` object for a form choice (a preset, a movement or `simple`)."""
    if not choice:
        return None
    if choice in CAMERA_MOVEMENTS:
        return {"type": choice}
    if choice in CAMERA_PRESETS:
        _, axis, value = CAMERA_PRESETS[choice]
    elif choice != CAMERA_SIMPLE:
        raise ValueError(f"Unknown camera control {choice!r}")
    # All six axes with five zeros: what the docs ask for, and what every client sends.
    config = dict.fromkeys(CAMERA_AXES, 0.0)
    config[axis] = float(value or 0)
    return {"type": CAMERA_SIMPLE, "config": config}


def camera_control_problem(value: Any) -> str:
    """What Kling would refuse in a `camera_control` object ("" when nothing).

    Kling's rule: a known type; `simple` needs a `config` of the six axes (a missing axis
    counts as 0), each a number in [-10, 10], exactly one of them non-zero. The built-in
    movements take no config (a client drops one that is given). Which model, mode and
    duration allow camera control at all is `check()`'s business.
    """
    if not isinstance(value, dict) or value.get("type") not in ALL_CAMERA_TYPES:
        return f"camera_control type must be one of {', '.join(ALL_CAMERA_TYPES)}"
    if value["type"] != CAMERA_SIMPLE:
        return ""
    config = value.get("config")
    if not isinstance(config, dict) or set(config) - set(CAMERA_AXES):
        return f"camera_control simple needs a config with {'/'.join(CAMERA_AXES)}"
    for axis in CAMERA_AXES:
        if not _is_axis_value(config.get(axis, 0)):
            return f"camera_control config.{axis} must be a number in [-{CAMERA_AXIS_LIMIT:g}, {CAMERA_AXIS_LIMIT:g}]"
    if sum(1 for axis in CAMERA_AXES if config.get(axis, 0) != 0) != 1:
        return "camera_control simple needs exactly one non-zero axis"
    return ""


def _is_axis_value(raw: Any) -> bool:
    # A JSON number: a bool is an int to Python, but Kling refuses true/false here.
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return False
    return -CAMERA_AXIS_LIMIT <= raw <= CAMERA_AXIS_LIMIT


def _simple_axes(config: Mapping[str, Any]) -> list[str]:
    return [axis for axis in CAMERA_AXES if float(config.get(axis) or 0) != 0]


def validate(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Every reason this request is not possible, keyed by form field (empty when fine).

    `values` uses Kling's field names: `model_name`, `prompt`, `negative_prompt`, `mode`,
    `duration` (int), `aspect_ratio`, `cfg_scale`, `sound` (bool), `camera_control` (dict),
    `image` / `image_tail` (anything truthy when given), `n`, `resolution`,
    `image_reference`, `image_fidelity`.
    """
    errors: dict[str, str] = {}
    name = values.get("model_name") or ""
    model = get(kind, name)
    if model is None:
        if get(kind, name, include_disabled=True) is not None:
            errors["model_name"] = gettext(
                "%(model)s has been discontinued by Kling and is no longer offered."
            ) % {"model": name}
        else:
            errors["model_name"] = gettext("%(model)s is not available for %(kind)s.") % {
                "model": name or gettext("This model"),
                "kind": str(Kind(kind).label).lower(),
            }
        return errors

    prompt = values.get("prompt") or ""
    # Image to video (and the other kinds with an input to follow) can go without a prompt.
    # A storyboard's shots carry the prompts (Kling then ignores the top-level one).
    if not prompt.strip() and kind not in PROMPT_OPTIONAL_KINDS and not values.get("multi_shot"):
        errors["prompt"] = gettext("Describe what you want to see.")
    elif len(prompt) > model.prompt_limit:
        errors["prompt"] = gettext(
            "%(model)s accepts prompts of up to %(most)s characters; this one has %(count)s."
        ) % {"model": model.label, "most": f"{model.prompt_limit:,}", "count": f"{len(prompt):,}"}
    negative = values.get("negative_prompt") or ""
    if len(negative) > model.negative_prompt_limit:
        errors["negative_prompt"] = gettext(
            "%(model)s accepts negative prompts of up to %(most)s characters; this one has %(count)s."
        ) % {"model": model.label, "most": f"{model.negative_prompt_limit:,}", "count": f"{len(negative):,}"}

    if kind in _KIND_CHECKS:
        errors.update(_KIND_CHECKS[kind](model, values))
    elif isinstance(model, VideoModel):
        errors.update(_check_video(kind, model, values))
    else:
        errors.update(_check_image(model, values))
    return errors


def _check_video(kind: str, model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    mode = values.get("mode") or ""
    duration = values.get("duration")
    sound = bool(values.get("sound"))
    if not model.mode_allowed(mode):
        errors["mode"] = (
            gettext("%(model)s has no mode setting.") % {"model": model.label}
            if not model.modes
            else _modes_offered(model)
        )
        return errors
    if duration not in model.durations:
        errors["duration"] = _clips_of(model, _join(_seconds(d) for d in model.durations))
        return errors
    if kind == Kind.TEXT2VIDEO:
        ratio = values.get("aspect_ratio") or ""
        if ratio not in model.aspect_ratios:
            errors["aspect_ratio"] = _choose_one_of(model.aspect_ratios)
    if values.get("cfg_scale") is not None:
        if not model.cfg_scale:
            errors["cfg_scale"] = gettext("%(model)s does not take a prompt strength (cfg scale).") % {
                "model": model.label
            }
        elif not 0 <= float(values["cfg_scale"]) <= 1:
            errors["cfg_scale"] = gettext("The prompt strength is between 0 and 1.")
    if sound and not model.sound_allowed(mode, duration):
        errors["sound"] = (
            gettext("%(model)s makes sound only in %(when)s.")
            % {"model": model.label, "when": model.sound.describe()}
            if model.sound
            else gettext("%(model)s makes silent videos only.") % {"model": model.label}
        )
    camera = values.get("camera_control")
    if camera:
        errors.update(_check_camera(model, mode, duration, camera))
    if kind == Kind.IMAGE2VIDEO:
        if not values.get("image"):
            errors["image"] = gettext("Upload a start frame or give its address.")
        if values.get("image_tail"):
            if not model.end_frame_allowed(mode, duration, sound=sound):
                errors["image_tail"] = (
                    gettext("%(model)s takes an end frame only in %(when)s.")
                    % {"model": model.label, "when": model.end_frame.describe()}
                    if model.end_frame
                    else gettext("%(model)s does not take an end frame.") % {"model": model.label}
                )
            elif camera:
                errors["image_tail"] = gettext("An end frame and a camera move cannot be combined.")
    return errors


def _check_mode(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    if not model.mode_allowed(values.get("mode") or ""):
        return {"mode": _modes_offered(model)}
    return {}


def _check_motion_control(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    """Motion control: a character picture, a reference video whose length suits the
    orientation, `keep_original_sound` yes or no. `video_seconds` is the measured length."""
    errors = _check_mode(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Motion control takes no negative prompt.")
    if not values.get("image"):
        errors["image_url"] = gettext("Upload a picture of the character.")
    orientation = values.get("character_orientation") or ""
    if orientation not in CHARACTER_ORIENTATIONS:
        errors["character_orientation"] = gettext(
            "Choose whose orientation the character keeps: the picture's or the video's."
        )
    if (values.get("keep_original_sound") or "yes") not in KEEP_ORIGINAL_SOUND:
        errors["keep_original_sound"] = gettext("Say yes or no to keeping the video's sound.")
    seconds = values.get("video_seconds")
    if not values.get("video"):
        errors["video_url"] = gettext("Upload the video whose motion the character should follow.")
    elif seconds is None:
        errors["video_url"] = gettext("We could not tell how long this video is.")
    elif orientation in MOTION_VIDEO_LIMITS:
        limits = MOTION_VIDEO_LIMITS[orientation]
        if not limits.min_seconds <= float(seconds) <= limits.max_seconds:
            errors["video_url"] = gettext(
                "This video is %(seconds)s s long; it needs to be between %(low)s and %(high)s s%(why)s."
            ) % {
                "seconds": f"{float(seconds):.1f}",
                "low": f"{limits.min_seconds:g}",
                "high": f"{limits.max_seconds:g}",
                "why": gettext(limits.why) if limits.why else "",
            }
    return errors


def _check_multi_image(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors = _check_mode(model, values)
    if values.get("duration") not in model.durations:
        errors["duration"] = _clips_of(model, _join(_seconds(d) for d in model.durations))
    if (values.get("aspect_ratio") or "") not in model.aspect_ratios:
        errors["aspect_ratio"] = _choose_one_of(model.aspect_ratios)
    count = int(values.get("image_list") or 0)
    if not 1 <= count <= MAX_SUBJECT_IMAGES:
        errors["image_list"] = _subject_count(MAX_SUBJECT_IMAGES, count)
    return errors


def _check_extend(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    """Extension: the mode is the source's; who owns the source, how old and how long it is
    are checked against the database by services.extend_source()."""
    errors = _check_mode(model, values)
    if not values.get("video_id"):
        errors["video_id"] = gettext("Choose one of your finished videos to extend.")
    return errors


def _check_text_to_audio(model: AudioModel, values: Mapping[str, Any]) -> dict[str, str]:
    low, high = TEXT_TO_AUDIO_SECONDS
    seconds = values.get("duration")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not low <= seconds <= high:
        return {
            "duration": gettext("Sound lasts between %(low)s and %(high)s seconds.")
            % {"low": f"{low:g}", "high": f"{high:g}"}
        }
    if round(float(seconds), 1) != float(seconds):
        return {"duration": gettext("Give the length to a tenth of a second, such as 4.5.")}
    return {}


def _check_video_to_audio(model: AudioModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors = {}
    for name, template in (
        (
            "sound_effect_prompt",
            gettext("Describe the sound effects in up to %(most)s characters; this has %(count)s."),
        ),
        ("bgm_prompt", gettext("Describe the music in up to %(most)s characters; this has %(count)s.")),
    ):
        text = values.get(name) or ""
        if len(text) > AUDIO_PROMPT_LIMIT:
            errors[name] = template % {"most": AUDIO_PROMPT_LIMIT, "count": f"{len(text):,}"}
    has_upload, has_id = bool(values.get("video")), bool(values.get("video_id"))
    if has_upload == has_id:
        errors["video_url"] = (
            gettext("Give one video: upload it or choose one of yours, not both.")
            if has_upload
            else gettext("Upload a video of 3 to 20 seconds, or choose one of your finished videos.")
        )
    seconds = values.get("video_seconds")
    low, high = VIDEO_TO_AUDIO_LIMITS.min_seconds, VIDEO_TO_AUDIO_LIMITS.max_seconds
    if seconds is not None and not low <= float(seconds) <= high:
        errors["video_url" if has_upload else "video_id"] = gettext(
            "This video is %(seconds)s s long; Kling adds sound to videos of %(low)s to %(high)s s."
        ) % {"seconds": f"{float(seconds):.1f}", "low": f"{low:g}", "high": f"{high:g}"}
    return errors


def _check_avatar(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors = _check_mode(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Avatar takes no negative prompt.")
    if not values.get("image"):
        errors["image"] = gettext("Upload a picture of the face that speaks.")
    seconds = values.get("output_seconds")
    limits = AVATAR_SOUND_LIMITS
    if not values.get("sound_file"):
        errors["sound_file"] = gettext("Upload the sound file to speak.")
    elif seconds is None:
        errors["sound_file"] = gettext("We could not tell how long this sound file is.")
    elif not limits.min_seconds <= float(seconds) <= limits.max_seconds:
        errors["sound_file"] = gettext(
            "This sound file is %(seconds)s s long; it needs to be between %(low)s s and %(high)s min."
        ) % {
            "seconds": f"{float(seconds):.1f}",
            "low": f"{limits.min_seconds:g}",
            "high": f"{limits.max_seconds / 60:g}",
        }
    return errors


def lip_sync_timing_problems(values: Mapping[str, Any]) -> dict[str, str]:
    """Kling's rules for the cut and placement of the sound (all times in ms): the cut at
    least 2 s and within the sound, placed from the video's start, ending within the video,
    overlapping the face's window by at least 2 s."""
    errors: dict[str, str] = {}
    times = {}
    for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = gettext("Give a whole number of milliseconds.")
        elif value < 0:
            errors[name] = gettext("Give a time of 0 or more.")
        else:
            times[name] = value
    for name in ("sound_volume", "original_audio_volume"):
        volume = values.get(name)
        low, high = VOLUME_RANGE
        if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not low <= volume <= high:
            errors[name] = gettext("Choose a volume from %(low)s to %(high)s (1 leaves it unchanged).") % {
                "low": f"{low:g}",
                "high": f"{high:g}",
            }
    if errors:
        return errors
    start, end, insert = times["sound_start_time"], times["sound_end_time"], times["sound_insert_time"]
    length = end - start
    sound_ms = values.get("sound_ms")
    video_ms = values.get("video_ms")
    face_start, face_end = values.get("face_start_ms") or 0, values.get("face_end_ms") or 0
    if length < LIP_SYNC_MIN_MS:
        errors["sound_end_time"] = gettext(
            "The part of the sound used must last at least 2 s (end minus start)."
        )
    elif sound_ms is not None and end > sound_ms + 1:
        errors["sound_end_time"] = gettext("The sound lasts %(seconds)s s; the end cannot be later.") % {
            "seconds": f"{sound_ms / 1000:.1f}"
        }
    elif video_ms is not None and insert + length > video_ms:
        errors["sound_insert_time"] = gettext(
            "Put in at %(insert)s s, the sound would end at %(end)s s, after the video's end (%(video)s s)."
        ) % {
            "insert": f"{insert / 1000:.1f}",
            "end": f"{(insert + length) / 1000:.1f}",
            "video": f"{video_ms / 1000:.1f}",
        }
    elif min(insert + length, face_end) - max(insert, face_start) < LIP_SYNC_MIN_MS:
        errors["sound_insert_time"] = gettext(
            "The sound must overlap the face's time (%(start)s-%(end)s s) by at least 2 s."
        ) % {"start": f"{face_start / 1000:.1f}", "end": f"{face_end / 1000:.1f}"}
    return errors


def _check_lip_sync(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values.get("session_id"):
        errors["session_id"] = gettext("Find the faces in a video first, then choose one.")
        return errors
    if not values.get("face_id"):
        errors["face_id"] = gettext("Choose the face that speaks.")
    seconds = values.get("video_seconds")
    video_limits = FACE_VIDEO_LIMITS
    if seconds is None or not video_limits.min_seconds <= float(seconds) <= video_limits.max_seconds:
        errors["session_id"] = gettext("Kling lip-syncs videos of %(low)s to %(high)s s.") % {
            "low": f"{video_limits.min_seconds:g}",
            "high": f"{video_limits.max_seconds:g}",
        }
    sound_seconds = values.get("sound_seconds")
    limits = LIP_SYNC_SOUND_LIMITS
    if not values.get("sound"):
        errors["sound_file"] = gettext("Upload the sound to speak, or choose one of your sounds.")
    elif sound_seconds is None:
        errors["sound_file"] = gettext("We could not tell how long this sound is.")
    elif not limits.min_seconds <= float(sound_seconds) <= limits.max_seconds:
        errors["sound_file"] = gettext(
            "This sound is %(seconds)s s long; it needs to be %(low)s to %(high)s s."
        ) % {
            "seconds": f"{float(sound_seconds):.1f}",
            "low": f"{limits.min_seconds:g}",
            "high": f"{limits.max_seconds:g}",
        }
    if not errors:
        errors.update(lip_sync_timing_problems(values))
    return errors


def _check_omni(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    """Omni video: `image_list` is the number of reference pictures; `multi_prompt` the
    shots as [{"index", "prompt", "duration"}] when `multi_shot` is on."""
    errors = _check_mode(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Omni video takes no negative prompt.")
    duration = values.get("duration")
    video = bool(values.get("video"))
    # A base video keeps its own length and shape: Kling takes no duration or aspect ratio
    # with it (the video's own length, checked below, is what is billed).
    base = video and values.get("refer_type") == "base"
    if not base and duration not in model.durations:
        errors["duration"] = _clips_of(model, _durations_text(model.durations))
    if not base and (values.get("aspect_ratio") or "") not in model.aspect_ratios:
        errors["aspect_ratio"] = _choose_one_of(model.aspect_ratios)
    count = int(values.get("image_list") or 0)
    elements = int(values.get("element_list") or 0)
    most = MAX_OMNI_IMAGES_WITH_VIDEO if video else MAX_OMNI_IMAGES
    if count > most:
        errors["image_list"] = (
            gettext("With a reference video, give at most %(most)s reference pictures; you gave %(count)s.")
            if video
            else gettext("Give at most %(most)s reference pictures; you gave %(count)s.")
        ) % {"most": most, "count": count}
    elif count + elements > most:
        errors["element_list"] = gettext("Pictures and saved subjects together can be at most %(most)s.") % {
            "most": most
        }
    multi_shot = bool(values.get("multi_shot"))
    prompts = [values.get("prompt") or ""]
    if video:
        errors.update(_check_omni_video(values))
    if multi_shot:
        if base:
            errors["multi_shot"] = gettext(
                "A base video is edited as it is; a storyboard needs a reference video or none."
            )
        else:
            errors.update(_check_shots(model, values.get("multi_prompt"), duration))
        prompts = [str(shot.get("prompt") or "") for shot in values.get("multi_prompt") or []]
    errors.update(_reference_problems(prompts, count, elements, videos=int(video)))
    return errors


def _check_omni_video(values: Mapping[str, Any]) -> dict[str, str]:
    """Omni video's reference video: its use (`refer_type`), `keep_original_sound` and its
    measured length (`video_seconds`); the file itself was checked on upload."""
    errors: dict[str, str] = {}
    if (values.get("refer_type") or "") not in REFER_TYPES:
        errors["refer_type"] = gettext(
            "Say how Kling uses the video: as a reference, or as the base to edit."
        )
    if (values.get("keep_original_sound") or "") not in KEEP_ORIGINAL_SOUND:
        errors["keep_original_sound"] = gettext("Say yes or no to keeping the video's sound.")
    seconds = values.get("video_seconds")
    limits = OMNI_VIDEO_LIMITS
    field = "video_url" if values.get("video_upload") else "video_id"
    if seconds is None:
        errors[field] = gettext("We could not tell how long this video is.")
    elif not limits.min_seconds <= float(seconds) <= limits.max_seconds:
        errors[field] = gettext(
            "This video is %(seconds)s s long; omni video takes reference videos of %(low)s to %(high)s s."
        ) % {
            "seconds": f"{float(seconds):.1f}",
            "low": f"{limits.min_seconds:g}",
            "high": f"{limits.max_seconds:g}",
        }
    return errors


def _reference_problems(
    prompts: Iterable[str], count: int, elements: int = 0, videos: int | None = None
) -> dict[str, str]:
    """A prompt's <<<image_N>>> tokens must each have their picture (of `count`), its
    <<<element_N>>> tokens their saved subject (of `elements`) and its <<<video_N>>> tokens
    their video (of `videos`; None where the kind takes no video)."""
    for text in prompts:
        missing = sorted({int(n) for n in OMNI_IMAGE_TOKEN.findall(text) if not 1 <= int(n) <= count})
        if missing:
            return {
                "image_list" if count else "prompt": (
                    ngettext(
                        "The prompt refers to %(tokens)s but only %(count)d reference picture was given.",
                        "The prompt refers to %(tokens)s but only %(count)d reference pictures were given.",
                        count,
                    )
                    if count
                    else gettext("The prompt refers to %(tokens)s but no reference pictures were given.")
                )
                % {"tokens": gettext(", ").join(f"<<<image_{n}>>>" for n in missing), "count": count}
            }
        other = next(
            (
                token
                for token in OMNI_OTHER_TOKEN.finditer(text)
                if not 1 <= int(token.group(2)) <= {"element": elements, "video": videos or 0}[token.group(1)]
            ),
            None,
        )
        if other and other.group(1) == "video" and videos is not None:
            return {
                "prompt": gettext("The prompt refers to %(token)s but no reference video was given.")
                % {"token": other.group(0)}
            }
        if other:
            return {
                "prompt": (
                    gettext("%(token)s refers to a video this page does not take.")
                    if other.group(1) == "video"
                    else gettext("%(token)s refers to a saved subject this page does not take.")
                )
                % {"token": other.group(0)}
            }
    return {}


def _check_shots(model: VideoModel, shots: Any, duration: Any) -> dict[str, str]:
    if not model.multi_shot:
        return {
            "multi_shot": gettext("%(model)s does not make multi-shot videos; choose Kling 3.0 Omni.")
            % {"model": model.label}
        }
    low, high = MULTI_SHOT_RANGE
    if not isinstance(shots, list) or not low <= len(shots) <= high:
        return {
            "multi_prompt": gettext("A storyboard has %(low)d to %(high)d shots.")
            % {"low": low, "high": high}
        }
    total = 0
    for number, shot in enumerate(shots, start=1):
        text = str(shot.get("prompt") or "").strip() if isinstance(shot, dict) else ""
        seconds = shot.get("duration") if isinstance(shot, dict) else None
        if not text:
            return {"multi_prompt": gettext("Shot %(number)d needs a prompt.") % {"number": number}}
        if len(text) > SHOT_PROMPT_LIMIT:
            return {
                "multi_prompt": gettext(
                    "Shot %(number)d's prompt has %(count)s characters; at most %(most)d."
                )
                % {"number": number, "count": f"{len(text):,}", "most": SHOT_PROMPT_LIMIT}
            }
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
            return {
                "multi_prompt": gettext("Shot %(number)d needs a length of at least 1 s.")
                % {"number": number}
            }
        total += seconds
    if isinstance(duration, int) and total != duration:
        return {
            "multi_prompt": gettext(
                "The shots last %(total)d s in all; they must add up to the clip's %(duration)d s."
            )
            % {"total": total, "duration": duration}
        }
    return {}


def _check_image_count_and_ratio(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if model.aspect_ratios and (values.get("aspect_ratio") or "") not in model.aspect_ratios:
        errors["aspect_ratio"] = gettext("%(model)s offers %(choices)s.") % {
            "model": model.label,
            "choices": _join(model.aspect_ratios),
        }
    n = values.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= model.max_n:
        errors["n"] = gettext("Make between 1 and %(most)d images at a time.") % {"most": model.max_n}
    return errors


def _check_multi_image2image(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    """`subject_image_list` is the number of subject pictures; `scene_image` and
    `style_image` whether each was given."""
    errors = _check_image_count_and_ratio(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Multi-image to image takes no negative prompt.")
    count = int(values.get("subject_image_list") or 0)
    if not 1 <= count <= MAX_SUBJECT_PICTURES:
        errors["subject_image_list"] = _subject_count(MAX_SUBJECT_PICTURES, count)
    return errors


def _check_omni_image(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    """Omni image: `image_list` is the number of reference pictures (`element_list` the
    number of saved subjects, when given); `result_type` single or series."""
    errors = _check_image_count_and_ratio(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Omni image takes no negative prompt.")
    resolution = values.get("resolution") or "1k"
    if resolution not in model.resolutions:
        errors["resolution"] = _renders_at(model, model.resolutions)
    count = int(values.get("image_list") or 0)
    references = count + int(values.get("element_list") or 0)
    if references > MAX_OMNI_IMAGE_REFERENCES:
        errors["image_list"] = gettext(
            "Give at most %(most)d reference pictures and subjects in all; you gave %(count)d."
        ) % {"most": MAX_OMNI_IMAGE_REFERENCES, "count": references}
    result_type = values.get("result_type") or "single"
    if result_type not in RESULT_TYPES:
        errors["result_type"] = gettext("Choose one image or a series.")
    elif result_type == "series":
        low, high = model.series_range or (0, 0)
        amount = values.get("series_amount")
        if model.series_range is None:
            errors["result_type"] = gettext("%(model)s does not make series.") % {"model": model.label}
        elif amount != SERIES_AUTO and (
            isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= high
        ):
            errors["series_amount"] = gettext(
                "A series has %(low)d to %(high)d pictures, or as many as Kling chooses."
            ) % {
                "low": low,
                "high": high,
            }
        elif values.get("requested_n", 1) != 1:
            errors["n"] = gettext("A series is made one at a time.")
    subjects = int(values.get("element_list") or 0)
    errors.update(_reference_problems([values.get("prompt") or ""], count, subjects))
    return errors


def series_pictures_charged(model_name: str, amount: Any) -> Any:
    """How many pictures a series is charged for: its amount, or the most a series of
    `model_name` may have when Kling chooses (the rest is given back on success)."""
    if amount != SERIES_AUTO:
        return amount
    model = get(Kind.OMNI_IMAGE, model_name)
    return model.series_range[1] if model is not None and model.series_range else None


def _check_try_on(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values.get("human_image"):
        errors["human_image"] = gettext("Upload a photo of the person to dress.")
    if not values.get("cloth_image"):
        errors["cloth_image"] = gettext("Upload a photo of the garment.")
    garment = values.get("garment_type") or ""
    if garment not in GARMENT_LABELS:
        errors["garment_type"] = gettext(
            "Say what the garment picture shows: a top, a bottom, a dress, or a top and bottom."
        )
    elif garment not in model.garments:
        better = [m.label for m in models_for(Kind.VIRTUAL_TRY_ON) if garment in m.garments]
        errors["garment_type"] = (
            gettext("%(model)s does not dress a person in %(garment)s; choose %(others)s.")
            % {
                "model": model.label,
                "garment": _lower_first(gettext(GARMENT_LABELS[garment])),
                "others": _join(better),
            }
            if better
            else gettext("%(model)s does not dress a person in %(garment)s.")
            % {"model": model.label, "garment": _lower_first(gettext(GARMENT_LABELS[garment]))}
        )
    return errors


def _check_expand(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    """Expand: the four `<side>_expansion_ratio` numbers and an `image`."""
    errors = _check_image_count_and_ratio(model, values)
    if values.get("negative_prompt"):
        errors["negative_prompt"] = gettext("Expanding takes no negative prompt.")
    if not values.get("image"):
        errors["image"] = gettext("Upload the picture to expand.")
    ratios = {}
    for side in EXPANSION_SIDES:
        raw = values.get(f"{side}_expansion_ratio")
        number = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if number is None or not 0 <= number <= MAX_EXPANSION_RATIO:
            errors[f"{side}_expansion_ratio"] = gettext(
                "Extend each side by 0 to %(most)s times the picture."
            ) % {"most": f"{MAX_EXPANSION_RATIO:g}"}
        ratios[side] = number or 0.0
    if not any(f"{side}_expansion_ratio" in errors for side in EXPANSION_SIDES):
        area = expanded_area(**ratios)
        if area <= 0:
            errors["expansion"] = gettext("Extend at least one side.")
        elif area > MAX_NEW_AREA + 1e-9:
            errors["expansion"] = gettext(
                "These sides add %(area)s times the picture's area; Kling adds at most %(most)s times."
            ) % {"area": f"{area:.2f}", "most": f"{MAX_NEW_AREA:g}"}
    return errors


def _check_effects(model: VideoModel, values: Mapping[str, Any]) -> dict[str, str]:
    from generations import effects

    return effects.check(values)


_KIND_CHECKS = {
    Kind.LIP_SYNC: _check_lip_sync,
    Kind.VIDEO_EFFECTS: _check_effects,
    Kind.EXPAND_IMAGE: _check_expand,
    Kind.VIRTUAL_TRY_ON: _check_try_on,
    Kind.OMNI_IMAGE: _check_omni_image,
    Kind.MULTI_IMAGE2IMAGE: _check_multi_image2image,
    Kind.OMNI_VIDEO: _check_omni,
    Kind.AVATAR: _check_avatar,
    Kind.MOTION_CONTROL: _check_motion_control,
    Kind.MULTI_IMAGE2VIDEO: _check_multi_image,
    Kind.VIDEO_EXTEND: _check_extend,
    Kind.TEXT2AUDIO: _check_text_to_audio,
    Kind.VIDEO2AUDIO: _check_video_to_audio,
}


def _check_camera(model: VideoModel, mode: str, duration: int | None, camera: Mapping) -> dict[str, str]:
    if not model.camera_allowed(mode, duration):
        return {
            "camera_control": gettext("%(model)s supports camera control only in %(when)s.")
            % {"model": model.label, "when": model.camera.describe()}
            if model.camera
            else gettext("%(model)s supports no camera control.") % {"model": model.label}
        }
    kind = camera.get("type")
    if kind not in model.camera_types:
        return {
            "camera_control": gettext("%(model)s supports simple camera moves only.") % {"model": model.label}
        }
    if kind == CAMERA_SIMPLE:
        config = camera.get("config") or {}
        values = [abs(float(config.get(axis) or 0)) for axis in CAMERA_AXES]
        if len(_simple_axes(config)) != 1:
            return {"camera_control": gettext("Choose exactly one camera move.")}
        if max(values) > CAMERA_AXIS_LIMIT:
            return {
                "camera_value": gettext("The strength is between -%(most)s and %(most)s.")
                % {"most": f"{CAMERA_AXIS_LIMIT:g}"}
            }
    return {}


def _check_image(model: ImageModel, values: Mapping[str, Any]) -> dict[str, str]:
    errors = _check_image_count_and_ratio(model, values)
    has_reference = bool(values.get("image"))
    resolution = values.get("resolution") or "1k"
    allowed = model.reference_resolutions if has_reference else model.resolutions
    if resolution not in allowed:
        errors["resolution"] = (
            gettext("With a reference image, %(model)s renders at %(choices)s.")
            % {"model": model.label, "choices": _join(RESOLUTION_LABELS[r] for r in allowed)}
            if has_reference
            else _renders_at(model, allowed)
        )
    reference_type = values.get("image_reference") or ""
    if has_reference:
        if not model.reference_image:
            errors["image"] = gettext("%(model)s does not take a reference image.") % {"model": model.label}
        elif model.image_references and reference_type not in model.image_references:
            errors["image_reference"] = gettext(
                "Say what to keep from the reference image: the subject or the face."
            )
        if values.get("negative_prompt"):
            errors["negative_prompt"] = gettext(
                "A negative prompt cannot be combined with a reference image."
            )
    elif reference_type:
        errors["image_reference"] = gettext("A reference type needs a reference image.")
    fidelity = values.get("image_fidelity")
    if fidelity is not None and not 0 <= float(fidelity) <= 1:
        errors["image_fidelity"] = gettext("The reference strength is between 0 and 1.")
    # Kling reads human_fidelity only with a subject reference (section 3.11).
    likeness = values.get("human_fidelity")
    if likeness is not None:
        if not (has_reference and reference_type == "subject"):
            errors["human_fidelity"] = gettext(
                "Face likeness applies only with a reference image whose subject is kept."
            )
        elif not 0 <= float(likeness) <= 1:
            errors["human_fidelity"] = gettext("The face likeness is between 0 and 1.")
    if int(values.get("element_list") or 0) and not model.elements:
        errors["element_list"] = gettext("%(model)s does not take saved subjects; choose Kling 3.0.") % {
            "model": model.label
        }
    return errors


def _join(items: Iterable[str]) -> str:
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return gettext(", ").join(items[:-1]) + gettext(" or ") + items[-1]


def _seconds(value: Any) -> str:
    return gettext("%(seconds)s s") % {"seconds": value}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _clips_of(model: VideoModel, durations: str) -> str:
    return gettext("%(model)s makes clips of %(durations)s.") % {"model": model.label, "durations": durations}


def _choose_one_of(choices: Iterable[str]) -> str:
    return gettext("Choose one of %(choices)s.") % {"choices": _join(choices)}


def _modes_offered(model: VideoModel) -> str:
    modes = _join(gettext(MODE_LABELS[m]) for m in model.modes)
    return gettext("%(model)s offers %(modes)s mode.") % {"model": model.label, "modes": modes}


def _renders_at(model: ImageModel, resolutions: Iterable[str]) -> str:
    choices = _join(RESOLUTION_LABELS[r] for r in resolutions)
    return gettext("%(model)s renders at %(choices)s.") % {"model": model.label, "choices": choices}


def _subject_count(most: int, count: int) -> str:
    if not count:
        return gettext("Upload at least one subject picture.")
    return gettext("Give between 1 and %(most)d subject pictures; you gave %(count)d.") % {
        "most": most,
        "count": count,
    }


def summary_rows() -> list[dict[str, Any]]:
    """The table as rows for people (admin page, docs): one row per kind and model."""
    rows = []
    disabled = disabled_models()
    for kind, models in TABLE.items():
        for model in models.values():
            row: dict[str, Any] = {
                "kind": Kind(kind).label,
                "product": PRODUCTS[kind],
                "model": model.name,
                "label": model.label,
                "enabled": model.name not in disabled,
                "aspect_ratios": ", ".join(model.aspect_ratios)
                if kind
                in (
                    Kind.TEXT2VIDEO,
                    Kind.TEXT2IMAGE,
                    Kind.MULTI_IMAGE2VIDEO,
                    Kind.OMNI_VIDEO,
                    Kind.MULTI_IMAGE2IMAGE,
                    Kind.OMNI_IMAGE,
                )
                else "from the input",
                "prompt_limit": model.prompt_limit,
            }
            if isinstance(model, AudioModel):
                row.update(
                    modes="—",
                    durations="3-10 s" if kind == Kind.TEXT2AUDIO else "from the video (3-20 s)",
                    sound="—",
                    camera="—",
                    end_frame="—",
                    cfg_scale="—",
                    extras="no model or mode: one price per call",
                )
            elif isinstance(model, VideoModel):
                row.update(
                    modes=", ".join(MODE_LABELS[m] for m in model.modes) or "none",
                    durations=_durations_text(model.durations),
                    sound=model.sound.describe() if model.sound else "—",
                    camera=(
                        model.camera.describe()
                        + ("" if model.camera_types == ALL_CAMERA_TYPES else " (simple only)")
                        if model.camera
                        else "—"
                    ),
                    end_frame=model.end_frame.describe() if model.end_frame else "—",
                    cfg_scale="yes" if model.cfg_scale else "—",
                    extras="multi-shot storyboard (2-6 shots)" if model.multi_shot else "",
                )
            else:
                row.update(
                    modes="—",
                    durations="—",
                    sound="—",
                    camera="—",
                    end_frame="—",
                    cfg_scale="—",
                    extras=(
                        f"n 1-{model.max_n}; {', '.join(RESOLUTION_LABELS[r] for r in model.resolutions)}"
                        + ("; reference image" if model.reference_image else "")
                        + (f" ({' or '.join(model.image_references)})" if model.image_references else "")
                    ),
                )
            rows.append(row)
    return rows


def _durations_text(durations: tuple[int, ...]) -> str:
    if len(durations) > 3 and durations == tuple(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]}-{durations[-1]} s"
    return ", ".join(f"{d} s" for d in durations)
