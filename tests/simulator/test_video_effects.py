"""Video effects (Kling's `videos/effects`): the scene table seeded by migration, the gallery
of scenes, a one-picture scene and a two-person scene through the whole pipeline against the
simulator, the exact bodies sent, the rules refused before any charge, and the simulator's
own checks."""

import base64
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations import capabilities, effects, follow, pricing
from generations.models import EffectScene, Generation, Kind, Price, Status
from generations.providers.kling import legacy_body
from generations.simulator.models import SimTask
from tests.simulator.pipeline import assert_ended_right, drive, png

EFFECTS = "/_sim/kling/v1/videos/effects"
RETIRED_2026_09 = {"bloombloom", "dizzydizzy", "fuzzyfuzzy", "squish", "expansion", "heart_gesture"}


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _post(client, commit, data: dict):
    with commit(execute=True):
        return client.post("/generate/video-effects/", data)


def _created(response) -> Generation:
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def _picture(name: str = "p.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


@pytest.fixture
def classic_heart_gesture(db, monkeypatch):
    """The classic heart_gesture, the one scene that takes a model and mode, as it was before
    Kling retired it: switched back on by staff, and still taken by the simulator."""
    from generations.simulator import catalog

    EffectScene.objects.filter(name="heart_gesture").update(enabled=True)
    monkeypatch.setattr(catalog, "RETIRED_EFFECTS", catalog.RETIRED_EFFECTS - {"heart_gesture"})


def single_form(**changes) -> dict:
    data = {
        "model_name": capabilities.KLING_EFFECTS.name,
        "effect_scene": "zoom_out",
        "duration": "5",
        "image": _picture(),
        "client_token": f"fx-single-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


def pair_form(**changes) -> dict:
    data = {
        "model_name": capabilities.KLING_EFFECTS.name,
        "effect_scene": "heart_gesture",
        "effect_model": "kling-v1-6",
        "mode": "pro",
        "duration": "10",
        "image": _picture("left.png"),
        "image_tail": _picture("right.png"),
        "client_token": f"fx-pair-{sorted(changes.items(), key=str)}",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_migration_seeds_the_scenes_and_their_prices():
    names = set(EffectScene.objects.values_list("name", flat=True))
    assert {"zoom_out", "squish", "bloombloom", "heart_gesture", "hug_pro", "kiss_pro", "fight"} <= names
    # Retired by Kling (on 2026-01-30, and gone from its list by 2026-09): kept, switched off.
    assert set(EffectScene.objects.filter(enabled=False).values_list("name", flat=True)) == {
        "hug",
        "kiss",
        "fight",
        *RETIRED_2026_09,
    }
    assert set(EffectScene.objects.filter(enabled=True).values_list("name", flat=True)) == {
        "zoom_out",
        "dollar_rain_pro",
        "bullet_time_360",
        "cheers_2026",
        "hug_pro",
        "kiss_pro",
        "heart_gesture_pro",
    }
    rows = {
        (r["model_name"], r["mode"], r["duration"]): r["credits"]
        for r in pricing.default_price_rows()
        if r["kind"] == Kind.VIDEO_EFFECTS
    }
    assert ("squish", "", 10) not in rows  # single-image scenes make 5 s clips
    assert Price.objects.filter(kind=Kind.VIDEO_EFFECTS).count() == len(rows)
    stored = {
        (p.model_name, p.mode, p.duration): p.credits for p in Price.objects.filter(kind=Kind.VIDEO_EFFECTS)
    }
    assert stored == rows


@pytest.mark.parametrize(
    "scene, mode, seconds, units, credits",
    [
        # Published: Kling 1.6's rates, as fal.ai sells the 1.6 effects ($0.056 / $0.098 a
        # second): 0.4 units a second in std (and the one-picture scenes), 0.7 in pro.
        ("squish", "", 5, 2, 20),
        ("bloombloom", "", 5, 2, 20),
        ("heart_gesture", "std", 5, 2, 20),
        ("heart_gesture", "std", 10, 4, 40),
        ("heart_gesture", "pro", 5, 3.5, 35),
        ("heart_gesture", "pro", 10, 7, 70),
        # Not published: the fallback, the highest published rate (0.7 units a second).
        ("hug_pro", "", 5, 3.5, 35),
        ("kiss_pro", "", 10, 7, 70),
        ("heart_gesture_pro", "", 5, 3.5, 35),
        ("cheers_2026", "", 5, 3.5, 35),
    ],
)
def test_each_scene_is_priced_from_its_published_rate_or_the_fallback(scene, mode, seconds, units, credits):
    rows = {
        (r["model_name"], r["mode"], r["duration"]): r["credits"]
        for r in pricing.default_price_rows()
        if r["kind"] == Kind.VIDEO_EFFECTS
    }
    assert pricing.price_units(Kind.VIDEO_EFFECTS, scene, mode, seconds, None) == Decimal(str(units))
    assert rows[(scene, mode, seconds)] == credits == pricing.video_credits(Decimal(str(units)))


def test_a_scene_staff_add_is_quoted_at_the_fallback_rate():
    assert effects.units("pet_lion_pro", "", 5) == effects.UNPUBLISHED_RATE * 5 == Decimal("3.5")
    assert effects.units("squish", "4k", 5) is None and effects.units("squish", "", None) is None


@pytest.mark.django_db
def test_the_migration_reprices_the_seeded_rows_and_keeps_edited_ones():
    from importlib import import_module

    from django.apps import apps

    reprice = import_module("generations.migrations.0019_effect_prices_from_published_rates").reprice
    Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="hug_pro", duration=5).update(credits=20)
    Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="kiss_pro", duration=5).update(credits=25)
    Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="cheers_2026").delete()
    reprice(apps, None)
    credits = {
        p.model_name: p.credits for p in Price.objects.filter(kind=Kind.VIDEO_EFFECTS, duration=5, mode="")
    }
    assert credits["hug_pro"] == 35  # the old default, 0.4 units a second: repriced
    assert credits["kiss_pro"] == 25  # edited in admin: kept
    assert credits["cheers_2026"] == 35  # missing: put back
    assert credits["squish"] == 20  # published, unchanged


@pytest.mark.django_db
def test_the_migration_switches_the_retired_scenes_off_and_keeps_their_rows():
    from importlib import import_module

    from django.apps import apps

    retire = import_module("generations.migrations.0021_retire_effect_scenes_2026_09").retire
    assert (
        set(import_module("generations.migrations.0021_retire_effect_scenes_2026_09").RETIRED)
        == RETIRED_2026_09
    )
    # As an install seeded before: the classics on, the newer one-picture scenes not there.
    EffectScene.objects.filter(name__in=RETIRED_2026_09).update(enabled=True)
    EffectScene.objects.filter(name__in=("zoom_out", "dollar_rain_pro", "bullet_time_360")).delete()
    Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="zoom_out").delete()
    squish = EffectScene.objects.get(name="squish")
    retire(apps, None)
    off = EffectScene.objects.filter(name__in=RETIRED_2026_09)
    assert off.count() == len(RETIRED_2026_09) and not off.filter(enabled=True).exists()
    squish.refresh_from_db()
    assert (squish.label, squish.enabled) == ("Squish", False)  # the same row, kept
    assert Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="squish").exists()
    added = EffectScene.objects.filter(name__in=("zoom_out", "dollar_rain_pro", "bullet_time_360"))
    assert added.filter(enabled=True, two_person=False).count() == 3
    assert Price.objects.get(kind=Kind.VIDEO_EFFECTS, model_name="zoom_out", duration=5).credits == 35
    # Staff switch one back on afterwards: seeding again leaves their choice alone.
    EffectScene.objects.filter(name="squish").update(enabled=True)
    effects.seed_scenes(EffectScene)
    assert EffectScene.objects.get(name="squish").enabled


def test_an_old_generation_of_a_retired_scene_still_shows_with_its_scene(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, monkeypatch
):
    from generations.simulator import catalog

    # Made while Kling still offered squish...
    EffectScene.objects.filter(name="squish").update(enabled=True)
    monkeypatch.setattr(catalog, "RETIRED_EFFECTS", catalog.RETIRED_EFFECTS - {"squish"})
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, single_form(effect_scene="squish"))
    )
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    # ...and seen after it was retired.
    EffectScene.objects.filter(name="squish").update(enabled=False)
    gallery = alice_client.get("/generations/")
    assert gallery.status_code == 200 and generation.get_absolute_url() in gallery.content.decode()
    detail = alice_client.get(generation.get_absolute_url())
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "<video" in page and "Squish" in page
    # Its "again" link opens the form, which says the scene is no longer offered on submit.
    again = _post(alice_client, django_capture_on_commit_callbacks, single_form(effect_scene="squish"))
    assert "The Squish effect is no longer offered" in again.content.decode()
    assert Generation.objects.count() == 1


def test_a_retired_scene_staff_switch_back_on_is_refused_by_kling_and_refunded(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    EffectScene.objects.filter(name="bloombloom").update(enabled=True)  # staff's call
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, single_form(effect_scene="bloombloom"))
    )
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_message.startswith("Kling rejected one of the settings")
    assert ledger.balance_of(alice) == 2000


def test_the_gallery_shows_the_enabled_scenes_with_their_cards(pipeline, alice_client, classic_heart_gesture):
    EffectScene.objects.filter(name="dollar_rain_pro").update(enabled=False)
    page = alice_client.get("/generate/video-effects/").content.decode()
    assert 'id="effect-gallery"' in page and 'id="effect-zoom_out"' in page
    assert "?scene=heart_gesture" in page and "?scene=hug_pro" in page
    assert 'id="effect-dollar_rain_pro"' not in page and 'id="effect-fight"' not in page
    assert 'id="effect-squish"' not in page and 'id="effect-bloombloom"' not in page
    form = alice_client.get("/generate/video-effects/", {"scene": "heart_gesture"}).content.decode()
    assert 'id="effect-scene"' in form and 'name="image_tail"' in form and 'name="effect_model"' in form
    single = alice_client.get("/generate/video-effects/", {"scene": "zoom_out"}).content.decode()
    assert 'name="image_tail"' not in single and 'name="effect_model"' not in single
    assert "Video effect" in alice_client.get("/generate/").content.decode()


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_a_one_picture_effect_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, single_form()))
    assert generation.cost == 35 and ledger.balance_of(alice) == 1965  # the fallback, 0.7 units x 5 s
    assert generation.product == "videos/effects"
    body = legacy_body(follow.build_request(generation))
    assert set(body) == {"effect_scene", "input", "external_task_id", "callback_url"}
    assert body["effect_scene"] == "zoom_out"
    assert set(body["input"]) == {"image", "duration"} and body["input"]["duration"] == "5"
    assert base64.b64decode(body["input"]["image"]) == png()
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.duration) == ("videos/effects", "5")
    if by_callbacks:
        pipeline.finish()
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.deliver_callbacks()
    else:
        drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    page = alice_client.get(generation.get_absolute_url())
    assert page.status_code == 200 and "<video" in page.content.decode()
    assert "Zoom out" in page.content.decode()  # the scene, among the options


def test_it_runs_a_two_person_effect_with_model_and_mode(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, classic_heart_gesture
):
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, pair_form()))
    assert generation.cost == 70 and ledger.balance_of(alice) == 1930  # 0.7 units x 10 s
    body = legacy_body(follow.build_request(generation))
    assert body["effect_scene"] == "heart_gesture"
    given = body["input"]
    assert set(given) == {"images", "model_name", "mode", "duration"}
    assert (given["model_name"], given["mode"], given["duration"]) == ("kling-v1-6", "pro", "10")
    assert len(given["images"]) == 2 and all(base64.b64decode(i) == png() for i in given["images"])
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.model_name, task.mode, task.duration) == ("kling-v1-6", "pro", "10")
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_a_new_two_person_scene_sends_no_model_or_mode(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    form = pair_form(effect_scene="hug_pro", duration="5")
    del form["effect_model"], form["mode"]
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, form))
    body = legacy_body(follow.build_request(generation))
    assert set(body["input"]) == {"images", "duration"}
    assert generation.cost == 35  # no published price: the fallback, 0.7 units a second


def cheers_form(**changes) -> dict:
    form = pair_form(**{"effect_scene": "cheers_2026", "duration": "5"} | changes)
    del form["effect_model"], form["mode"]
    return form


@pytest.mark.django_db
def test_cheers_2026_is_seeded_as_a_two_person_scene_of_5_s_only():
    scene = EffectScene.objects.get(name="cheers_2026")
    assert (scene.enabled, scene.two_person, scene.model_names, scene.durations) == (True, True, [], [5])
    assert not scene.takes_model
    prices = Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="cheers_2026")
    assert sorted(prices.values_list("mode", "duration")) == [("", 5)]


@pytest.mark.django_db
def test_the_migration_makes_an_old_one_picture_cheers_2026_row_two_person():
    from importlib import import_module

    from django.apps import apps

    correct = import_module("generations.migrations.0020_cheers_2026_two_people_five_seconds").correct
    EffectScene.objects.filter(name="cheers_2026").update(two_person=False, durations=[5, 10])
    correct(apps, None)
    scene = EffectScene.objects.get(name="cheers_2026")
    assert (scene.two_person, scene.durations) == (True, [5])


def test_the_cheers_2026_page_asks_for_two_photos_and_offers_5_s_only(pipeline, alice_client):
    page = alice_client.get("/generate/video-effects/", {"scene": "cheers_2026"}).content.decode()
    assert 'name="image_tail"' in page and 'name="effect_model"' not in page and 'name="mode"' not in page
    lengths = page[page.index('name="duration"') : page.index("</select>", page.index('name="duration"'))]
    assert '<option value="5" selected>5 s</option>' in lengths and 'value="10"' not in lengths
    assert 'id="id_duration_helptext">Cheers 2026 makes clips of 5 s.</p>' in page


def test_it_runs_cheers_2026_from_two_photos_at_5_s(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, cheers_form()))
    assert generation.cost == 35 and ledger.balance_of(alice) == 1965  # the fallback, 0.7 units x 5 s
    body = legacy_body(follow.build_request(generation))
    assert body["effect_scene"] == "cheers_2026"
    assert set(body["input"]) == {"images", "duration"} and body["input"]["duration"] == "5"
    assert len(body["input"]["images"]) == 2
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_cheers_2026_at_10_s_is_refused_next_to_the_length_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = _post(alice_client, django_capture_on_commit_callbacks, cheers_form(duration="10"))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        '<ul class="errorlist" id="id_duration_error"><li>Cheers 2026 makes clips of 5 s.</li></ul>' in page
    )
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000
    values = {"model_name": "kling-effects", "effect_scene": "cheers_2026", "image": True, "image_tail": True}
    assert capabilities.validate(Kind.VIDEO_EFFECTS, {**values, "duration": 5}) == {}
    assert capabilities.validate(Kind.VIDEO_EFFECTS, {**values, "duration": 10}) == {
        "duration": "Cheers 2026 makes clips of 5 s."
    }
    assert capabilities.validate(Kind.VIDEO_EFFECTS, {**values, "duration": 5, "image_tail": False}) == {
        "image_tail": "Upload a photo of the person on the right."
    }


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (single_form(duration="10"), "Zoom out makes clips of 5 s."),
        (single_form(image=""), "Upload the picture to animate"),
        (single_form(effect_scene="fight"), "The Fight effect is no longer offered"),
        (single_form(effect_scene="squish"), "The Squish effect is no longer offered"),
        (
            pair_form(effect_scene="hug", effect_model="kling-v1-6"),
            "The Hug (classic) effect is no longer offered",
        ),
        (single_form(effect_scene="no_such_scene"), "Choose an effect"),
        (pair_form(image_tail=""), "Upload a photo of the person on the right"),
        (pair_form(effect_model="kling-v2-6"), "Select a valid choice"),
        (single_form(image_tail=_picture("extra.png")), "Zoom out takes one picture"),
    ],
)
def test_it_refuses_bad_effect_input_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, classic_heart_gesture, form, message
):
    response = _post(alice_client, django_capture_on_commit_callbacks, form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000


def test_a_scene_switched_off_in_admin_is_refused_and_a_price_row_off_too(classic_heart_gesture):
    values = {"model_name": "kling-effects", "effect_scene": "zoom_out", "duration": 5, "image": True}
    assert capabilities.validate(Kind.VIDEO_EFFECTS, values) == {}
    Price.objects.filter(kind=Kind.VIDEO_EFFECTS, model_name="zoom_out").update(active=False)
    with pytest.raises(pricing.NotOffered):
        pricing.quote(Kind.VIDEO_EFFECTS, values)
    EffectScene.objects.filter(name="zoom_out").update(enabled=False)
    assert capabilities.validate(Kind.VIDEO_EFFECTS, values) == {
        "effect_scene": "The Zoom out effect is no longer offered."
    }
    assert effects.check({**values, "effect_scene": "heart_gesture", "image_tail": True}) == {
        "effect_model": "Heart gesture runs on kling-v1-6 or kling-v1-5 or kling-v1.",
        "mode": "Choose Standard or Professional mode.",
    }


def test_it_keeps_the_effect_inputs_to_their_owner(
    pipeline, alice_client, bob, django_capture_on_commit_callbacks, classic_heart_gesture
):
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, pair_form()))
    urls = [f"/generations/{generation.pk}/inputs/{which}/" for which in ("image", "image_tail")]
    assert [alice_client.get(url).status_code for url in urls] == [200, 200]
    alice_client.force_login(bob)
    assert [alice_client.get(url).status_code for url in urls] == [404, 404]
    assert alice_client.get(generation.get_absolute_url()).status_code == 404


# --- the simulator's own checks -------------------------------------------------------------


def _b64() -> str:
    return base64.b64encode(png()).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": {"image": "x"}}, "effect_scene is required"),
        ({"effect_scene": "hug", "input": {"images": ["a", "b"]}}, "effect_scene hug is not supported"),
        ({"effect_scene": "squish", "input": {"image": "IMG"}}, "effect_scene squish is not supported"),
        (
            {"effect_scene": "heart_gesture", "input": {"images": ["IMG", "IMG"]}},
            "effect_scene heart_gesture is not supported",
        ),
        ({"effect_scene": "zoom_out"}, "input is required"),
        ({"effect_scene": "zoom_out", "input": {"duration": "5"}}, "input.image is required"),
        ({"effect_scene": "zoom_out", "input": {"image": "IMG", "duration": 5}}, "input.duration must be"),
        ({"effect_scene": "pet_lion_pro", "input": {"images": ["IMG", "IMG"]}}, "input.image is required"),
        ({"effect_scene": "hug_pro", "input": {"images": ["IMG"]}}, "input.images must hold two images"),
        (
            {"effect_scene": "hug_pro", "input": {"images": ["IMG", "IMG"], "model_name": "kling-v1-6"}},
            "hug_pro takes no model_name or mode",
        ),
        (
            {"effect_scene": "cheers_2026", "input": {"images": ["IMG", "IMG"], "duration": "10"}},
            'effect_scene cheers_2026 supports input.duration "5" only',
        ),
        (
            {"effect_scene": "cheers_2026", "input": {"image": "IMG", "duration": "5"}},
            "input.images must hold",
        ),
    ],
)
def test_the_simulator_answers_bad_effect_fields_with_1201(post, body, message):
    _assert_refused(post, body, message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"images": ["IMG", "IMG"], "model_name": "kling-v2-6"}, "heart_gesture supports model_name"),
        (
            {"images": ["IMG", "IMG"], "model_name": "kling-v1-6", "mode": "4k"},
            "input.mode must be std or pro",
        ),
    ],
)
def test_the_simulator_checks_the_model_and_mode_of_a_scene_that_takes_them(
    post, classic_heart_gesture, body, message
):
    _assert_refused(post, {"effect_scene": "heart_gesture", "input": body}, message)


def _assert_refused(post, body: dict, message: str) -> None:
    body = {"input": body["input"]} | body if "input" in body else body
    if isinstance(body.get("input"), dict):
        given = dict(body["input"])
        if given.get("image") == "IMG":
            given["image"] = _b64()
        if isinstance(given.get("images"), list):
            given["images"] = [_b64() if i == "IMG" else i for i in given["images"]]
        body = {**body, "input": given}
    status, answer = post(EFFECTS, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_accepts_a_two_person_scene(post, classic_heart_gesture):
    body = {
        "effect_scene": "heart_gesture",
        "input": {"images": [_b64(), _b64()], "model_name": "kling-v1-5", "mode": "std", "duration": "5"},
    }
    status, answer = post(EFFECTS, body)
    assert (status, answer["code"]) == (200, 0), answer
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert (task.product, task.model_name, task.mode) == ("videos/effects", "kling-v1-5", "std")


def test_staff_switch_a_scene_off_in_admin(admin_client):
    scene = EffectScene.objects.get(name="squish")
    page = admin_client.get("/admin/generations/effectscene/")
    assert page.status_code == 200 and "squish" in page.content.decode()
    change = admin_client.get(f"/admin/generations/effectscene/{scene.pk}/change/")
    assert change.status_code == 200 and 'name="two_person"' in change.content.decode()


def test_it_lists_and_creates_an_effect_over_the_api(pipeline, alice, monkeypatch, classic_heart_gesture):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from accounts import api_keys
    from outbound_webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "subscribe", lambda generation, url: None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_keys.create_key(alice, 'fx')[1]}")
    kinds = {k["kind"]: k for k in api.get(reverse("api:models")).json()["kinds"]}
    assert {"effect_scene", "image", "image_tail"} <= set(kinds["video_effects"]["request_fields"])
    body = {
        "kind": "video_effects",
        "effect_scene": "heart_gesture",
        "effect_model": "kling-v1-6",
        "mode": "std",
        "duration": 5,
        "image": _b64(),
        "image_tail": _b64(),
    }
    response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.json()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.cost == 20 and ledger.balance_of(alice) == 1980
    assert legacy_body(follow.build_request(generation))["input"]["model_name"] == "kling-v1-6"
    bad = api.post(reverse("api:generations"), {**body, "effect_scene": "fight"}, format="json")
    assert bad.status_code == 400, bad.json()
    cheers = {k: v for k, v in body.items() if k not in ("effect_model", "mode")}
    too_long = api.post(
        reverse("api:generations"), {**cheers, "effect_scene": "cheers_2026", "duration": 10}, format="json"
    )
    assert too_long.status_code == 400, too_long.json()
    assert "Cheers 2026 makes clips of 5 s." in str(too_long.json())
    assert ledger.balance_of(alice) == 1980
