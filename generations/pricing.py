"""Credits per generation: `Price` rows (editable in admin) looked up by kind and options.

The default rows follow Kling's own unit prices (docs/kling.md section 8): 10 credits per
video unit, rounded up, and 1 credit per image. A combination with no active row is not
offered, whatever the capability table says: operators switch things off by price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext as _

from generations import capabilities, effects
from generations.capabilities import VideoModel
from generations.models import Kind, Price

CREDITS_PER_VIDEO_UNIT = 10
CREDITS_PER_IMAGE = 1

# Kling video units per second of output by model, (mode, sound). The per-clip prices of
# section 10.1 are linear in duration (10 s costs twice 5 s), so one rate covers both.
_D = Decimal
VIDEO_UNITS_PER_SECOND: dict[str, dict[tuple[str, bool], Decimal]] = {
    "kling-v1": {("std", False): _D("0.2"), ("pro", False): _D("0.7")},
    "kling-v1-5": {("std", False): _D("0.4"), ("pro", False): _D("0.7")},
    "kling-v1-6": {("std", False): _D("0.4"), ("pro", False): _D("0.7")},
    "kling-v2-1": {("std", False): _D("0.4"), ("pro", False): _D("0.7")},
    "kling-v2-master": {("", False): _D("2")},
    "kling-v2-1-master": {("", False): _D("2")},
    "kling-v2-5-turbo": {("std", False): _D("0.3"), ("pro", False): _D("0.5")},
    "kling-v2-6": {("std", False): _D("0.3"), ("pro", False): _D("0.5"), ("pro", True): _D("1")},
    "kling-v3": {
        ("std", False): _D("0.6"),
        ("std", True): _D("0.9"),
        ("pro", False): _D("0.8"),
        ("pro", True): _D("1.2"),
        ("4k", False): _D("3"),
        ("4k", True): _D("3"),
    },
    # Omni video, silent (section 10.2): without a reference video, and with one (its
    # rows carry the mode with WITH_VIDEO appended, e.g. "std+video").
    "kling-video-o1": {
        ("std", False): _D("0.6"),
        ("pro", False): _D("0.8"),
        ("std+video", False): _D("0.9"),
        ("pro+video", False): _D("1.2"),
    },
    "kling-v3-omni": {
        ("std", False): _D("0.6"),
        ("pro", False): _D("0.8"),
        ("std+video", False): _D("0.9"),
        ("pro+video", False): _D("1.2"),
    },
}
# The price rows of omni video with a reference video: its mode with this appended.
WITH_VIDEO = "+video"


def price_mode(kind: str, values: dict[str, Any]) -> str:
    """The `mode` of the Price rows that price these values: omni video with a reference
    video (or a base video to edit) costs more per second than without."""
    mode = values.get("mode") or ""
    if kind == Kind.OMNI_VIDEO and values.get("video"):
        return mode + WITH_VIDEO
    return mode


# Motion control is billed per second of output (section 10.2), by model and mode.
MOTION_UNITS_PER_SECOND: dict[str, dict[str, Decimal]] = {
    "kling-v2-6": {"std": _D("0.5"), "pro": _D("0.8")},
    "kling-v3": {"std": _D("0.9"), "pro": _D("1.2")},
}
AVATAR_UNITS_PER_SECOND: dict[str, dict[str, Decimal]] = {
    "kling-avatar": {"std": _D("0.4"), "pro": _D("0.8")},
}
# Video extension: units per call, by the source's model and mode (section 10.1).
EXTEND_UNITS: dict[str, dict[str, Decimal]] = {
    "kling-v1": {"std": _D("1"), "pro": _D("3.5")},
    "kling-v1-5": {"std": _D("2"), "pro": _D("3.5")},
    "kling-v1-6": {"std": _D("2"), "pro": _D("3.5")},
}

# Image kinds beyond text to image: Kling image units per output image (section 10.3), by
# model and resolution ("" for any resolution). An image credit is worth 4 image units
# (text to image's 4-unit picture costs 1 credit), rounded up.
IMAGE_UNITS_PER_CREDIT = 4
IMAGE_UNITS: dict[str, dict[str, dict[str, Decimal]]] = {
    Kind.MULTI_IMAGE2IMAGE: {"kling-v2-1": {"": _D("16")}, "kling-v2": {"": _D("16")}},
    Kind.EXPAND_IMAGE: {"kling-expand": {"": _D("8")}},
    # Try-on: about $0.07 a picture, 20 image units (section 10.3).
    Kind.VIRTUAL_TRY_ON: {
        "kolors-virtual-try-on-v1": {"": _D("20")},
        "kolors-virtual-try-on-v1-5": {"": _D("20")},
    },
    Kind.OMNI_IMAGE: {"kling-image-o1": {"": _D("8")}, "kling-v3-omni": {"": _D("8"), "4k": _D("16")}},
}

# Lip-sync: 0.5 units per started 5 s of the video, plus 0.05 for the face detection it
# starts from (section 10.2), charged together when the lip-sync is ordered.
LIP_SYNC_UNITS_PER_BLOCK = _D("0.5")
FACE_DETECTION_UNITS = _D("0.05")


def lip_sync_units(duration: int) -> Decimal:
    blocks = -(-duration // capabilities.LIP_SYNC_BLOCK_SECONDS)
    return LIP_SYNC_UNITS_PER_BLOCK * blocks + FACE_DETECTION_UNITS


# Text to audio and video to audio: 0.25 units a call (section 10.2).
AUDIO_UNITS_PER_CALL = _D("0.25")

# Text to image: Kling image units per picture by model (section 10.3). A row covers the
# picture made with a reference image too, which costs more: its units are the dearer case.
TEXT2IMAGE_UNITS: dict[str, Decimal] = {
    "kling-v1": _D("1"),
    "kling-v1-5": _D("8"),
    "kling-v2": _D("8"),
    "kling-v2-1": _D("8"),
    "kling-v3": _D("8"),
}


class NotOffered(Exception):
    """No active price for this combination: it cannot be ordered."""

    def __init__(self, message: str, field: str = "model_name") -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Quote:
    credits: int  # the total to charge
    unit_credits: int  # per clip, or per image
    count: int = 1  # images
    seconds: int = 0  # kinds billed per second: the whole seconds charged

    @property
    def description(self) -> str:
        if self.seconds:
            return f"{self.seconds} s x {self.unit_credits} credit{'s' if self.unit_credits != 1 else ''} a second"
        if self.count > 1:
            return f"{self.count} images x {self.unit_credits} credit{'s' if self.unit_credits != 1 else ''}"
        return ""


def video_credits(units: Decimal) -> int:
    return int((units * CREDITS_PER_VIDEO_UNIT).to_integral_value(rounding=ROUND_CEILING))


def image_credits(units: Decimal) -> int:
    return int((units / IMAGE_UNITS_PER_CREDIT).to_integral_value(rounding=ROUND_CEILING))


def default_price_rows() -> list[dict[str, Any]]:
    """One row per combination the capability table allows, disabled models included (so
    re-enabling one needs no new prices). Used by the data migration and by admin."""
    rows = []
    for kind in (Kind.TEXT2VIDEO, Kind.IMAGE2VIDEO, Kind.MULTI_IMAGE2VIDEO, Kind.OMNI_VIDEO):
        for model in capabilities.models_for(kind, include_disabled=True):
            assert isinstance(model, VideoModel)
            rates = VIDEO_UNITS_PER_SECOND[model.name]
            modes = model.modes or ("",)
            if kind == Kind.OMNI_VIDEO:
                modes = (*modes, *(mode + WITH_VIDEO for mode in modes))
            for mode in modes:
                for duration in model.durations:
                    for sound in (False, True):
                        if sound and not model.sound_allowed(mode, duration):
                            continue
                        units = rates[(mode, sound)] * duration
                        rows.append(
                            {
                                "kind": str(kind),
                                "model_name": model.name,
                                "mode": mode,
                                "duration": duration,
                                "audio": sound,
                                "credits": video_credits(units),
                            }
                        )
    # Per second of output (motion control) and per call (extension): no duration.
    for kind, table in (
        (Kind.MOTION_CONTROL, MOTION_UNITS_PER_SECOND),
        (Kind.AVATAR, AVATAR_UNITS_PER_SECOND),
        (Kind.VIDEO_EXTEND, EXTEND_UNITS),
    ):
        for model in capabilities.models_for(kind, include_disabled=True):
            for mode in model.modes:
                rows.append(
                    {
                        "kind": str(kind),
                        "model_name": model.name,
                        "mode": mode,
                        "duration": None,
                        "audio": None,
                        "credits": video_credits(table[model.name][mode]),
                    }
                )
    for kind in (Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO):
        for model in capabilities.models_for(kind, include_disabled=True):
            rows.append(
                {
                    "kind": str(kind),
                    "model_name": model.name,
                    "mode": "",
                    "duration": None,
                    "audio": None,
                    "credits": video_credits(AUDIO_UNITS_PER_CALL),
                }
            )
    for model in capabilities.models_for(Kind.LIP_SYNC, include_disabled=True):
        for duration in model.durations:
            rows.append(
                {
                    "kind": str(Kind.LIP_SYNC),
                    "model_name": model.name,
                    "mode": "",
                    "duration": duration,
                    "audio": None,
                    "credits": video_credits(lip_sync_units(duration)),
                }
            )
    for model in capabilities.models_for(Kind.TEXT2IMAGE, include_disabled=True):
        rows.append(
            {
                "kind": str(Kind.TEXT2IMAGE),
                "model_name": model.name,
                "mode": "",
                "duration": None,
                "audio": None,
                "credits": CREDITS_PER_IMAGE,
            }
        )
    for kind, table in IMAGE_UNITS.items():
        for model in capabilities.models_for(kind, include_disabled=True):
            for resolution, units in table[model.name].items():
                rows.append(
                    {
                        "kind": str(kind),
                        "model_name": model.name,
                        # An image price that depends on the resolution keeps it in `mode`.
                        "mode": resolution,
                        "duration": None,
                        "audio": None,
                        "credits": image_credits(units),
                    }
                )
    rows.extend(effects.price_rows(video_credits))
    return rows


def price_units(
    kind: str, model_name: str, mode: str, duration: int | None, audio: bool | None
) -> Decimal | None:
    """Kling units one price row buys (per clip, per second, per call or per image, as its
    credits are counted), from the tables the default credits come from.

    None when the row is a wildcard whose units vary (a blank mode or duration where the
    model has several) or the kind has no unit table here."""
    if kind in (Kind.TEXT2VIDEO, Kind.IMAGE2VIDEO, Kind.MULTI_IMAGE2VIDEO, Kind.OMNI_VIDEO):
        rates = VIDEO_UNITS_PER_SECOND.get(model_name, {})
        if duration is None or (mode, False) not in rates:
            return None
        if audio is None and (mode, True) in rates:
            return None
        return rates[(mode, bool(audio))] * duration if (mode, bool(audio)) in rates else None
    per_call = {
        Kind.MOTION_CONTROL: MOTION_UNITS_PER_SECOND,
        Kind.AVATAR: AVATAR_UNITS_PER_SECOND,
        Kind.VIDEO_EXTEND: EXTEND_UNITS,
    }.get(kind)
    if per_call is not None:
        return per_call.get(model_name, {}).get(mode)
    if kind in (Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO):
        return AUDIO_UNITS_PER_CALL
    if kind == Kind.LIP_SYNC:
        return lip_sync_units(duration) if duration else None
    if kind == Kind.TEXT2IMAGE:
        return TEXT2IMAGE_UNITS.get(model_name)
    if kind in IMAGE_UNITS:
        return IMAGE_UNITS[kind].get(model_name, {}).get(mode)
    if kind == Kind.VIDEO_EFFECTS:
        return effects.units(model_name, mode, duration)
    return None


def seed_default_prices(price_model: Any, kind: str) -> None:
    """Create the default rows of one kind (for data migrations: `price_model` is the
    historical Price), never overwriting a row an operator already edited."""
    for row in default_price_rows():
        if row["kind"] == kind:
            price_model.objects.get_or_create(
                kind=row["kind"],
                model_name=row["model_name"],
                mode=row["mode"],
                duration=row["duration"],
                audio=row["audio"],
                defaults={"credits": row["credits"]},
            )


class PriceBook:
    """The active price rows of one request, read once per kind and model.

    A create POST prices its form (the quote checked against what the page showed) and
    then charges in `services.create_generation`: with one book passed to both, the charge
    is exactly the quote, from the same rows, and the rows are read once. A book belongs to
    one request and is dropped with it, so a price staff edit applies from the next
    request; never keep one longer (it is not a cache).
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[Price]] = {}

    def rows(self, kind: str, model_name: str) -> list[Price]:
        key = (kind, model_name)
        if key not in self._rows:
            self._rows[key] = list(Price.objects.filter(kind=kind, model_name=model_name, active=True))
        return self._rows[key]


def find_price(
    kind: str,
    model_name: str,
    mode: str,
    duration: int | None,
    audio: bool,
    *,
    book: PriceBook | None = None,
) -> Price | None:
    """The most specific active row that matches: an exact mode beats a blank one, then an
    exact duration beats a blank one, then an exact audio flag beats a blank one. The rows
    come from `book` when given (read there once per request), else from the database."""
    candidates = [
        p
        for p in (book or PriceBook()).rows(kind, model_name)
        if p.mode in ("", mode) and p.duration in (None, duration) and p.audio in (None, audio)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.mode != "", p.duration is not None, p.audio is not None, -p.pk))


def quote(kind: str, values: dict[str, Any], *, book: PriceBook | None = None) -> Quote:
    """What a request costs, in credits. Raises NotOffered when no active price matches.

    `values` are the checked Kling fields (see capabilities.validate); `book`, the
    request's price rows (PriceBook), so that quoting it twice reads them once."""
    model_name = values.get("model_name") or ""
    model = capabilities.get(kind, model_name)
    if model is None:
        raise NotOffered(_("%(model)s is not offered.") % {"model": model_name or _("This model")})
    if kind in capabilities.PER_SECOND_KINDS:
        return _per_second_quote(kind, model, values, book)
    if kind == Kind.VIDEO_EFFECTS:
        return _effect_quote(values, book)
    if kind in capabilities.PER_CALL_KINDS:
        price = find_price(kind, model_name, values.get("mode") or "", None, False, book=book)
        if price is None:
            if kind == Kind.VIDEO_EXTEND:
                raise NotOffered(
                    _("Extending %(model)s videos is not offered at the moment.") % {"model": model.label},
                    "video_id",
                )
            raise NotOffered(_("%(kind)s is not offered at the moment.") % {"kind": Kind(kind).label})
        return Quote(credits=price.credits, unit_credits=price.credits)
    if isinstance(model, VideoModel):
        mode = values.get("mode") or ""
        duration = values.get("duration")
        audio = bool(values.get("sound"))
        price = find_price(kind, model_name, price_mode(kind, values), duration, audio, book=book)
        if price is None:
            what = " ".join(
                part
                for part in (
                    model.label,
                    gettext(capabilities.MODE_LABELS.get(mode, ""))
                    if mode in capabilities.MODE_LABELS
                    else "",
                    _("%(seconds)s s") % {"seconds": duration} if duration else "",
                    _("with sound") if audio else "",
                )
                if part
            )
            raise NotOffered(_unavailable(what), "duration")
        return Quote(credits=price.credits, unit_credits=price.credits)
    n = values.get("n") or 1
    price = find_price(kind, model_name, values.get("resolution") or "", None, False, book=book)
    if price is None:
        raise NotOffered(_("%(model)s images are not offered at the moment.") % {"model": model.label})
    return Quote(credits=price.credits * n, unit_credits=price.credits, count=n)


def _unavailable(what: str) -> str:
    return _("%(what)s is not offered at the moment. Choose other options.") % {"what": what}


def _effect_quote(values: dict[str, Any], book: PriceBook | None) -> Quote:
    """An effect is priced per scene (its name is the row's model_name), length and mode."""
    scene = values.get("effect_scene") or ""
    duration = values.get("duration")
    price = find_price(Kind.VIDEO_EFFECTS, scene, values.get("mode") or "", duration, False, book=book)
    if price is None:
        raise NotOffered(
            _("This effect is not offered at %(seconds)s s at the moment.") % {"seconds": duration},
            "duration",
        )
    return Quote(credits=price.credits, unit_credits=price.credits)


def billed_seconds(seconds: float | None) -> int:
    """The whole seconds a per-second kind is charged for: its measured length, rounded up."""
    if seconds is None:
        return 0
    return int(Decimal(str(seconds)).to_integral_value(rounding=ROUND_CEILING))


def _per_second_quote(kind: str, model: VideoModel, values: dict[str, Any], book: PriceBook | None) -> Quote:
    """Credits per second (the Price row) times the output's whole seconds: for motion
    control the output is as long as the reference video, for an avatar as the sound
    (`output_seconds`, measured)."""
    mode = values.get("mode") or ""
    price = find_price(kind, model.name, mode, None, False, book=book)
    if price is None:
        label = capabilities.MODE_LABELS.get(mode, "")
        what = f"{model.label} {gettext(label) if label else ''}".strip()
        raise NotOffered(_unavailable(what), "mode")
    seconds = billed_seconds(values.get("output_seconds"))
    return Quote(credits=price.credits * seconds, unit_credits=price.credits, seconds=seconds)
