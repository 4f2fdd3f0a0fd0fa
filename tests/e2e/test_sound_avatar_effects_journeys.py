"""Browser journeys (Chromium) of the sound, avatar and effect kinds: a sound from a
description, sound added to a finished video from its page, a portrait speaking an
uploaded sound file, and video effects picked in the gallery of scenes (one picture, and
two people from two photos). Each sees the price before the charge, the balance go down by
exactly that, the page finish by itself and the result play."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from billing import ledger
from generations import effects
from generations.models import Asset, EffectScene, Generation, Kind
from tests.e2e.conftest import pictures, plays, price_shown
from tests.e2e.test_journeys import (
    balance_badge,
    create_from_page,
    download_first,
    fill_create_page,
    press_create,
    shows_pictures,
    signed_in_with_credits,
    watch_it_finish,
)
from tests.media_files import audio_bytes, picture_png, video_bytes

pytestmark = pytest.mark.e2e

# A two-person scene of the newer kind (two photos, no model or mode), on Kling's list since
# the classic hug was retired; the one-picture scene is whichever the gallery offers first
# (Kling retires those often: generations/effects.py).
TWO_PERSON_SCENE = "hug_pro"


def charged(page, person, spent: int) -> None:
    """The badge and the ledger both show 1,000 credits less `spent`."""
    expect(balance_badge(page)).to_have_text(f"{1000 - spent:,}")
    assert ledger.balance_of(person) == 1000 - spent


def create_at_the_price_shown(page, person, kind: str, screenshot, spent_before: int = 0) -> Generation:
    """Read the price shown before any charge, press "Create for N credits"; the new
    generation is of `kind` and cost N, and the balance fell by exactly N."""
    price = price_shown(page)
    screenshot(page, "priced")
    generation = Generation.objects.get(pk=press_create(page, price), owner=person)
    assert generation.kind == kind and generation.cost == price
    charged(page, person, spent_before + price)
    return generation


@pytest.mark.journey("31-text-to-audio")
def test_it_makes_a_sound_from_a_description_plays_and_downloads_it(page, people, generating, screenshot):
    alice = signed_in_with_credits(page, people)
    fill_create_page(page, "text-to-audio", "Rain on a tin roof, distant thunder")
    with page.expect_response(lambda response: "/generate/text-to-audio/options/" in response.url):
        page.fill("#id_duration", "4")
        page.locator("#id_duration").press("Tab")
    expect(page.locator("#id_duration")).to_have_value("4")
    generation = create_at_the_price_shown(page, alice, Kind.TEXT2AUDIO, screenshot)

    player = watch_it_finish(page, ".media-frame audio")
    assert 3.5 < plays(page, player) < 4.5
    screenshot(page, "finished")
    name, head = download_first(page)
    assert name.endswith(".mp3") and (head[:3] == b"ID3" or head[0] == 0xFF), "not an MP3 file"
    charged(page, alice, generation.cost)


@pytest.mark.journey("32-add-sound")
def test_it_adds_sound_to_a_finished_video_from_its_page(page, people, generating, simulator, screenshot):
    # Two generations in one journey: Kling answers at once and takes a second for each.
    simulator.queue_seconds, simulator.run_seconds = 0, 1
    simulator.save()
    alice = signed_in_with_credits(page, people)
    source_id = create_from_page(page, "text-to-video", "A steam train crossing a viaduct", duration="5")
    watch_it_finish(page, ".media-frame video")
    source = Generation.objects.get(pk=source_id)

    page.reload()  # the finished page's actions (the live part shows the result only)
    page.locator("#add-sound").click()
    page.wait_for_url(re.compile(r"/generate/video-to-audio/\?video_id="))
    shown = page.locator("#sound-source")
    expect(shown).to_contain_text(f"#{source_id}")
    plays(page, shown.locator("video"))
    page.fill("#id_sound_effect_prompt", "Steam hissing, wheels on rails")
    page.fill("#id_bgm_prompt", "A brass band in the distance")
    generation = create_at_the_price_shown(page, alice, Kind.VIDEO2AUDIO, screenshot, source.cost)
    assert generation.params["video_id"] == source.assets.get(kind=Asset.Kind.VIDEO).video_id

    plays(page, watch_it_finish(page, ".media-frame audio"))
    plays(page, page.locator(".media-frame video").first)  # the video with its new sound
    screenshot(page, "finished")
    page.reload()
    expect(page.locator("#made-from")).to_contain_text(f"#{source_id}")
    charged(page, alice, source.cost + generation.cost)


@pytest.mark.journey("33-avatar")
def test_it_makes_a_portrait_speak_an_uploaded_sound(page, people, generating, screenshot):
    alice = signed_in_with_credits(page, people)
    sound = [{"name": "hello.mp3", "mimeType": "audio/mpeg", "buffer": audio_bytes(3)}]
    # Billed by the second of sound: the total follows the length the browser measured.
    fill_create_page(
        page,
        "avatar",
        "Smiling, nodding now and then",
        files={"image": pictures("portrait", width=640, height=800), "sound_file": sound},
    )
    generation = create_at_the_price_shown(page, alice, Kind.AVATAR, screenshot)

    video = watch_it_finish(page, ".media-frame video")
    assert 2 < plays(page, video) < 4.5  # as long as the sound
    screenshot(page, "finished")
    charged(page, alice, generation.cost)


@pytest.fixture
def effect_scenes(transactional_db):
    """The seeded scenes (flushed after the first test, as other data-migration rows are),
    with a preview clip for the one-picture scene and a picture for the two-person one, as
    staff upload them in admin."""
    if not EffectScene.objects.exists():
        effects.seed_scenes(EffectScene)
    one = EffectScene.objects.filter(enabled=True, two_person=False).first()
    one.preview.save("one.mp4", ContentFile(video_bytes(2, 320, 240, 12)))
    two = EffectScene.objects.get(name=TWO_PERSON_SCENE, enabled=True, two_person=True)
    two.preview.save("two.png", ContentFile(picture_png(320, 240, (220, 80, 120))))
    return {"one picture": one, "two people": two}


def pick_effect(page, scene: EffectScene, screenshot) -> None:
    """In the gallery of effects (every scene offered, each with its card), see the scene's
    preview play or show, from the site's own route, and open the scene's form."""
    page.goto("/generate/video-effects/")
    expect(page.locator("#effect-gallery > section")).to_have_count(effects.enabled_scenes().count())
    card = page.locator(f"#effect-{scene.name}")
    expect(card).to_contain_text(scene.label)
    preview = card.locator("video" if scene.preview_is_video else "img")
    expect(preview).to_have_attribute("src", f"/effects/{scene.name}/preview/")
    if scene.preview_is_video:
        plays(page, preview)
    else:
        shows_pictures(page, preview)
    screenshot(page, "gallery")
    card.get_by_role("link", name="Use this effect").click()
    page.wait_for_url(re.compile(rf"/generate/video-effects/\?scene={scene.name}$"))
    expect(page.locator("#effect-scene")).to_contain_text(scene.label)


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param("one picture", marks=pytest.mark.journey("34-effect-one-picture")),
        pytest.param("two people", marks=pytest.mark.journey("35-effect-two-people")),
    ],
)
def test_it_makes_an_effect_picked_in_the_gallery_and_plays_it(
    page, people, generating, effect_scenes, screenshot, shape
):
    alice = signed_in_with_credits(page, people)
    scene = effect_scenes[shape]
    pick_effect(page, scene, screenshot)
    if scene.two_person:
        left, right = pictures("left", "right")
        page.set_input_files("#id_image", files=[left])
        page.set_input_files("#id_image_tail", files=[right])
    else:
        page.set_input_files("#id_image", files=pictures("cat"))
        expect(page.locator("#id_image_tail")).to_have_count(0)  # one picture only
    generation = create_at_the_price_shown(page, alice, Kind.VIDEO_EFFECTS, screenshot)
    assert generation.params["effect_scene"] == scene.name
    plays(page, watch_it_finish(page, ".media-frame video"))
    screenshot(page, "finished")
    charged(page, alice, generation.cost)
