"""Lip-sync over the API: find the faces (POST /api/v1/faces, answered at once), then
create a `lip_sync` generation with the session and a face; another key cannot use the
session."""

import base64

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing import ledger
from generations.models import FaceSession, Generation
from tests.api.conftest import bearer
from tests.media_files import audio_bytes, video_bytes


@pytest.fixture
def funded(kling_simulator, alice):
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 200, key="api-lip-sync:grant")
    return kling_simulator


def _faces(api) -> dict:
    video = base64.b64encode(video_bytes(seconds=5, width=640, height=512)).decode()
    response = api.post(reverse("api:faces"), {"video_url": video}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_finds_faces_then_lip_syncs_over_the_api(funded, api, alice, django_capture_on_commit_callbacks):
    found = _faces(api)
    assert [f["face_id"] for f in found["faces"]] == ["0", "1"] and found["video_seconds"] > 4.9
    body = {
        "kind": "lip_sync",
        "session_id": found["session_id"],
        "face_id": "0",
        "sound_file": base64.b64encode(audio_bytes(seconds=3)).decode(),
        "sound_start_time": 0,
        "sound_volume": 1,
        "original_audio_volume": 1,
    }
    assert api.post(reverse("api:quote"), body, format="json").json()["credits"] == 6
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 201, response.json()
    generation = Generation.objects.get(owner=alice)
    assert generation.kind == "lip_sync" and generation.cost == 6
    assert generation.params["face_choose"][0]["face_id"] == "0"


def test_the_api_refuses_bad_face_requests(funded, api):
    assert api.post(reverse("api:faces"), {}, format="json").status_code == 400
    answer = api.post(reverse("api:faces"), {"video_id": "12340"}, format="json")
    assert answer.status_code == 400 and "video_id" in answer.json()["details"]


def test_another_key_cannot_use_a_face_session(funded, api, bob):
    from accounts import api_keys

    found = _faces(api)
    _, raw = api_keys.create_key(bob, "bob")
    ledger.grant(bob, 100, key="bob:grant")
    other = bearer(raw)
    body = {
        "kind": "lip_sync",
        "session_id": found["session_id"],
        "face_id": "0",
        "sound_file": base64.b64encode(audio_bytes(seconds=3)).decode(),
        "sound_start_time": 0,
        "sound_volume": 1,
        "original_audio_volume": 1,
    }
    response = other.post(reverse("api:generations"), body, format="json")
    assert response.status_code == 400 and not Generation.objects.exists()
    assert FaceSession.objects.get().owner.email == "alice@example.org"


def test_face_images_are_our_copies_fetched_with_the_key(funded, api, bob):
    from accounts import api_keys

    found = _faces(api)
    session = FaceSession.objects.get()
    for face in found["faces"]:
        assert set(face) == {"face_id", "start_time", "end_time", "face_image"}
        kling_link = session.face(face["face_id"])["face_image"]
        assert face["face_image"] != kling_link
        assert face["face_image"] == "http://testserver" + reverse(
            "api:face_picture", args=[found["session_id"], face["face_id"]]
        )
        response = api.get(face["face_image"], HTTP_ACCEPT="image/*")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    # Without a key, with another person's key, or for a face that is not there: nothing.
    picture = found["faces"][0]["face_image"]
    assert APIClient().get(picture).status_code == 401
    _, raw = api_keys.create_key(bob, "bob")
    refused = bearer(raw).get(picture)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    missing = reverse("api:face_picture", args=[found["session_id"], "9"])
    assert api.get(missing).status_code == 404


def test_a_face_whose_copy_failed_has_no_image(funded, api, monkeypatch):
    from generations import media

    def refuse(url, kind, *, deadline=None):
        raise media.MediaError("the media host answered HTTP 404")

    monkeypatch.setattr(media, "download", refuse)
    found = _faces(api)
    assert [face["face_image"] for face in found["faces"]] == [None, None]
    picture = reverse("api:face_picture", args=[found["session_id"], "0"])
    assert api.get(picture).status_code == 404
