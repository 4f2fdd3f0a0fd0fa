"""Motion control, multi-image to video and video extension through the whole pipeline
against the simulator (create page, submit, callbacks or polling, copies), and the
simulator's own rules for them."""

import base64
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from billing import ledger
from billing.models import LedgerEntry
from generations import capabilities, follow, uploads
from generations.models import Asset, Generation, InputFile, Kind, Status
from generations.simulator.models import SimTask
from tests.media_files import video_bytes, video_upload
from tests.simulator.pipeline import assert_ended_right, drive, png, settled

MC = "/_sim/kling/v1/videos/motion-control"
MULTI = "/_sim/kling/v1/videos/multi-image2video"
EXTEND = "/_sim/kling/v1/videos/video-extend"


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _post(client, commit, slug: str, data: dict):
    with commit(execute=True):
        return client.post(f"/generate/{slug}/", data)


def _created(response) -> Generation:
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def motion_form(seconds: float = 6.3, **changes) -> dict:
    data = {
        "model_name": "kling-v2-6",
        "prompt": "On a beach at sunset",
        "mode": "pro",
        "character_orientation": "video",
        "keep_original_sound": "no",
        "image_url": SimpleUploadedFile("hero.png", png(), content_type="image/png"),
        "video_url": video_upload(seconds=seconds),
        "client_token": f"mc-{seconds}-{sorted(changes.items())}",
    }
    data.update(changes)
    return data


def _probe(asset: Asset):
    with asset.file.open("rb") as handle:
        data = handle.read()
    return uploads.check_video(
        SimpleUploadedFile("result.mp4", data), capabilities.VideoLimits(0, 600, min_side=1)
    )


# --- motion control ---------------------------------------------------------------------


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_motion_control_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, "motion-control", motion_form(6.3))
    )
    # 6.3 s of reference video: 7 whole seconds at kling-v2-6 pro's 0.8 units (8 credits) a second.
    assert (generation.duration, generation.cost) == (7, 56)
    assert ledger.balance_of(alice) == 2000 - 56
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.model_name, task.mode, task.duration) == (
        "videos/motion-control",
        "kling-v2-6",
        "pro",
        "6.3",
    )
    assert generation.params == {
        "model_name": "kling-v2-6",
        "prompt": "On a beach at sunset",
        "mode": "pro",
        "character_orientation": "video",
        "keep_original_sound": "no",
    }
    assert set(generation.inputs.values_list("field", flat=True)) == {"image_url", "video_url"}

    if by_callbacks:
        pipeline.finish()
        with django_capture_on_commit_callbacks(execute=True):
            assert pipeline.deliver_callbacks() == 3
        assert settled(generation)
    else:
        drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    asset = generation.assets.get()
    assert asset.video_id == f"{task.task_id}0"
    assert abs(_probe(asset).duration - 6.3) < 0.15  # a real video as long as the reference
    assert generation.units_charged == Decimal("5.04")


def test_it_sends_motion_control_inputs_as_signed_urls_kling_can_fetch(
    pipeline, alice_client, django_capture_on_commit_callbacks, settings
):
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, "motion-control", motion_form(4))
    )
    request = follow.build_request(generation)
    for field in ("image_url", "video_url"):
        assert request.params[field].startswith(settings.SITE_URL + "/")
        assert pipeline.download(request.params[field]).status_code == 200
    assert pipeline.download(request.params["video_url"]).content == video_bytes(seconds=4)


def test_it_refunds_a_failed_motion_control_exactly_once(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    data = motion_form(5, prompt="A dance [sim:fail]")
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, "motion-control", data))
    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.deliver_callbacks()
        follow.sweep()
        follow.refresh(generation.pk)
    assert_ended_right(generation, outcome=Status.FAILED)
    assert LedgerEntry.objects.filter(generation=generation, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert ledger.balance_of(alice) == 2000


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"character_orientation": "image", "seconds": 12}, "video_url", "between 3 and 10 s"),
        ({"seconds": 2}, "video_url", "between 3 s and 30 s"),
        ({"video_url": ""}, "video_url", "Upload the video"),
        ({"image_url": ""}, "image_url", "Upload a picture of the character"),
        ({"mode": "4k"}, "mode", "Select a valid choice"),
        ({"video_url": SimpleUploadedFile("x.mp4", b"nope" * 100)}, "video_url", "not a video we can read"),
    ],
)
def test_it_refuses_bad_motion_control_input_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, changes, field, message
):
    changes = dict(changes)
    seconds = changes.pop("seconds", 5)
    response = _post(
        alice_client, django_capture_on_commit_callbacks, "motion-control", motion_form(seconds, **changes)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000


def test_it_never_charges_more_than_the_price_shown(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    response = _post(
        alice_client,
        django_capture_on_commit_callbacks,
        "motion-control",
        motion_form(6.3, expected_credits="48"),
    )
    assert response.status_code == 200
    assert "costs 56 credits, not the 48 shown" in response.content.decode()
    assert not Generation.objects.exists()


def test_it_shows_the_per_second_price_and_the_total_for_a_measured_length(pipeline, alice_client):
    page = alice_client.get("/generate/motion-control/").content.decode()
    assert 'id="price-per-second">' in page and "a second of video" in page
    options = alice_client.get(
        "/generate/motion-control/options/",
        {"model_name": "kling-v3", "mode": "std", "character_orientation": "video", "video_seconds": "9.2"},
    ).content.decode()
    # kling-v3 std: 0.9 units = 9 credits a second, 10 whole seconds.
    assert 'id="price-credits">90<' in options
    assert 'name="expected_credits" value="90"' in options


def test_it_shows_motion_control_results_and_inputs_to_the_owner_only(
    pipeline, alice_client, bob, client, django_capture_on_commit_callbacks
):
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, "motion-control", motion_form(4))
    )
    pipeline.finish()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.deliver_callbacks()
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "<video" in page and "Motion reference" in page and "Character faces" in page
    given = generation.inputs.get(field="video_url")
    assert given.get_absolute_url() in page
    client.force_login(bob)
    assert client.get(given.get_absolute_url()).status_code == 404
    assert client.get(generation.get_absolute_url()).status_code == 404


# --- multi-image to video -----------------------------------------------------------------


def multi_form(count: int = 3, **changes) -> dict:
    data = {
        "model_name": "kling-v1-6",
        "prompt": "The three friends walk into the cafe",
        "mode": "std",
        "duration": "10",
        "aspect_ratio": "1:1",
        "image_list": [
            SimpleUploadedFile(f"s{i}.png", png(), content_type="image/png") for i in range(count)
        ],
        "client_token": f"multi-{count}-{sorted(changes.items())}",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_runs_multi_image_to_video_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    generation = _created(
        _post(alice_client, django_capture_on_commit_callbacks, "multi-image-to-video", multi_form(3))
    )
    assert generation.cost == 40  # kling-v1-6 std 10 s: 4 units
    request = follow.build_request(generation)
    assert [list(item) for item in request.params["image_list"]] == [["image"]] * 3
    assert base64.b64decode(request.params["image_list"][0]["image"]) == png()
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert (task.product, task.duration, task.aspect_ratio) == ("videos/multi-image2video", "10", "1:1")
    if by_callbacks:
        pipeline.finish()
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.deliver_callbacks()
    else:
        drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    assert abs(_probe(generation.assets.get()).duration - 10) < 0.15


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (multi_form(0), "Upload at least one subject picture"),
        (multi_form(5), "at most 4 subject pictures"),
        (multi_form(1, prompt=""), "This field is required"),
        (multi_form(2, duration="7"), "Select a valid choice"),
    ],
)
def test_it_refuses_bad_multi_image_input_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, form, message
):
    response = _post(alice_client, django_capture_on_commit_callbacks, "multi-image-to-video", form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000


def test_it_names_the_bad_picture_among_several(pipeline, alice_client, django_capture_on_commit_callbacks):
    form = multi_form(2)
    form["image_list"].append(SimpleUploadedFile("tiny.png", png(100, 100), content_type="image/png"))
    response = _post(alice_client, django_capture_on_commit_callbacks, "multi-image-to-video", form)
    assert "Picture 3 (tiny.png): This picture is 100 x 100 px" in response.content.decode()


# --- video extension ----------------------------------------------------------------------


def _finished_video(alice_client, commit, pipeline, model="kling-v1-6") -> Generation:
    data = {
        "model_name": model,
        "prompt": "A red fox trotting through fresh snow",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "client_token": f"source-{model}",
    }
    generation = _created(_post(alice_client, commit, "text-to-video", data))
    pipeline.finish()
    with commit(execute=True):
        pipeline.deliver_callbacks()
    assert settled(generation) and generation.status == Status.SUCCEEDED
    return generation


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_extends_a_finished_video_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    source = _finished_video(alice_client, commit, pipeline)
    video = source.assets.get()
    assert video.video_id
    detail = alice_client.get(source.get_absolute_url()).content.decode()
    assert f"/generate/extend-video/?video_id={video.video_id}" in detail
    page = alice_client.get(f"/generate/extend-video/?video_id={video.video_id}").content.decode()
    assert 'id="extend-source"' in page and video.get_absolute_url() in page
    assert 'id="price-credits">35<' in page  # kling-v1-6 pro: 3.5 units a call

    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    data = {"video_id": video.video_id, "prompt": "The fox stops and looks back", "client_token": "ext-1"}
    extension = _created(_post(alice_client, commit, "extend-video", data))
    assert (extension.parent, extension.model_name, extension.mode, extension.cost) == (
        source,
        "kling-v1-6",
        "pro",
        35,
    )
    assert extension.params == {"video_id": video.video_id, "prompt": "The fox stops and looks back"}
    if by_callbacks:
        pipeline.finish()
        with commit(execute=True):
            pipeline.deliver_callbacks()
    else:
        drive(pipeline, commit, extension, callbacks=False)
    assert_ended_right(extension, outcome=Status.SUCCEEDED)
    task = SimTask.objects.get(external_task_id=str(extension.external_task_id))
    answer = pipeline.client().get("videos/video-extend", task.task_id).raw
    assert answer["task_info"]["parent_video"]["id"] == video.video_id
    assert answer["task_info"]["parent_video"]["duration"] == "5"
    assert abs(_probe(extension.assets.get()).duration - 10) < 0.15  # the whole extended video
    # Both pages show the chain.
    assert (
        f'href="{extension.get_absolute_url()}"'
        in alice_client.get(source.get_absolute_url()).content.decode()
    )
    assert (
        f'href="{source.get_absolute_url()}"'
        in alice_client.get(extension.get_absolute_url()).content.decode()
    )


def test_it_refuses_to_extend_someone_elses_video(
    pipeline, alice_client, bob, client, django_capture_on_commit_callbacks
):
    source = _finished_video(alice_client, django_capture_on_commit_callbacks, pipeline)
    ledger.grant(bob, 100, key="bob:grant")
    client.force_login(bob)
    video_id = source.assets.get().video_id
    response = _post(
        client,
        django_capture_on_commit_callbacks,
        "extend-video",
        {"video_id": video_id, "client_token": "b"},
    )
    assert response.status_code == 200
    assert "Choose one of your own finished videos" in response.content.decode()
    assert Generation.objects.filter(owner=bob).count() == 0 and ledger.balance_of(bob) == 100


def test_it_refuses_a_source_older_than_30_days_or_too_long(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    source = _finished_video(alice_client, commit, pipeline)
    video = source.assets.get()
    balance = ledger.balance_of(alice)
    Generation.objects.filter(pk=source.pk).update(finished_at=timezone.now() - timedelta(days=31))
    response = _post(
        alice_client, commit, "extend-video", {"video_id": video.video_id, "client_token": "old"}
    )
    assert "Kling extends videos for 30 days after they are made" in response.content.decode()
    Generation.objects.filter(pk=source.pk).update(finished_at=timezone.now())
    Asset.objects.filter(pk=video.pk).update(duration=177.0)
    response = _post(
        alice_client, commit, "extend-video", {"video_id": video.video_id, "client_token": "long"}
    )
    assert "already 177 s long; Kling extends videos up to 3 minutes in all" in response.content.decode()
    assert (
        Generation.objects.filter(kind=Kind.VIDEO_EXTEND).count() == 0 and ledger.balance_of(alice) == balance
    )


def test_it_offers_no_extend_for_a_model_kling_cannot_extend(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    source = _finished_video(alice_client, django_capture_on_commit_callbacks, pipeline, model="kling-v2-6")
    assert 'id="extend"' not in alice_client.get(source.get_absolute_url()).content.decode()


# --- the simulator's own rules ------------------------------------------------------------


def _png_b64(width=640, height=360) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


OK_MC = {
    "model_name": "kling-v3",
    "mode": "std",
    "character_orientation": "image",
    "image_url": "https://cdn.example.org/hero.png",
    "video_url": "https://cdn.example.org/dance.mp4",
}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (MC, {**OK_MC, "mode": ""}, "mode is required"),
        (MC, {**OK_MC, "mode": "4k"}, "mode must be one of std, pro"),
        (
            MC,
            {k: v for k, v in OK_MC.items() if k != "character_orientation"},
            "character_orientation is required",
        ),
        (MC, {**OK_MC, "character_orientation": "left"}, "character_orientation must be one of"),
        (MC, {**OK_MC, "keep_original_sound": "maybe"}, "keep_original_sound must be one of yes, no"),
        (MC, {**OK_MC, "image_url": ""}, "image_url is required"),
        (MC, {**OK_MC, "video_url": ""}, "video_url is required"),
        (MC, {**OK_MC, "video_url": "ftp://x/v.mp4"}, "video_url must be an http(s) URL"),
        (MC, {**OK_MC, "prompt": "x" * 2501}, "prompt must be at most 2500 characters"),
        (MC, {**OK_MC, "model_name": "kling-v1-6"}, "not found"),
        (MULTI, {"prompt": "p"}, "image_list is required"),
        (MULTI, {"prompt": "p", "image_list": [{"image": _png_b64()}] * 5}, "at most 4 items"),
        (MULTI, {"prompt": "p", "image_list": ["x"]}, "image_list must be a list"),
        (MULTI, {"prompt": "p", "image_list": [{"image": "data:image/png;base64,AAAA"}]}, "data: prefix"),
        (MULTI, {"prompt": "", "image_list": [{"image": _png_b64()}]}, "prompt is required"),
        (
            MULTI,
            {"prompt": "p", "image_list": [{"image": _png_b64()}], "duration": "7"},
            "duration must be one of",
        ),
        (EXTEND, {"prompt": "p"}, "video_id is required"),
        (EXTEND, {"video_id": "12345"}, "not found"),
    ],
)
def test_the_simulator_answers_bad_fields_with_1201(post, path, body, message):
    status, answer = post(path, body)
    assert (status, answer["code"]) in ((400, 1201), (404, 1203)), answer
    assert message in answer["message"]
    assert "data" not in answer


def test_the_simulator_checks_the_reference_video_length_it_fetches(post, sim, alice, settings):
    generation = Generation.objects.create(
        owner=alice, kind=Kind.MOTION_CONTROL, provider="simulator", model_name="kling-v3", cost=0
    )
    given = InputFile(generation=generation, field="video_url", content_type="video/mp4")
    given.file.save("long.mp4", SimpleUploadedFile("long.mp4", video_bytes(seconds=12)), save=False)
    given.save()
    from generations import inputs

    status, answer = post(MC, {**OK_MC, "video_url": inputs.signed_url(given)})
    assert (status, answer["code"]) == (400, 1201)
    assert "at most 10 seconds long when character_orientation is image" in answer["message"]
    status, answer = post(
        MC, {**OK_MC, "character_orientation": "video", "video_url": inputs.signed_url(given)}
    )
    assert (status, answer["code"]) == (200, 0)
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert task.duration == "12" and task.units == Decimal("10.8")


def test_the_simulator_extends_only_its_own_recent_extendable_videos(post, sim):
    status, answer = post("/_sim/kling/v1/videos/text2video", {"model_name": "kling-v2-6", "prompt": "p"})
    sim.finish()
    video_id = answer["data"]["task_id"] + "0"
    status, answer = post(EXTEND, {"video_id": video_id})
    assert (status, answer["code"]) == (400, 1201)
    assert "cannot be extended" in answer["message"]
