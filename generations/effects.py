"""Video effects (`POST /v1/videos/effects`): Kling's effect templates and their input rules.

A request names an `effect_scene` and an `input` object whose shape depends on the scene
(Kling's API reference, video effects):

- single-image scenes: `{"image": url|Base64, "duration": "5"}`;
- two-person scenes (`hug`, `kiss`, `heart_gesture`, `fight`): `{"model_name", "mode",
  "images": [left, right], "duration": "5"|"10"}`, `fight` on `kling-v1-6` only;
- the newer two-person scenes (`*_pro`, `cheers_2026`) take `images` but no model or mode;
  cheers_2026 makes 5 s clips only.

The scenes live in the EffectScene table (staff switch retired ones off); SEED_SCENES is
what the data migration puts there first. Their prices are Price rows of this kind whose
`model_name` is the scene's name, per length (and per mode where a scene takes one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext, gettext_noop

PRODUCT = "videos/effects"
DUAL_MODELS = ("kling-v1-6", "kling-v1-5", "kling-v1")
MODES = ("std", "pro")


@dataclass(frozen=True)
class SeedScene:
    name: str
    label: str
    description: str
    two_person: bool = False
    model_names: tuple[str, ...] = ()
    durations: tuple[int, ...] = (5,)
    enabled: bool = True


# The names Kling's Video Effects page no longer lists are seeded switched off, so that old
# generations still show their scene and staff can see what was there (docs/kling.md,
# section 8): hug, kiss and fight (with pet_lion) went on 2026-01-30 as announced; the
# one-picture classics and the classic heart_gesture were gone from the list by 2026-09
# (migration 0021 switched them off where they were seeded on).
SEED_SCENES: tuple[SeedScene, ...] = (
    # One-picture scenes on Kling's list in 2026-09, so that the gallery still has some.
    SeedScene("zoom_out", gettext_noop("Zoom out"), gettext_noop("The camera pulls back from the subject.")),
    SeedScene(
        "dollar_rain_pro",
        gettext_noop("Dollar rain"),
        gettext_noop("Banknotes rain down around the subject."),
    ),
    SeedScene(
        "bullet_time_360",
        gettext_noop("Bullet time 360"),
        gettext_noop("The camera circles the frozen subject."),
    ),
    SeedScene(
        "bloombloom",
        gettext_noop("Bloom bloom"),
        gettext_noop("Flowers burst out around the subject."),
        enabled=False,
    ),
    SeedScene(
        "dizzydizzy",
        gettext_noop("Dizzy dizzy"),
        gettext_noop("The subject spins until dizzy."),
        enabled=False,
    ),
    SeedScene(
        "fuzzyfuzzy",
        gettext_noop("Fuzzy fuzzy"),
        gettext_noop("The subject turns soft and fluffy."),
        enabled=False,
    ),
    SeedScene(
        "squish", gettext_noop("Squish"), gettext_noop("The subject is squeezed like a toy."), enabled=False
    ),
    SeedScene(
        "expansion",
        gettext_noop("Expansion"),
        gettext_noop("The subject puffs up like a balloon."),
        enabled=False,
    ),
    # Two people and 5 s only (Kling's Effects Center; its API page lists it with the
    # dual-image scenes).
    SeedScene(
        "cheers_2026",
        gettext_noop("Cheers 2026"),
        gettext_noop("A New Year toast."),
        two_person=True,
        durations=(5,),
    ),
    SeedScene(
        "heart_gesture",
        gettext_noop("Heart gesture"),
        gettext_noop("Two people make a heart with their hands."),
        two_person=True,
        model_names=DUAL_MODELS,
        durations=(5, 10),
        enabled=False,
    ),
    SeedScene(
        "hug_pro",
        gettext_noop("Hug"),
        gettext_noop("Two people from two photos hug."),
        two_person=True,
        durations=(5, 10),
    ),
    SeedScene(
        "kiss_pro",
        gettext_noop("Kiss"),
        gettext_noop("Two people from two photos kiss."),
        two_person=True,
        durations=(5, 10),
    ),
    SeedScene(
        "heart_gesture_pro",
        gettext_noop("Heart gesture (new)"),
        gettext_noop("Two people make a heart with their hands."),
        two_person=True,
        durations=(5, 10),
    ),
    SeedScene(
        "hug",
        gettext_noop("Hug (classic)"),
        "",
        two_person=True,
        model_names=DUAL_MODELS,
        durations=(5, 10),
        enabled=False,
    ),
    SeedScene(
        "kiss",
        gettext_noop("Kiss (classic)"),
        "",
        two_person=True,
        model_names=DUAL_MODELS,
        durations=(5, 10),
        enabled=False,
    ),
    SeedScene(
        "fight",
        gettext_noop("Fight"),
        "",
        two_person=True,
        model_names=("kling-v1-6",),
        durations=(5, 10),
        enabled=False,
    ),
)

# Kling prices effects per template (its Effects Pricing List, linked from the API updates
# page); the list itself is not in Kling's public docs text, so the defaults come from what
# is published, at $0.14 a video unit (docs/kling.md, section 8):
# - the classic scenes run on Kling 1.6, and fal.ai sells them at Kling 1.6's own rates:
#   `fal-ai/kling-video/v1.6/standard/effects` $0.056 a second and `.../v1.6/pro/effects`
#   $0.098 a second, i.e. 0.4 and 0.7 units a second, the kling-v1-6 clip prices of Kling's
#   unit table (2 units std 5 s, 3.5 pro 5 s). The one-picture classic scenes take no mode
#   and are sold at the standard rate.
# - the newer templates (`*_pro` two-person scenes, cheers_2026) have no published figure:
#   they take the highest published effect rate, 0.7 units a second, so that a clip is never
#   sold below what Kling may deduct. Staff set the real figure in admin from the
#   `final_unit_deduction` Kling reports on the first finished task of the scene; a scene
#   staff add themselves is quoted at that same rate by `units()` until they do.
STANDARD_RATE = Decimal("0.4")
PROFESSIONAL_RATE = Decimal("0.7")
UNPUBLISHED_RATE = PROFESSIONAL_RATE
CLASSIC_RATES = {"": STANDARD_RATE, "std": STANDARD_RATE, "pro": PROFESSIONAL_RATE}
# The scenes whose figure is published (above); every other scene is priced at UNPUBLISHED_RATE.
PUBLISHED_SCENES = frozenset(
    {"bloombloom", "dizzydizzy", "fuzzyfuzzy", "squish", "expansion", "heart_gesture", "hug", "kiss", "fight"}
)


def units(scene: str, mode: str, duration: int | None) -> Decimal | None:
    """Kling units of one `scene` clip of `duration` seconds in `mode` ("" for a scene that
    takes no mode), by the published rates above or the fallback; None for an unknown mode
    or no length."""
    if duration is None or mode not in CLASSIC_RATES:
        return None
    rate = CLASSIC_RATES[mode] if scene in PUBLISHED_SCENES else UNPUBLISHED_RATE
    return rate * duration


def price_rows(credits_for) -> list[dict[str, Any]]:
    """The default Price rows of every seeded scene (`credits_for(units)` rounds units to
    credits as the other video kinds do)."""
    rows = []
    for scene in SEED_SCENES:
        for mode in MODES if scene.model_names else ("",):
            for duration in scene.durations:
                rows.append(
                    {
                        "kind": "video_effects",
                        "model_name": scene.name,
                        "mode": mode,
                        "duration": duration,
                        "audio": None,
                        "credits": credits_for(units(scene.name, mode, duration)),
                    }
                )
    return rows


def seed_scenes(scene_model: Any) -> None:
    """Create the seeded scenes (for the data migration: `scene_model` is the historical
    EffectScene), never overwriting one staff already edited."""
    for position, scene in enumerate(SEED_SCENES):
        scene_model.objects.get_or_create(
            name=scene.name,
            defaults={
                "label": scene.label,
                "description": scene.description,
                "two_person": scene.two_person,
                "model_names": list(scene.model_names),
                "durations": list(scene.durations),
                "enabled": scene.enabled,
                "position": position,
            },
        )


def scene(name: str, *, include_disabled: bool = False):
    """The EffectScene called `name` (None when unknown, or switched off)."""
    from generations.models import EffectScene

    scenes = EffectScene.objects.filter(name=name)
    if not include_disabled:
        scenes = scenes.filter(enabled=True)
    return scenes.first() if name else None


def enabled_scenes():
    from generations.models import EffectScene

    return EffectScene.objects.filter(enabled=True)


def lengths_note(chosen) -> str:
    """The lengths the scene makes, in a sentence (its refusal of any other, and the note
    next to the length of a scene that makes one only, such as cheers_2026's 5 s)."""
    lengths = gettext(" or ").join(gettext("%(seconds)s s") % {"seconds": int(d)} for d in chosen.durations)
    return gettext("%(model)s makes clips of %(durations)s.") % {
        "model": gettext(chosen.label),
        "durations": lengths,
    }


def check(values: Mapping[str, Any]) -> dict[str, str]:
    """Every reason this effect request is not possible, by form field.

    `values`: `effect_scene`, `effect_model` (a two-person scene's model), `mode`,
    `duration` (int), and `image` / `image_tail` (truthy when given: the one picture, or
    the left and right person)."""
    errors: dict[str, str] = {}
    name = values.get("effect_scene") or ""
    chosen = scene(name)
    if chosen is None:
        retired = scene(name, include_disabled=True)
        errors["effect_scene"] = (
            gettext("The %(effect)s effect is no longer offered.") % {"effect": gettext(retired.label)}
            if retired
            else gettext("Choose an effect.")
        )
        return errors
    label = gettext(chosen.label)
    if values.get("duration") not in [int(d) for d in chosen.durations]:
        errors["duration"] = lengths_note(chosen)
    if not values.get("image"):
        errors["image"] = (
            gettext("Upload a photo of the person on the left.")
            if chosen.two_person
            else gettext("Upload the picture to animate.")
        )
    if chosen.two_person and not values.get("image_tail"):
        errors["image_tail"] = gettext("Upload a photo of the person on the right.")
    if not chosen.two_person and values.get("image_tail"):
        errors["image_tail"] = gettext("%(effect)s takes one picture.") % {"effect": label}
    model = values.get("effect_model") or ""
    mode = values.get("mode") or ""
    if chosen.takes_model:
        if model not in chosen.model_names:
            errors["effect_model"] = gettext("%(effect)s runs on %(models)s.") % {
                "effect": label,
                "models": gettext(" or ").join(chosen.model_names),
            }
        if mode not in MODES:
            errors["mode"] = gettext("Choose Standard or Professional mode.")
    else:
        if model:
            errors["effect_model"] = gettext("%(effect)s takes no model.") % {"effect": label}
        if mode:
            errors["mode"] = gettext("%(effect)s takes no mode.") % {"effect": label}
    if values.get("prompt") or values.get("negative_prompt"):
        errors["prompt"] = gettext("Effects take no prompt: the scene says what happens.")
    return errors


def request_input(params: Mapping[str, Any]) -> dict[str, Any]:
    """Kling's `input` object from our flat params (`image`, `image_tail` Base64 or URLs,
    `model_name`, `mode`, `duration`), shaped as the scene needs it."""
    duration = params.get("duration")
    body: dict[str, Any] = {"duration": str(duration)} if duration is not None else {}
    if params.get("two_person"):
        body["images"] = [params.get("image", ""), params.get("image_tail", "")]
        if params.get("model_name"):
            body["model_name"] = params["model_name"]
            body["mode"] = params.get("mode") or "std"
    else:
        body["image"] = params.get("image", "")
    return body
