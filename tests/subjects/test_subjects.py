"""Saved subjects: Kling's custom elements through the real client and the simulator, the
subject library page, owner filtering, and deleting without touching past generations."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generations.providers.base import ProviderError, TaskStatus
from generations.providers.kling import parse_element_task
from generations.simulator.models import SimElement
from subjects import services
from subjects.models import Subject
from tests.simulator.pipeline import png

ELEMENTS = "/_sim/kling/v1/general/advanced-custom-elements"


def _pictures(count: int = 2) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"mia-{n}.png", png(400, 500), content_type="image/png") for n in range(count)]


@pytest.fixture
def sim(kling_simulator):
    kling_simulator.set_timings(1, 2)
    return kling_simulator


def _ready_subject(sim, owner, name: str = "Mia") -> Subject:
    subject = services.create_subject(
        owner, name=name, description="", kind="character", pictures=_pictures(3)
    )
    sim.finish()
    return services.refresh_subject(subject)


def test_it_makes_an_element_and_follows_its_build(sim, alice):
    subject = services.create_subject(
        alice, name="Mia", description="Red hair, green coat", kind="character", pictures=_pictures(3)
    )
    assert subject.status == Subject.Status.PENDING and subject.task_id
    element = SimElement.objects.get(task_id=subject.task_id)
    # Kling's documented body: one frontal picture, the others as refer_images, a tag.
    assert element.element_name == "Mia" and element.element_description == "Red hair, green coat"
    assert element.reference_type == "image_refer"
    assert element.image_list["frontal_image"].startswith("base64:")
    assert len(element.image_list["refer_images"]) == 2
    assert element.tag_list == [{"tag_id": "o_102"}]
    assert services.refresh_subject(subject).status == Subject.Status.PENDING
    sim.finish()
    subject = services.refresh_subject(subject)
    assert subject.status == Subject.Status.READY
    assert subject.element_id == str(element.element_id)


def test_it_lists_queries_by_external_id_and_deletes(sim, alice):
    subject = _ready_subject(sim, alice)
    client = sim.client()
    listed = client.list_elements()
    assert [(t.task_id, t.element_id) for t in listed] == [(subject.task_id, subject.element_id)]
    assert client.get_element(f"subject-{subject.pk}").element_id == subject.element_id
    assert services.delete_subject(alice, subject.pk)
    again = client.get_element(subject.task_id)
    assert again.deleted and again.status == TaskStatus.SUCCEEDED
    # Kling refuses to delete an element twice.
    with pytest.raises(ProviderError):
        client.delete_element(subject.element_id)


def test_the_simulator_refuses_what_kling_refuses(sim):
    kling = sim.client()
    good = {
        "element_name": "Mia",
        "element_description": "A girl",
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": "https://example.org/a.png",
            "refer_images": [{"image_url": "https://example.org/b.png"}],
        },
    }
    bad_bodies = [
        {**good, "element_name": "x" * 21},
        {**good, "element_description": ""},
        {**good, "reference_type": "photo"},
        {**good, "element_image_list": {"frontal_image": "https://example.org/a.png", "refer_images": []}},
        {**good, "element_image_list": {"frontal_image": "", "refer_images": [{"image_url": "x"}]}},
        {**good, "tag_list": [{"tag_id": "o_999"}]},
    ]
    for body in bad_bodies:
        with pytest.raises(ProviderError) as caught:
            kling.create_element(body)
        assert caught.value.provider_code == 1201, body
    assert kling.create_element(good).status == TaskStatus.SUBMITTED
    # The client sends raw Base64, as Kling wants: a data: prefix is taken off.
    assert (
        kling.create_element(
            {
                **good,
                "element_image_list": {
                    "frontal_image": "data:image/png;base64,AAAA",
                    "refer_images": [{"image_url": "QUJD"}],
                },
            }
        ).status
        == TaskStatus.SUBMITTED
    )


def test_each_key_sees_only_its_own_elements(sim, alice, bob):
    _ready_subject(sim, alice)
    SimElement.objects.update(created_by="ak:someone-else")
    assert sim.client().list_elements() == []


def test_it_parses_kling_s_answer_with_a_numeric_element_id():
    task = parse_element_task(
        {
            "task_id": "1",
            "task_status": "succeed",
            "task_result": {"elements": [{"element_id": 8620, "status": "succeed"}]},
        }
    )
    assert task.element_id == "8620" and not task.deleted


def test_it_refuses_a_subject_with_too_few_or_too_many_pictures(sim, alice):
    for count in (0, 1, 5):
        with pytest.raises(Exception) as caught:
            services.create_subject(
                alice, name="Mia", description="", kind="character", pictures=_pictures(count)
            )
        assert "pictures" in caught.value.message_dict
    assert not Subject.objects.exists() and not SimElement.objects.exists()


def test_a_refused_subject_keeps_kling_s_reason(sim, alice, monkeypatch):
    monkeypatch.setattr(services, "TAGS", {**services.TAGS, "character": "o_999"})
    subject = services.create_subject(
        alice, name="Mia", description="", kind="character", pictures=_pictures(2)
    )
    assert subject.status == Subject.Status.FAILED and subject.error


def test_the_page_saves_lists_and_deletes_only_one_s_own(sim, client, alice, bob):
    client.force_login(alice)
    response = client.post(
        "/subjects/", {"name": "Rex", "kind": "pet", "description": "A corgi", "pictures": _pictures(2)}
    )
    assert response.status_code == 302
    rex = Subject.objects.get(owner=alice)
    assert SimElement.objects.get(task_id=rex.task_id).tag_list == [{"tag_id": "o_103"}]
    sim.finish()
    page = client.get("/subjects/")
    assert b"Rex" in page.content
    rex.refresh_from_db()
    assert rex.status == Subject.Status.READY  # the page brought it up to date
    assert client.get(f"/subjects/{rex.pk}/pictures/0/").status_code == 200

    assert f'data-subject="{rex.pk}"'.encode() in page.content
    client.force_login(bob)
    assert f'data-subject="{rex.pk}"'.encode() not in client.get("/subjects/").content
    assert client.get(f"/subjects/{rex.pk}/pictures/0/").status_code == 404
    assert client.post(f"/subjects/{rex.pk}/delete/").status_code == 404

    client.force_login(alice)
    assert client.post(f"/subjects/{rex.pk}/delete/").status_code == 302
    assert f'data-subject="{rex.pk}"'.encode() not in client.get("/subjects/").content
    assert SimElement.objects.get(task_id=rex.task_id).deleted_ms


def test_the_page_explains_a_bad_upload(sim, client, alice):
    client.force_login(alice)
    response = client.post("/subjects/", {"name": "Rex", "kind": "pet", "pictures": _pictures(1)})
    assert response.status_code == 400
    assert b"at least 2 pictures" in response.content
    assert not Subject.objects.exists()


def test_subjects_are_offered_only_by_providers_with_elements(settings, alice, client):
    settings.KLING_PROVIDER = "gateway"
    settings.GATEWAY_API_BASE = "https://gateway.example.org"
    settings.GATEWAY_API_KEY = "key"
    client.force_login(alice)
    page = client.get("/subjects/")
    assert page.status_code == 200 and b"does not keep subjects" in page.content


# --- the simulator's element life cycle: callbacks, and element_list on a create ----------

ELEMENT_BODY = {
    "element_name": "Mia",
    "element_description": "A girl",
    "reference_type": "image_refer",
    "element_image_list": {
        "frontal_image": "https://example.org/a.png",
        "refer_images": [{"image_url": "https://example.org/b.png"}],
    },
}


def test_an_element_build_is_called_back_on_each_status_change(sim):
    # Kling's Element Management takes a callback_url and follows its callback protocol:
    # the bare task object, on each status change.
    kling = sim.client()
    task = kling.create_element({**ELEMENT_BODY, "callback_url": sim.receiver_url("mia")})
    sim.deliver_callbacks()
    assert [r.json["task_status"] for r in sim.received] == ["submitted"]
    sim.finish()
    sim.deliver_callbacks()
    submitted, built = (r.json for r in sim.received)
    assert "code" not in built and built["task_id"] == submitted["task_id"] == task.task_id
    assert built["task_status"] == "succeed"
    element = SimElement.objects.get(task_id=task.task_id)
    assert built["task_result"]["elements"][0]["element_id"] == element.element_id
    assert submitted["task_result"] == {}
    # What the client reads from a callback is what a query answers.
    assert parse_element_task(built).element_id == kling.get_element(task.task_id).element_id
    assert sim.deliver_callbacks() == 0  # each sent once


def test_an_element_without_a_callback_url_is_not_called_back(sim):
    sim.client().create_element(ELEMENT_BODY)
    sim.finish()
    assert sim.deliver_callbacks() == 0 and sim.received == []


def _omni_image(kling, element_ids: list) -> TaskStatus:
    from generations.providers.base import GenerationRequest

    body = {
        "model_name": "kling-image-o1",
        "prompt": "<<<element_1>>> in the rain",
        "element_list": [{"element_id": element_id} for element_id in element_ids],
    }
    return kling.submit(GenerationRequest("images/omni-image", body, external_task_id=f"e-{element_ids}"))


def test_a_create_may_name_only_the_callers_own_built_elements(sim, alice):
    kling = sim.client()
    mine = _ready_subject(sim, alice)
    assert _omni_image(kling, [mine.element_id]).status == TaskStatus.SUBMITTED
    # Kling takes the id as a string or a number.
    assert _omni_image(kling, [int(mine.element_id)]).status == TaskStatus.SUBMITTED

    theirs = SimElement.objects.create(
        task_id="900000000000000001",
        element_id=123456789012,
        created_by="ak:another-account",
        element_name="Rex",
        element_description="A dog",
        reference_type="image_refer",
        created_ms=0,
        finish_ms=0,
    )
    gone = _ready_subject(sim, alice, "Old")
    services.delete_subject(alice, gone.pk)
    building = kling.create_element(ELEMENT_BODY)
    building_id = SimElement.objects.get(task_id=building.task_id).element_id
    for element_id in (theirs.element_id, building_id, gone.element_id, 999):
        with pytest.raises(ProviderError) as caught:
            _omni_image(kling, [mine.element_id, element_id])
        assert (caught.value.provider_code, caught.value.http_status) == (1201, 400)
        assert f"element_id {element_id} not found" in caught.value.detail
        assert not caught.value.may_have_created
    for bad in ("mia", None, True):
        with pytest.raises(ProviderError) as caught:
            _omni_image(kling, [bad])
        assert caught.value.provider_code == 1201
        assert "element_list[0].element_id must be an element id" in caught.value.detail
