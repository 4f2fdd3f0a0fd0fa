"""Omni video with a reference video (<<<video_1>>>): uploaded or one of the person's own
finished videos, used as a reference (`feature`) or as the base to edit (`base`), through
the whole pipeline against the simulator; its price; the rules refused before any charge;
and the simulator's own checks of `video_list`."""

import base64
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations import follow, inputs
from generations.models import Generation, InputFile, Kind, Status
from generations.providers.kling import legacy_body
from generations.simulator.models import SimTask
from tests.media_files import video_bytes, video_upload
from tests.simulator.pipeline import assert_ended_right, drive, png
from tests.simulator.test_new_video_kinds import _finished_video
from tests.simulator.test_omni_video import OMNI, _created, _post, _probe_seconds, omni_form

HD = {"width": 1280, "height": 720, "fps": 24}


@pytest.fixture
def pipeline(funded_pipeline):
    return funded_pipeline


def video_form(seconds: float = 4, pictures: int = 1, **changes) -> dict:
    video = changes.pop("video", None) or video_upload("ref.mp4", seconds=seconds, **HD)
    data = omni_form(
        pictures,
        mode="std",
        prompt="<<<image_1>>> dances like the girl in <<<video_1>>>",
        video_url=video,
        refer_type="feature",
        keep_original_sound="no",
    )
    data["client_token"] = f"ref-{seconds}-{pictures}-{sorted(changes.items(), key=str)}"
    data.update(changes)
    return data


def test_it_makes_an_omni_video_after_an_uploaded_reference_video(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, settings
):
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, video_form()))
    assert generation.cost == 45  # kling-video-o1 std with a video: 0.9 units x 5 s
    assert ledger.balance_of(alice) == 1955
    assert generation.params["video_list"] == [{"refer_type": "feature", "keep_original_sound": "no"}]
    body = legacy_body(follow.build_request(generation))
    [video] = body["video_list"]
    assert video["video_url"].startswith(settings.SITE_URL + "/inputs/")
    assert pipeline.download(video["video_url"]).content == video_bytes(seconds=4, **HD)
    assert (body["duration"], body["aspect_ratio"]) == ("5", "16:9")
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.units == Decimal("4.5")  # the simulator bills Kling's rate with a video
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    page = alice_client.get(generation.get_absolute_url()).content.decode()
    assert "video_1: the reference video" in page
    given = generation.inputs.get(field="video_url")
    assert f'src="{given.get_absolute_url()}"' in page


def test_a_base_video_is_edited_as_it_is_and_billed_by_its_length(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    data = video_form(
        4.2, pictures=0, prompt="Make it snow in <<<video_1>>>", refer_type="base", mode="pro", duration="8"
    )
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, data))
    # Kling O1 pro with a video: 1.2 units a second, 5 whole seconds (the video's 4.2).
    assert (generation.cost, generation.duration) == (60, 5)
    assert "duration" not in generation.params and "aspect_ratio" not in generation.params
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.duration == "4.2"
    drive(pipeline, django_capture_on_commit_callbacks, generation, callbacks=False)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)
    assert abs(_probe_seconds(generation) - 4.2) < 0.15
    assert (
        "video_1: the base video, edited" in alice_client.get(generation.get_absolute_url()).content.decode()
    )


def test_one_of_ones_own_videos_is_the_reference_from_its_page(
    pipeline, alice, alice_client, bob, django_capture_on_commit_callbacks
):
    source = _finished_video(alice_client, django_capture_on_commit_callbacks, pipeline)
    video = source.assets.get()
    # The simulator's clip of a text-to-video is short; a reference video lasts 3-10 s.
    type(video).objects.filter(pk=video.pk).update(duration=5.0)
    link = f"/generate/omni-video/?video_id={video.video_id}"
    assert link in alice_client.get(source.get_absolute_url()).content.decode()
    page = alice_client.get(link).content.decode()
    assert 'id="omni-video-source"' in page and 'data-insert-token="<<<video_1>>>"' in page
    data = video_form(video_id=video.video_id, video="", client_token="own")
    data.pop("video_url")
    generation = _created(_post(alice_client, django_capture_on_commit_callbacks, data))
    copied = generation.inputs.get(field="video_url")
    with copied.file.open("rb") as a, video.file.open("rb") as b:
        assert a.read() == b.read()
    assert legacy_body(follow.build_request(generation))["video_list"][0]["video_url"] == inputs.signed_url(
        copied
    )
    # Someone else's video is refused, and nothing is charged.
    alice_client.force_login(bob)
    ledger.grant(bob, 100, key="bob")
    response = _post(alice_client, django_capture_on_commit_callbacks, {**data, "client_token": "bob"})
    assert (
        response.status_code == 200 and "Choose one of your own finished videos" in response.content.decode()
    )
    assert ledger.balance_of(bob) == 100


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pictures": 5}, "With a reference video, give at most 4 reference pictures; you gave 5."),
        ({"seconds": 2}, "between 3 s and 10 s"),
        ({"video": video_upload("small.mp4", seconds=4, width=480, height=360)}, "between 720 and 2160 px"),
        ({"video": video_upload("slow.mp4", seconds=4, width=1280, height=720, fps=12)}, "24 to 60 frames"),
        ({"video": SimpleUploadedFile("x.mp4", b"nope" * 100)}, "not a video we can read"),
        ({"refer_type": "style"}, "Select a valid choice"),
        ({"prompt": "Like <<<video_2>>>"}, "&lt;&lt;&lt;video_2&gt;&gt;&gt; but no reference video"),
        (
            {
                "refer_type": "base",
                "model_name": "kling-v3-omni",
                "multi_shot": "on",
                "prompt": "",
                "multi_prompt": '[{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 3}]',
            },
            "A base video is edited as it is",
        ),
        ({"expected_credits": "30"}, "costs 45 credits, not the 30 shown"),
    ],
)
def test_it_refuses_bad_reference_videos_before_charging(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks, changes, message
):
    changes = dict(changes)
    data = video_form(changes.pop("seconds", 4), changes.pop("pictures", 1), **changes)
    response = _post(alice_client, django_capture_on_commit_callbacks, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 2000


def test_the_page_prices_a_video_and_a_base_video_by_its_length(pipeline, alice_client):
    options = "/generate/omni-video/options/"
    base = {"model_name": "kling-v3-omni", "mode": "pro", "duration": "5", "aspect_ratio": "16:9"}
    assert 'id="price-credits">40<' in alice_client.get(options, base).content.decode()
    with_video = alice_client.get(options, {**base, "video_seconds": "4.2"}).content.decode()
    assert 'id="price-credits">60<' in with_video  # 1.2 units x 5 s
    edited = alice_client.get(
        options, {**base, "video_seconds": "7.5", "refer_type": "base"}
    ).content.decode()
    assert 'id="price-credits">96<' in edited  # 1.2 units x 8 s, the base video's length
    assert 'name="duration"' not in edited and 'name="aspect_ratio"' not in edited
    page = alice_client.get("/generate/omni-video/").content.decode()
    assert 'data-video-token="&lt;&lt;&lt;video_1&gt;&gt;&gt;"' in page and 'id="video-token"' in page


def test_the_api_takes_a_reference_video_as_base64(pipeline, alice, monkeypatch):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from accounts import api_keys
    from outbound_webhooks import subscriptions

    monkeypatch.setattr(subscriptions, "subscribe", lambda generation, url: None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_keys.create_key(alice, 'omni')[1]}")
    body = {
        "kind": "omni_video",
        "model_name": "kling-v3-omni",
        "mode": "std",
        "prompt": "Edit <<<video_1>>>: night falls",
        "refer_type": "base",
        "video_url": base64.b64encode(video_bytes(seconds=3.4, **HD)).decode(),
    }
    response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.json()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.cost == 36 and ledger.balance_of(alice) == 1964  # 0.9 units x 4 s
    assert generation.params["video_list"][0]["refer_type"] == "base"
    short = {**body, "video_url": base64.b64encode(video_bytes(seconds=2, **HD)).decode()}
    bad = api.post(reverse("api:generations"), short, format="json")
    assert bad.status_code == 400 and "video_url" in bad.json()["details"], bad.json()
    assert ledger.balance_of(alice) == 1964


# --- the simulator's own checks -------------------------------------------------------------


def _png_b64() -> str:
    return base64.b64encode(png(640, 360)).decode()


def _stored_video(alice, seconds: float) -> str:
    generation = Generation.objects.create(
        owner=alice, kind=Kind.OMNI_VIDEO, provider="simulator", model_name="kling-video-o1", cost=0
    )
    given = InputFile(generation=generation, field="video_url", content_type="video/mp4")
    given.file.save("v.mp4", SimpleUploadedFile("v.mp4", video_bytes(seconds=seconds)), save=False)
    given.save()
    return inputs.signed_url(given)


FEATURE = {
    "model_name": "kling-video-o1",
    "prompt": "<<<image_1>>> like <<<video_1>>>",
    "image_list": [{"image_url": _png_b64()}],
    "video_list": [{"video_url": "https://cdn.example.org/v.mp4", "refer_type": "feature"}],
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"video_list": [FEATURE["video_list"][0]] * 2}, "video_list must have at most 1 item"),
        ({"video_list": [{"refer_type": "base"}]}, "video_list[0].video_url is required"),
        ({"video_list": [{"video_url": "ftp://x/v.mp4"}]}, "must be an http(s) URL"),
        (
            {"video_list": [{**FEATURE["video_list"][0], "refer_type": "style"}]},
            "refer_type must be feature or base",
        ),
        (
            {"video_list": [{**FEATURE["video_list"][0], "keep_original_sound": True}]},
            "keep_original_sound must be yes or no",
        ),
        ({"image_list": [{"image_url": _png_b64()}] * 5}, "at most 4 items when video_list is given"),
        ({"video_list": []}, "<<<video_1>>> refers to a video that is not in video_list"),
        (
            {
                "video_list": [{**FEATURE["video_list"][0], "refer_type": "base"}],
                "image_list": [{"image_url": _png_b64(), "type": "first_frame"}],
            },
            "type first_frame cannot be used with a base video",
        ),
        (
            {
                "model_name": "kling-v3-omni",
                "video_list": [{**FEATURE["video_list"][0], "refer_type": "base"}],
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [
                    {"index": 1, "prompt": "a", "duration": "2"},
                    {"index": 2, "prompt": "b", "duration": "3"},
                ],
            },
            "multi_shot cannot be used with a base video",
        ),
    ],
)
def test_the_simulator_answers_bad_video_lists_with_1201(post, sim, changes, message):
    status, answer = post(OMNI, {**FEATURE, **changes})
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_measures_the_video_it_fetches(post, sim, alice):
    status, answer = post(
        OMNI, {**FEATURE, "video_list": [{"video_url": _stored_video(alice, 12), "refer_type": "feature"}]}
    )
    assert (status, answer["code"]) == (400, 1201)
    assert "must be 3 to 10 seconds long" in answer["message"]
    base = {"video_url": _stored_video(alice, 6.4), "refer_type": "base", "keep_original_sound": "no"}
    status, answer = post(OMNI, {**FEATURE, "mode": "std", "video_list": [base]})
    assert (status, answer["code"]) == (200, 0), answer
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert task.duration == "6.4" and task.units == Decimal("5.76")  # 0.9 units x 6.4 s
