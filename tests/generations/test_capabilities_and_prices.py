"""The capability table and the prices it seeds: what can be ordered, and for how much."""

from __future__ import annotations

import pytest

from generations import capabilities, pricing
from generations.capabilities import validate
from generations.models import Price

T2V = {"model_name": "kling-v2-6", "prompt": "waves", "mode": "pro", "duration": 5, "aspect_ratio": "16:9"}
I2V = {"model_name": "kling-v2-6", "prompt": "", "mode": "pro", "duration": 5, "image": True}
T2I = {"model_name": "kling-v2-1", "prompt": "a cat", "n": 1, "aspect_ratio": "1:1", "resolution": "1k"}


def test_kling_v1_stays_in_the_table_switched_off_by_one_setting(settings):
    assert "kling-v1" not in [m.name for m in capabilities.models_for("text2video")]
    assert capabilities.get("text2video", "kling-v1", include_disabled=True) is not None
    assert (
        "discontinued"
        in validate("text2video", {**T2V, "model_name": "kling-v1", "mode": "std"})["model_name"]
    )
    settings.KLING_DISABLED_MODELS = []
    assert capabilities.models_for("text2video")[-1].name == "kling-v1"
    assert validate("text2video", {**T2V, "model_name": "kling-v1", "mode": "std"}) == {}


def test_it_knows_each_kind_s_product_path():
    assert capabilities.product_for("text2video") == "videos/text2video"
    assert capabilities.product_for("image2video") == "videos/image2video"
    assert capabilities.product_for("text2image") == "images/generations"


def test_1_5_and_2_1_make_no_text_to_video():
    names = {m.name for m in capabilities.models_for("text2video")}
    assert "kling-v1-5" not in names and "kling-v2-1" not in names
    assert "kling-v2-1" in {m.name for m in capabilities.models_for("image2video")}


@pytest.mark.parametrize(
    ("kind", "values", "field", "words"),
    [
        ("text2video", {"mode": "4k"}, "mode", "Kling 2.6 offers Standard or Professional mode."),
        ("text2video", {"model_name": "kling-v2-master", "mode": "pro"}, "mode", "has no mode setting"),
        ("text2video", {"duration": 7}, "duration", "makes clips of 5 s or 10 s"),
        ("text2video", {"aspect_ratio": "4:3"}, "aspect_ratio", "16:9, 9:16 or 1:1"),
        ("text2video", {"mode": "std", "sound": True}, "sound", "sound only in Professional mode"),
        ("text2video", {"model_name": "kling-v2-5-turbo", "sound": True}, "sound", "silent videos only"),
        ("text2video", {"cfg_scale": 0.5}, "cfg_scale", "does not take a prompt strength"),
        ("text2video", {"model_name": "kling-v1-6", "cfg_scale": 1.5}, "cfg_scale", "between 0 and 1"),
        ("text2video", {"prompt": " "}, "prompt", "Describe what you want to see."),
        ("text2video", {"negative_prompt": "n" * 2501}, "negative_prompt", "up to 2,500 characters"),
        ("text2video", {"camera_control": {"type": "down_back"}}, "camera_control", "no camera control"),
        ("image2video", {"image": False}, "image", "Upload a start frame"),
        (
            "image2video",
            {"image_tail": True, "sound": True},
            "image_tail",
            "Professional mode, without sound",
        ),
        (
            "image2video",
            {"model_name": "kling-v2-master", "mode": "", "image_tail": True},
            "image_tail",
            "does not take an end frame",
        ),
        (
            "image2video",
            {
                "model_name": "kling-v1-5",
                "duration": 10,
                "camera_control": capabilities.camera_control("zoom_in"),
            },
            "camera_control",
            "only in Professional mode, 5 s",
        ),
        (
            "image2video",
            {"model_name": "kling-v1-5", "camera_control": {"type": "down_back"}},
            "camera_control",
            "simple camera moves only",
        ),
        (
            "image2video",
            {
                "model_name": "kling-v1-5",
                "camera_control": {"type": "simple", "config": {"zoom": 2, "roll": 1}},
            },
            "camera_control",
            "exactly one",
        ),
        (
            "image2video",
            {"model_name": "kling-v1-5", "camera_control": {"type": "simple", "config": {"zoom": 11}}},
            "camera_value",
            "between -10 and 10",
        ),
        (
            "image2video",
            {
                "model_name": "kling-v1-5",
                "camera_control": capabilities.camera_control("pan_left"),
                "image_tail": True,
            },
            "image_tail",
            "cannot be combined",
        ),
        ("text2image", {"n": 10}, "n", "between 1 and 9"),
        (
            "text2image",
            {"model_name": "kling-v1-5", "aspect_ratio": "5:4"},
            "aspect_ratio",
            "Kling 1.5 offers",
        ),
        ("text2image", {"resolution": "4k"}, "resolution", "1K or 2K"),
        (
            "text2image",
            {"image": True, "resolution": "2k", "image_reference": "face"},
            "resolution",
            "With a reference image",
        ),
        ("text2image", {"model_name": "kling-v3", "image": True}, "image", "does not take a reference image"),
        (
            "text2image",
            {"model_name": "kling-v1-5", "image": True},
            "image_reference",
            "the subject or the face",
        ),
        (
            "text2image",
            {"image": True, "image_reference": "face", "negative_prompt": "x"},
            "negative_prompt",
            "cannot be combined",
        ),
        ("text2image", {"image_reference": "face"}, "image_reference", "needs a reference image"),
        ("text2image", {"model_name": "kling-v1-5", "prompt": "p" * 501}, "prompt", "up to 500 characters"),
    ],
)
def test_it_refuses_what_a_model_cannot_do_with_the_reason(kind, values, field, words):
    base = {"text2video": T2V, "image2video": I2V, "text2image": T2I}[kind]
    errors = validate(kind, {**base, **values})
    assert field in errors, errors
    assert words in errors[field]


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("text2video", {"mode": "pro", "sound": True}),
        ("text2video", {"model_name": "kling-v3", "mode": "4k", "duration": 15, "sound": True}),
        ("text2video", {"model_name": "kling-v2-1-master", "mode": ""}),
        ("image2video", {"image_tail": True}),
        (
            "image2video",
            {"model_name": "kling-v3", "mode": "std", "duration": 3, "image_tail": True, "sound": True},
        ),
        (
            "image2video",
            {
                "model_name": "kling-v1-5",
                "duration": 5,
                "camera_control": capabilities.camera_control("tilt_up"),
            },
        ),
        ("text2image", {"model_name": "kling-v1-5", "image": True, "image_reference": "face"}),
        ("text2image", {"model_name": "kling-v3", "n": 9, "aspect_ratio": "21:9", "resolution": "2k"}),
    ],
)
def test_it_accepts_what_the_table_allows(kind, values):
    base = {"text2video": T2V, "image2video": I2V, "text2image": T2I}[kind]
    assert validate(kind, {**base, **values}) == {}


def test_camera_presets_become_kling_objects():
    assert capabilities.camera_control("") is None
    assert capabilities.camera_control("left_turn_forward") == {"type": "left_turn_forward"}
    zoom = capabilities.camera_control("zoom_in")
    assert zoom == {
        "type": "simple",
        "config": {"horizontal": 0.0, "vertical": 0.0, "pan": 0.0, "tilt": 0.0, "roll": 0.0, "zoom": -5.0},
    }
    # Kling's `tilt` turns left and right; its `pan` turns up and down.
    assert capabilities.camera_control("pan_right")["config"]["tilt"] == 5.0
    assert capabilities.camera_control("tilt_down")["config"]["pan"] == -5.0
    assert capabilities.camera_control("simple", "vertical", 2.5)["config"]["vertical"] == 2.5
    with pytest.raises(ValueError):
        capabilities.camera_control("spin")


@pytest.mark.parametrize(
    ("model", "mode", "seconds", "sound", "credits"),
    [
        ("kling-v1", "std", 5, False, 10),  # 1 unit
        ("kling-v1", "pro", 5, False, 35),  # 3.5 units
        ("kling-v1", "std", 10, False, 20),  # 10 s doubles
        ("kling-v1", "pro", 10, False, 70),
        ("kling-v1-6", "std", 5, False, 20),
        ("kling-v2-master", "", 10, False, 200),
        ("kling-v2-5-turbo", "std", 5, False, 15),
        ("kling-v2-6", "pro", 5, True, 50),
        ("kling-v3", "std", 3, False, 18),  # 0.6 u/s
        ("kling-v3", "pro", 7, True, 84),  # 1.2 u/s
        ("kling-v3", "4k", 15, False, 450),
    ],
)
def test_default_prices_are_10_credits_per_kling_unit(model, mode, seconds, sound, credits, db, settings):
    settings.KLING_DISABLED_MODELS = []
    values = {"model_name": model, "mode": mode, "duration": seconds, "sound": sound}
    assert pricing.quote("text2video", values).credits == credits


def test_images_cost_one_credit_each(db):
    quote = pricing.quote("text2image", {"model_name": "kling-v3", "n": 4})
    assert (quote.credits, quote.unit_credits, quote.count) == (4, 1, 4)


def test_every_combination_the_table_allows_has_a_price(db, settings):
    settings.KLING_DISABLED_MODELS = []
    for kind in ("text2video", "image2video"):
        for model in capabilities.models_for(kind):
            for mode in model.modes or ("",):
                for seconds in model.durations:
                    for sound in (False, True):
                        if sound and not model.sound_allowed(mode, seconds):
                            continue
                        values = {"model_name": model.name, "mode": mode, "duration": seconds, "sound": sound}
                        assert pricing.quote(kind, values).credits > 0
    assert Price.objects.count() == len(pricing.default_price_rows())


def test_the_most_specific_active_price_wins(db):
    Price.objects.create(
        kind="text2video", model_name="kling-v2-6", mode="", duration=None, audio=None, credits=99
    )
    values = {"model_name": "kling-v2-6", "mode": "pro", "duration": 5, "sound": False}
    assert pricing.quote("text2video", values).credits == 25  # the exact row
    Price.objects.filter(model_name="kling-v2-6", mode="pro", duration=5, audio=False).update(active=False)
    assert pricing.quote("text2video", values).credits == 99  # the catch-all
    Price.objects.create(
        kind="text2video", model_name="kling-v2-6", mode="pro", duration=None, audio=None, credits=40
    )
    assert pricing.quote("text2video", values).credits == 40  # a mode beats a catch-all


def test_no_active_price_means_not_offered(db):
    Price.objects.filter(kind="text2image", model_name="kling-v3").update(active=False)
    with pytest.raises(pricing.NotOffered, match="not offered"):
        pricing.quote("text2image", {"model_name": "kling-v3", "n": 1})
    with pytest.raises(pricing.NotOffered):
        pricing.quote("text2video", {"model_name": "kling-v9", "mode": "pro", "duration": 5})


def test_the_summary_rows_describe_every_model(settings):
    rows = capabilities.summary_rows()
    v1 = next(r for r in rows if r["model"] == "kling-v1" and r["kind"] == "Text to video")
    assert v1["enabled"] is False and v1["camera"] == "Standard mode, 5 s" and v1["cfg_scale"] == "yes"
    v3 = next(r for r in rows if r["model"] == "kling-v3" and r["kind"] == "Text to video")
    assert v3["durations"] == "3-15 s" and v3["modes"] == "Standard, Professional, 4K"
