"""The rules of motion control, multi-image to video and extension as plain functions (what
forms and the REST API share): validation, prices, create without a form, and kinds the
configured provider cannot make."""

import pytest
from django.core.exceptions import ValidationError

from billing import ledger
from generations import capabilities, pricing, services
from generations.models import Generation, Kind, Price
from tests.generations.conftest import upload
from tests.media_files import video_upload


def test_it_has_a_default_price_for_every_new_combination(db):
    rows = {(p.kind, p.model_name, p.mode, p.duration): p.credits for p in Price.objects.all()}
    assert rows[(Kind.MOTION_CONTROL, "kling-v2-6", "std", None)] == 5
    assert rows[(Kind.MOTION_CONTROL, "kling-v2-6", "pro", None)] == 8
    assert rows[(Kind.MOTION_CONTROL, "kling-v3", "std", None)] == 9
    assert rows[(Kind.MOTION_CONTROL, "kling-v3", "pro", None)] == 12
    assert rows[(Kind.MULTI_IMAGE2VIDEO, "kling-v1-6", "std", 5)] == 20
    assert rows[(Kind.MULTI_IMAGE2VIDEO, "kling-v1-6", "pro", 10)] == 70
    assert rows[(Kind.VIDEO_EXTEND, "kling-v1", "std", None)] == 10
    assert rows[(Kind.VIDEO_EXTEND, "kling-v1-6", "pro", None)] == 35


def test_it_prices_motion_control_by_the_measured_seconds_rounded_up(db):
    quote = pricing.quote(
        Kind.MOTION_CONTROL, {"model_name": "kling-v3", "mode": "pro", "output_seconds": 9.01}
    )
    assert (quote.credits, quote.unit_credits, quote.seconds) == (120, 12, 10)
    assert quote.description == "10 s x 12 credits a second"
    exact = pricing.quote(
        Kind.MOTION_CONTROL, {"model_name": "kling-v2-6", "mode": "std", "output_seconds": 4.0}
    )
    assert exact.credits == 20


def test_it_follows_an_operators_price_change(db):
    Price.objects.filter(kind=Kind.MOTION_CONTROL, model_name="kling-v3", mode="std").update(credits=20)
    quote = pricing.quote(Kind.MOTION_CONTROL, {"model_name": "kling-v3", "mode": "std", "output_seconds": 3})
    assert quote.credits == 60


def _motion(**changes):
    values = {
        "model_name": "kling-v2-6",
        "prompt": "",
        "mode": "std",
        "character_orientation": "image",
        "keep_original_sound": "yes",
        "image": True,
        "video": True,
        "video_seconds": 8.0,
    }
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"video_seconds": 10.5}, "video_url"),
        ({"video_seconds": 2.9, "character_orientation": "video"}, "video_url"),
        ({"character_orientation": "sideways"}, "character_orientation"),
        ({"keep_original_sound": "maybe"}, "keep_original_sound"),
        ({"image": False}, "image_url"),
        ({"video": False}, "video_url"),
        ({"mode": "4k"}, "mode"),
        ({"negative_prompt": "blur"}, "negative_prompt"),
        ({"model_name": "kling-v1-6"}, "model_name"),
        ({"prompt": "x" * 2501}, "prompt"),
    ],
)
def test_it_explains_what_motion_control_refuses(changes, field):
    errors = capabilities.validate(Kind.MOTION_CONTROL, _motion(**changes))
    assert field in errors, errors


def test_it_allows_up_to_30_seconds_when_the_character_follows_the_video():
    assert (
        capabilities.validate(Kind.MOTION_CONTROL, _motion(character_orientation="video", video_seconds=30))
        == {}
    )
    assert capabilities.validate(Kind.MOTION_CONTROL, _motion(video_seconds=10)) == {}


def test_it_limits_multi_image_to_four_pictures():
    values = {"model_name": "kling-v1-6", "prompt": "p", "mode": "pro", "duration": 5, "aspect_ratio": "16:9"}
    assert capabilities.validate(Kind.MULTI_IMAGE2VIDEO, {**values, "image_list": 4}) == {}
    assert "image_list" in capabilities.validate(Kind.MULTI_IMAGE2VIDEO, {**values, "image_list": 5})
    assert "image_list" in capabilities.validate(Kind.MULTI_IMAGE2VIDEO, {**values, "image_list": 0})


def test_it_creates_motion_control_without_a_form_measuring_the_video_itself(rich_alice, commit, fake):
    data = {
        "model_name": "kling-v3",
        "prompt": "",
        "mode": "std",
        "character_orientation": "video",
        "keep_original_sound": "yes",
        "image_url": upload(),
        "video_url": video_upload(seconds=4.5),
    }
    with commit():
        generation = services.create_generation(rich_alice, Kind.MOTION_CONTROL, data, "api-1")
    assert (generation.duration, generation.cost) == (5, 45)
    video = generation.inputs.get(field="video_url")
    assert (video.content_type, video.width, video.height) == ("video/mp4", 480, 360)
    assert 4.4 < video.duration < 4.6
    assert ledger.balance_of(rich_alice) == 1000 - 45


def test_it_refuses_a_bad_video_without_a_form_before_charging(rich_alice):
    data = {
        "model_name": "kling-v3",
        "mode": "std",
        "character_orientation": "image",
        "image_url": upload(),
        "video_url": video_upload(seconds=12),
    }
    with pytest.raises(ValidationError) as caught:
        services.create_generation(rich_alice, Kind.MOTION_CONTROL, data, "api-2")
    assert "between 3 and 10 s" in caught.value.message_dict["video_url"][0]
    assert not Generation.objects.exists() and ledger.balance_of(rich_alice) == 1000


def test_it_refuses_to_extend_a_video_id_that_is_not_the_persons(rich_alice):
    with pytest.raises(ValidationError) as caught:
        services.create_generation(rich_alice, Kind.VIDEO_EXTEND, {"video_id": "nope"}, "api-3")
    assert "your own finished videos" in caught.value.message_dict["video_id"][0]
    assert ledger.balance_of(rich_alice) == 1000


def test_it_hides_kinds_the_gateway_cannot_make(alice_client, settings):
    settings.KLING_PROVIDER = "gateway"
    page = alice_client.get("/generate/").content.decode()
    assert 'id="kind-text-to-video"' in page and 'id="kind-motion-control"' not in page
    assert 'id="kind-text-to-image"' not in page
    for slug in ("motion-control", "multi-image-to-video", "extend-video", "text-to-image"):
        assert alice_client.get(f"/generate/{slug}/").status_code == 404
    assert alice_client.get("/generate/text-to-video/").status_code == 200


def test_it_offers_the_new_kinds_with_the_simulator_and_kling(alice_client):
    page = alice_client.get("/generate/").content.decode()
    for slug in ("motion-control", "multi-image-to-video", "extend-video"):
        assert f'id="kind-{slug}"' in page
        assert alice_client.get(f"/generate/{slug}/").status_code == 200
    assert "From 5 credits per second" in page


def test_it_prices_each_sound_by_the_call(db):
    for kind in (Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO):
        assert Price.objects.get(kind=kind, model_name="kling-audio").credits == 3
        assert pricing.quote(kind, {"model_name": "kling-audio", "duration": 9.5}).credits == 3


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"duration": 2.9}, "duration"),
        ({"duration": 10.1}, "duration"),
        ({"duration": 4.55}, "duration"),
        ({"duration": True}, "duration"),
        ({"prompt": "x" * 201}, "prompt"),
    ],
)
def test_it_explains_what_text_to_audio_refuses(values, field):
    base = {"model_name": "kling-audio", "prompt": "Rain", "duration": 5.0}
    assert field in capabilities.validate(Kind.TEXT2AUDIO, {**base, **values})
    assert capabilities.validate(Kind.TEXT2AUDIO, base) == {}


def test_it_takes_one_video_to_dub_not_two_or_none():
    base = {"model_name": "kling-audio", "prompt": ""}
    assert "video_url" in capabilities.validate(Kind.VIDEO2AUDIO, base)
    assert "video_url" in capabilities.validate(Kind.VIDEO2AUDIO, {**base, "video": True, "video_id": "1"})
    assert "video_url" in capabilities.validate(
        Kind.VIDEO2AUDIO, {**base, "video": True, "video_seconds": 25.0}
    )
    assert capabilities.validate(Kind.VIDEO2AUDIO, {**base, "video_id": "1", "video_seconds": 5.0}) == {}
