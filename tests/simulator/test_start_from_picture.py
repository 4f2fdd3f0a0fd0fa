"""Start from a finished picture: "Animate" opens image to video with it as the start frame,
"Use as reference" opens omni video with it as image_1; only the owner's own pictures."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import ledger
from generations.models import Asset, Generation, Status
from generations.simulator.models import SimTask
from tests.simulator.pipeline import assert_ended_right, create, drive, png, settled


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator


def _finished_picture(client, commit, pipeline) -> Asset:
    generation = create(client, commit, "text2image")
    pipeline.finish()
    with commit(execute=True):
        pipeline.deliver_callbacks()
    assert settled(generation) and generation.status == Status.SUCCEEDED
    return generation.assets.order_by("index").first()


def _post(client, commit, slug: str, data: dict):
    with commit(execute=True):
        return client.post(f"/generate/{slug}/", data)


def _created(response) -> Generation:
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


ANIMATE = {
    "model_name": "kling-v2-6",
    "prompt": "The waves start to roll",
    "mode": "std",
    "duration": "5",
    "client_token": "animate-picture",
}


def test_a_finished_picture_offers_animate_and_use_as_reference(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    picture = _finished_picture(alice_client, django_capture_on_commit_callbacks, pipeline)
    page = alice_client.get(picture.generation.get_absolute_url()).content.decode()
    assert f'href="/generate/image-to-video/?picture={picture.pk}" id="animate"' in page
    assert f'href="/generate/omni-video/?picture={picture.pk}" id="use-as-reference"' in page
    create_page = alice_client.get(f"/generate/image-to-video/?picture={picture.pk}").content.decode()
    assert 'id="picture-source"' in create_page and f'name="picture_from" value="{picture.pk}"' in create_page
    omni_page = alice_client.get(f"/generate/omni-video/?picture={picture.pk}").content.decode()
    assert 'data-insert-token="<<<image_1>>>"' in omni_page
    assert 'data-token-start="2"' in omni_page


def test_animate_sends_the_picture_as_the_start_frame(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    picture = _finished_picture(alice_client, commit, pipeline)
    generation = _created(
        _post(alice_client, commit, "image-to-video", {**ANIMATE, "picture_from": picture.pk})
    )
    assert generation.input_image and generation.input_image.name != picture.file.name
    with generation.input_image.open("rb") as copy, picture.file.open("rb") as original:
        assert copy.read() == original.read()
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.product == "videos/image2video"
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_use_as_reference_makes_the_picture_image_1(
    pipeline, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    picture = _finished_picture(alice_client, commit, pipeline)
    data = {
        "model_name": "kling-video-o1",
        "prompt": "<<<image_1>>> meets <<<image_2>>> on the pier",
        "mode": "pro",
        "duration": "5",
        "aspect_ratio": "16:9",
        "picture_from": picture.pk,
        "image_list": [SimpleUploadedFile("friend.png", png(), content_type="image/png")],
        "client_token": "omni-from-picture",
    }
    generation = _created(_post(alice_client, commit, "omni-video", data))
    inputs = list(generation.inputs.filter(field="image_list").order_by("index"))
    assert [i.index for i in inputs] == [0, 1]
    with inputs[0].file.open("rb") as first, picture.file.open("rb") as original:
        assert first.read() == original.read()
    drive(pipeline, commit, generation, callbacks=True)
    assert_ended_right(generation, outcome=Status.SUCCEEDED)


def test_someone_elses_picture_is_not_used(
    pipeline, alice_client, bob, client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    picture = _finished_picture(alice_client, commit, pipeline)
    ledger.grant(bob, 100, key="bob:grant")
    client.force_login(bob)
    assert (
        'id="picture-source"'
        not in client.get(f"/generate/image-to-video/?picture={picture.pk}").content.decode()
    )
    response = _post(
        client, commit, "image-to-video", {**ANIMATE, "picture_from": picture.pk, "client_token": "bob"}
    )
    assert response.status_code == 200
    assert "Upload a start frame" in response.content.decode()
    assert not Generation.objects.filter(owner=bob).exists()
