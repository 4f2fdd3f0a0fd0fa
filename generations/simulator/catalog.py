"""What the simulated Kling accepts and what it charges (docs/kling.md sections 3, 8 and 9)."""

from __future__ import annotations

from decimal import Decimal

TEXT2VIDEO = "videos/text2video"
IMAGE2VIDEO = "videos/image2video"
IMAGES = "images/generations"
MULTI_IMAGE2IMAGE = "images/multi-image2image"
OMNI_IMAGE = "images/omni-image"
TRY_ON = "images/kolors-virtual-try-on"
EXPAND = "images/editing/expand"
EFFECTS = "videos/effects"
MOTION_CONTROL = "videos/motion-control"
MULTI_IMAGE2VIDEO = "videos/multi-image2video"
VIDEO_EXTEND = "videos/video-extend"
TEXT2AUDIO = "audio/text-to-audio"
VIDEO2AUDIO = "audio/video-to-audio"
AVATAR = "videos/avatar/image2video"
OMNI_VIDEO = "videos/omni-video"
LIP_SYNC = "videos/advanced-lip-sync"
# Synchronous: answers at once with the faces, and is kept as a finished task of its own
# product (its task id is the session id) so that lip-sync can find it and the costs count it.
IDENTIFY_FACE = "videos/identify-face"
AUDIO_PRODUCTS = (TEXT2AUDIO, VIDEO2AUDIO)
PRODUCTS = (
    TEXT2VIDEO,
    IMAGE2VIDEO,
    IMAGES,
    MOTION_CONTROL,
    MULTI_IMAGE2VIDEO,
    VIDEO_EXTEND,
    TEXT2AUDIO,
    VIDEO2AUDIO,
    AVATAR,
    OMNI_VIDEO,
    MULTI_IMAGE2IMAGE,
    OMNI_IMAGE,
    TRY_ON,
    EXPAND,
    EFFECTS,
    LIP_SYNC,
)
VIDEO_PRODUCTS = (TEXT2VIDEO, IMAGE2VIDEO)
# Products whose output videos are drawn with the product's name and the right length
# (every video product: a 5 s text to video shorter than 3 s could not be given sound,
# used as a motion reference or in omni video from its page).
LABELLED_PRODUCTS = {
    TEXT2VIDEO: "Text to video",
    IMAGE2VIDEO: "Image to video",
    MOTION_CONTROL: "Motion control",
    MULTI_IMAGE2VIDEO: "Multi-image to video",
    VIDEO_EXTEND: "Video extension",
    VIDEO2AUDIO: "Video to audio",
    AVATAR: "Avatar",
    OMNI_VIDEO: "Omni video",
    EFFECTS: "Video effect",
    LIP_SYNC: "Lip-sync",
}

MODELS = {
    TEXT2VIDEO: (
        "kling-v1",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    ),
    IMAGE2VIDEO: (
        "kling-v1",
        "kling-v1-5",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    ),
    IMAGES: ("kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1", "kling-v3"),
    MOTION_CONTROL: ("kling-v2-6", "kling-v3"),
    MULTI_IMAGE2VIDEO: ("kling-v1-6",),
    OMNI_VIDEO: ("kling-video-o1", "kling-v3-omni"),
    MULTI_IMAGE2IMAGE: ("kling-v2", "kling-v2-1"),
    OMNI_IMAGE: ("kling-image-o1", "kling-v3-omni"),
    TRY_ON: ("kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5"),
    # Effects name no model at the top level (a two-person scene may, inside `input`).
    EFFECTS: ("kling-v1-6",),
}
# Kling's documented default when `model_name` is empty (also what the ignored `model` alias gets).
DEFAULT_MODEL = "kling-v1"
DEFAULT_MODELS = {
    MOTION_CONTROL: "kling-v2-6",
    MULTI_IMAGE2VIDEO: "kling-v1-6",
    OMNI_VIDEO: "kling-video-o1",
    MULTI_IMAGE2IMAGE: "kling-v2",
    OMNI_IMAGE: "kling-image-o1",
    TRY_ON: "kolors-virtual-try-on-v1",
    EFFECTS: "kling-v1-6",
}

# Video effects (section 3.6): the two-person scenes that take a model and mode, the
# models they run on, the newer two-person scenes that take neither, and retired scenes.
DUAL_EFFECT_MODELS = {
    "hug": ("kling-v1", "kling-v1-5", "kling-v1-6"),
    "kiss": ("kling-v1", "kling-v1-5", "kling-v1-6"),
    "heart_gesture": ("kling-v1", "kling-v1-5", "kling-v1-6"),
    "fight": ("kling-v1-6",),
}
# Retired scenes, answered as not supported: those Kling's API updates page announced
# (celebration and c4d_cartoon on 2025-12-30; hug, kiss, fight, thumbs_up, tiger_hug, pet_lion
# and 3d_cartoon_1 on 2026-01-30; magic_match_tree on 2026-07-03) and those its Video Effects
# page no longer lists in 2026-09 (the one-picture classics and the classic heart_gesture,
# whose models stay above for a test that brings it back).
RETIRED_EFFECTS = frozenset(
    {
        "celebration",
        "c4d_cartoon",
        "hug",
        "kiss",
        "fight",
        "thumbs_up",
        "tiger_hug",
        "pet_lion",
        "3d_cartoon_1",
        "magic_match_tree",
        "bloombloom",
        "dizzydizzy",
        "fuzzyfuzzy",
        "squish",
        "expansion",
        "heart_gesture",
    }
)
# The dual-image scenes of Kling's Video Effects page (2026-09), which take two `images` and
# neither model nor mode; every other live scene takes one `image`.
DUAL_EFFECTS = frozenset(
    {
        "pet_skateboard",
        "daily_ootd",
        "toss_run",
        "switch_to_silk",
        "studio_look",
        "french_elegance",
        "finger_swipe",
        "smooth_transition",
        "kiss_pro",
        "snow_night_kiss",
        "eternal_kiss",
        "cheers_2026",
        "fight_pro",
        "hug_pro",
        "heart_gesture_pro",
    }
)
# Scenes that make one length only (Kling's Effects Center); the others take "5" or "10".
EFFECT_DURATIONS = {"cheers_2026": ("5",)}
EFFECT_UNITS_PER_SECOND = {"std": Decimal("0.4"), "pro": Decimal("0.7")}

# Motion control (section 3.8): the reference video's limits by character_orientation.
MOTION_MIN_SECONDS = 3.0
MOTION_MAX_SECONDS = {"image": 10.0, "video": 30.0}
MOTION_UNITS_PER_SECOND = {
    "kling-v2-6": {"std": Decimal("0.5"), "pro": Decimal("0.8")},
    "kling-v3": {"std": Decimal("0.9"), "pro": Decimal("1.2")},
}
# The length assumed for a reference video the simulator does not fetch (not under SITE_URL).
UNFETCHED_VIDEO_SECONDS = 5.0
MAX_SUBJECT_IMAGES = 4
# Video extension (section 3.4): Kling's own videos of the last 30 days, of these models,
# about 5 s more a call, 3 minutes in all; units per call.
EXTENDABLE_MODELS = ("kling-v1", "kling-v1-5", "kling-v1-6")
EXTEND_SECONDS = 5
EXTEND_MAX_TOTAL_SECONDS = 180
EXTEND_SOURCE_DAYS = 30
EXTEND_UNITS = {"kling-v1": {"std": "1", "pro": "3.5"}, "kling-v1-5": {"std": "2", "pro": "3.5"}}
# Audio (section 3.10): no model; prompts of at most 200 characters; 0.25 units a call.
AUDIO_PROMPT_LIMIT = 200
TEXT_TO_AUDIO_SECONDS = (3.0, 10.0)
VIDEO_TO_AUDIO_SECONDS = (3.0, 20.0)
AUDIO_UNITS = Decimal("0.25")
# Omni video (section 3.7): up to 7 reference pictures; 3-10 s; multi-shot on
# kling-v3-omni only, 2-6 shots of at most 512 characters adding up to the duration;
# per second like kling-v3 without a reference video (section 10.2).
MAX_OMNI_IMAGES = 7
# Multi-image to image (section 3.12): 1-4 subject pictures; 16 units per output image.
MAX_SUBJECT_PICTURES = 4
# Omni image (section 3.12): images + elements at most 10; 4K on kling-v3-omni only; a
# series of 2-9 pictures ("auto": the simulator makes 3); 8 units a picture, 16 at 4K.
MAX_OMNI_IMAGE_REFERENCES = 10
OMNI_IMAGE_RESOLUTIONS = ("1k", "2k", "4k")
SERIES_RANGE = (2, 9)
AUTO_SERIES_AMOUNT = 3
# Expand (section 3.12): each side 0-2 times the picture, new area at most 3 times it.
MAX_EXPANSION_RATIO = 2
MAX_NEW_AREA = 3
OMNI_DURATIONS = tuple(str(n) for n in range(3, 11))
OMNI_MULTI_SHOT_MODELS = ("kling-v3-omni",)
MULTI_SHOT_RANGE = (2, 6)
SHOT_PROMPT_LIMIT = 512
OMNI_UNITS_PER_SECOND = {"std": Decimal("0.6"), "pro": Decimal("0.8")}
# With a reference video (`video_list`: one MP4/MOV of 3-10 s; then at most 4 pictures):
# dearer per second; a `base` video is edited as it is, so the clip lasts as long as it.
OMNI_WITH_VIDEO_UNITS_PER_SECOND = {"std": Decimal("0.9"), "pro": Decimal("1.2")}
MAX_OMNI_IMAGES_WITH_VIDEO = 4
OMNI_VIDEO_SECONDS = (3.0, 10.0)
OMNI_REFER_TYPES = ("feature", "base")
# Avatar (section 3.9): no model; a sound file of 2-300 s; billed per second of output.
AVATAR_SOUND_SECONDS = (2.0, 300.0)
AVATAR_UNITS_PER_SECOND = {"std": Decimal("0.4"), "pro": Decimal("0.8")}
# Lip-sync (section 3.5): identify-face reads a video of 2-60 s (sides 512-2160 px) and
# keeps its session 24 h; advanced-lip-sync takes one face and a sound of 2-60 s, cut to
# at least 2 s, that overlaps the face's window by at least 2 s and ends within the video.
FACE_VIDEO_SECONDS = (2.0, 60.0)
FACE_VIDEO_SIDES = (512, 2160)
FACE_SESSION_MS = 24 * 3600 * 1000
FACE_UNITS = Decimal("0.05")
LIP_SYNC_SOUND_SECONDS = (2.0, 60.0)
LIP_SYNC_MIN_MS = 2000
LIP_SYNC_UNITS_PER_5_SECONDS = Decimal("0.5")
VOLUME_RANGE = (0.0, 2.0)
# The length assumed for a sound file the simulator does not fetch (not under SITE_URL).
UNFETCHED_SOUND_SECONDS = 5.0

PROMPT_LIMIT = 2500
VIDEO_ASPECT_RATIOS = ("16:9", "9:16", "1:1")
IMAGE_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9")
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
RESOLUTIONS = ("1k", "2k")


def modes(model: str) -> tuple[str, ...]:
    return ("std", "pro", "4k") if model == "kling-v3" else ("std", "pro")


def durations(model: str) -> tuple[str, ...]:
    return tuple(str(n) for n in range(3, 16)) if model == "kling-v3" else ("5", "10")


def sound_allowed(model: str, mode: str) -> bool:
    return model == "kling-v3" or (model == "kling-v2-6" and mode == "pro")


def package(product: str) -> str:
    if product.startswith("images/"):
        return "image"
    return "audio" if product.startswith("audio/") else "video"


# Units per 5-second clip for the per-clip models (section 10.1); 10 s is double.
_PER_CLIP = {
    "kling-v1": {"std": "1", "pro": "3.5"},
    "kling-v1-5": {"std": "2", "pro": "3.5"},
    "kling-v1-6": {"std": "2", "pro": "3.5"},
    "kling-v2-1": {"std": "2", "pro": "3.5"},
    "kling-v2-master": {"std": "10", "pro": "10"},
    "kling-v2-1-master": {"std": "10", "pro": "10"},
    "kling-v2-5-turbo": {"std": "1.5", "pro": "2.5"},
    "kling-v2-6": {"std": "1.5", "pro": "2.5"},
}
# kling-v3 is billed per second (section 10.2): (silent, with audio).
_V3_PER_SECOND = {"std": ("0.6", "0.9"), "pro": ("0.8", "1.2"), "4k": ("3.0", "3.0")}
# Image units per image (section 10.3): (text-to-image, image-to-image).
_PER_IMAGE = {
    "kling-v1": ("1", "1"),
    "kling-v1-5": ("4", "8"),
    "kling-v2": ("4", "8"),
    "kling-v2-1": ("4", "8"),
    "kling-v2-new": ("8", "8"),
    "kling-v3": ("8", "8"),
}

# Image products other than images/generations: units per output image, whatever the model.
# Try-on: about $0.07 a picture (20 units).
_PER_PRODUCT_IMAGE = {MULTI_IMAGE2IMAGE: "16", OMNI_IMAGE: "8", TRY_ON: "20", EXPAND: "8"}


def units(
    product: str,
    model: str,
    *,
    mode: str = "std",
    duration: str = "5",
    sound: str = "off",
    voice: bool = False,
    n: int = 1,
    reference_image: bool = False,
    resolution: str = "",
    reference_video: bool = False,
) -> Decimal:
    """`final_unit_deduction` of a successful task, in Kling's units."""
    if product == MOTION_CONTROL:
        rates = MOTION_UNITS_PER_SECOND.get(model, MOTION_UNITS_PER_SECOND["kling-v2-6"])
        return rates.get(mode, rates["std"]) * Decimal(duration)
    if product in AUDIO_PRODUCTS:
        return AUDIO_UNITS
    if product == EFFECTS:
        return EFFECT_UNITS_PER_SECOND.get(mode, EFFECT_UNITS_PER_SECOND["std"]) * Decimal(duration)
    if product == OMNI_VIDEO:
        rates = OMNI_WITH_VIDEO_UNITS_PER_SECOND if reference_video else OMNI_UNITS_PER_SECOND
        return rates.get(mode, rates["pro"]) * Decimal(duration)
    if product == IDENTIFY_FACE:
        return FACE_UNITS
    if product == LIP_SYNC:
        # Billed by started 5-second block of the video.
        blocks = -(-Decimal(duration) // 5)
        return LIP_SYNC_UNITS_PER_5_SECONDS * blocks
    if product == AVATAR:
        return AVATAR_UNITS_PER_SECOND.get(mode, AVATAR_UNITS_PER_SECOND["std"]) * Decimal(duration)
    if product == VIDEO_EXTEND:
        return Decimal(EXTEND_UNITS.get(model, EXTEND_UNITS["kling-v1-5"]).get(mode, "2"))
    if product == OMNI_IMAGE and resolution == "4k":
        return Decimal("16") * n
    if product in _PER_PRODUCT_IMAGE:
        return Decimal(_PER_PRODUCT_IMAGE[product]) * n
    if package(product) == "image":
        text, image = _PER_IMAGE.get(model, ("4", "8"))
        return Decimal(image if reference_image else text) * n
    seconds = Decimal(duration)
    if model == "kling-v3":
        silent, audio = _V3_PER_SECOND.get(mode, _V3_PER_SECOND["std"])
        return Decimal(audio if sound == "on" else silent) * seconds
    if model == "kling-v2-6" and sound == "on":
        per_clip = Decimal("6" if voice else "5")
    else:
        per_clip = Decimal(_PER_CLIP.get(model, _PER_CLIP["kling-v1-6"]).get(mode, "2"))
    return per_clip * seconds / 5


def format_units(value: Decimal) -> str:
    """Kling's decimal string: "1.5", "3", "4.2"."""
    text = format(value.normalize(), "f")
    return text
