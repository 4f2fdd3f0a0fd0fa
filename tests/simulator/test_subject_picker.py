"""Saved subjects picked on the create pages: sent as Kling's `element_list`, only one's
own ready subjects offered, only where the kind and model take them; a generation made
with a subject is untouched when the subject is deleted."""

from __future__ import annotations

import pytest

from generations import follow
from generations.forms import MotionControlForm, OmniVideoForm, TextToImageForm
from generations.models import Kind, Status
from generations.providers.kling import legacy_body
from subjects import services
from subjects.models import Subject
from tests.simulator.pipeline import assert_ended_right, created, drive, post_page
from tests.simulator.test_image_kinds import omni_image_form
from tests.subjects.test_subjects import _pictures


@pytest.fixture
def pipeline(funded_pipeline):
    return funded_pipeline


def _subject(sim, owner, name: str) -> Subject:
    subject = services.create_subject(
        owner, name=name, description="", kind="character", pictures=_pictures(2)
    )
    sim.finish()
    subject = services.refresh_subject(subject)
    assert subject.status == Subject.Status.READY
    return subject


def test_a_subject_is_used_in_two_kinds_then_deleted(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    mia = _subject(pipeline, alice, "Mia")
    commit = django_capture_on_commit_callbacks

    form = omni_image_form(1, prompt="<<<element_1>>> holding <<<image_1>>>", subjects=[str(mia.pk)])
    omni = created(post_page(alice_client, commit, "omni-image", form))
    assert omni.params["element_list"] == [{"element_id": mia.element_id}]
    assert legacy_body(follow.build_request(omni))["element_list"] == [{"element_id": mia.element_id}]

    text = {
        "model_name": "kling-v3",
        "prompt": "<<<element_1>>> on a beach at sunset",
        "n": "1",
        "aspect_ratio": "1:1",
        "resolution": "1k",
        "subjects": [str(mia.pk)],
        "client_token": "t2i-with-mia",
    }
    still = created(post_page(alice_client, commit, "text-to-image", text))
    assert legacy_body(follow.build_request(still))["element_list"] == [{"element_id": mia.element_id}]

    for generation in (omni, still):
        drive(pipeline, commit, generation, callbacks=True)
        assert_ended_right(generation, outcome=Status.SUCCEEDED, images=1)

    assert alice_client.post(f"/subjects/{mia.pk}/delete/").status_code == 302
    for generation in (omni, still):
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED and generation.assets.count() == 1
        assert alice_client.get(generation.get_absolute_url()).status_code == 200
    # Gone from the pickers.
    assert b"Mia (" not in alice_client.get("/generate/omni-image/").content


def test_only_one_s_own_ready_subjects_are_offered_and_accepted(
    pipeline, alice, bob, alice_client, django_capture_on_commit_callbacks
):
    mia = _subject(pipeline, alice, "Mia")
    rex = _subject(pipeline, bob, "Rex")
    page = alice_client.get("/generate/omni-image/").content.decode()
    assert "Mia (Character)" in page and "Rex" not in page
    form = omni_image_form(1, prompt="<<<element_1>>> and <<<image_1>>>", subjects=[str(rex.pk)])
    response = post_page(alice_client, django_capture_on_commit_callbacks, "omni-image", form)
    assert response.status_code != 302
    assert alice.generations.count() == 0
    del mia


def test_subjects_show_only_where_the_model_takes_them(pipeline, alice, alice_client):
    _subject(pipeline, alice, "Mia")
    assert "subjects" in TextToImageForm({"model_name": "kling-v3"}, user=alice).fields
    assert "subjects" not in TextToImageForm({"model_name": "kling-v2-1"}, user=alice).fields
    assert "subjects" in MotionControlForm({"model_name": "kling-v3"}, user=alice).fields
    assert "subjects" not in MotionControlForm({"model_name": "kling-v2-6"}, user=alice).fields
    assert "subjects" in OmniVideoForm({"model_name": "kling-video-o1"}, user=alice).fields
    assert b"Mia (Character)" not in alice_client.get("/generate/text-to-video/").content
    assert services.subject_limit(Kind.MOTION_CONTROL, "kling-v3") == 1
    assert services.subject_limit(Kind.MOTION_CONTROL, "kling-v2-6") == 0
    assert services.subject_limit(Kind.OMNI_VIDEO, "kling-video-o1") == 7


def test_a_prompt_may_name_only_the_subjects_picked(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    mia = _subject(pipeline, alice, "Mia")
    form = omni_image_form(1, prompt="<<<element_2>>> holding <<<image_1>>>", subjects=[str(mia.pk)])
    response = post_page(alice_client, django_capture_on_commit_callbacks, "omni-image", form)
    assert response.status_code != 302
    assert "element_2" in response.content.decode()
    assert alice.generations.count() == 0
