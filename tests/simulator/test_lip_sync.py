"""Lip-sync through the whole pipeline against the simulator: identify-face on an upload
or on one's own finished video (answered at once, the faces shown to choose from), then
advanced-lip-sync with an uploaded sound or one's own finished sound; the timing and
volume limits refused before any charge; each person sees only their own sessions."""

import pytest

from billing import ledger
from generations import follow, uploads
from generations.models import Asset, FaceSession, Generation, InputFile, Status
from generations.providers.kling import legacy_body
from generations.simulator.models import SimTask
from tests.media_files import audio_upload, video_upload
from tests.simulator.pipeline import drive, settled

IDENTIFY = "/_sim/kling/v1/videos/identify-face"
LIP_SYNC = "/_sim/kling/v1/videos/advanced-lip-sync"


@pytest.fixture
def pipeline(kling_simulator, monkeypatch, alice):
    import django_q.conf

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 500, key="pipeline:grant")
    return kling_simulator


def _find_faces(client, **data) -> FaceSession:
    response = client.post("/generate/lip-sync/faces/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    session_id = response["Location"].split("session_id=")[1]
    return FaceSession.objects.get(session_id=session_id)


def _lip_sync_form(session: FaceSession, **changes) -> dict:
    data = {
        "model_name": "kling-lip-sync",
        "session_id": session.session_id,
        "face_id": "0",
        "sound_file": audio_upload(seconds=3),
        "sound_start_time": "0",
        "sound_end_time": "",
        "sound_insert_time": "",
        "sound_volume": "1",
        "original_audio_volume": "0.5",
        "client_token": f"ls-{sorted((k, str(v)) for k, v in changes.items())}",
    }
    data.update(changes)
    return data


def _create(client, commit, data) -> Generation:
    with commit(execute=True):
        response = client.post("/generate/lip-sync/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def _settle(pipeline, commit, generation, by_callbacks):
    if by_callbacks:
        pipeline.finish()
        with commit(execute=True):
            pipeline.deliver_callbacks()
        assert settled(generation)
    else:
        drive(pipeline, commit, generation, callbacks=False)


@pytest.mark.parametrize("by_callbacks", [True, False], ids=["callbacks", "polling"])
def test_it_lip_syncs_an_uploaded_video_end_to_end(
    by_callbacks, pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    if not by_callbacks:
        pipeline.set_faults(rate_callback_lost=1)
    session = _find_faces(alice_client, video_url=video_upload(seconds=6, width=640, height=512))
    # Two faces: one through the whole 6 s video, one in its second half (times in ms).
    assert [(f["face_id"], f["start_time"]) for f in session.faces] == [("0", 0), ("1", 3000)]
    assert session.faces[0]["end_time"] >= 5900 and session.units == "0.05" and session.video
    page = alice_client.get(f"/generate/lip-sync/?session_id={session.session_id}").content.decode()
    assert 'id="faces"' in page and f"/faces/{session.pk}/1/picture/" in page
    assert session.faces[1]["face_image"] not in page  # our copy, not Kling's link
    assert 'id="price-credits">11<' in page  # 6 s: two 5 s blocks (1 unit) + face detection (0.05)

    generation = _create(alice_client, commit, _lip_sync_form(session))
    assert generation.cost == 11 and generation.duration == 10
    [face] = generation.params["face_choose"]
    assert generation.params["session_id"] == session.session_id
    assert face["face_id"] == "0" and face["sound_insert_time"] == 0 and face["sound_end_time"] >= 2900
    assert (face["sound_volume"], face["original_audio_volume"]) == (1.0, 0.5)
    body = legacy_body(follow.build_request(generation))
    assert "sound_file" not in body and "model_name" not in body
    assert body["face_choose"][0]["sound_file"].startswith("http://testserver/inputs/")
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    assert task.product == "videos/advanced-lip-sync" and abs(float(task.duration) - 6) < 0.2
    _settle(pipeline, commit, generation, by_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    video = generation.assets.get()
    assert abs(uploads.probe_path(video.file.path).duration - 6) < 0.3
    detail = alice_client.get(generation.get_absolute_url()).content.decode()
    assert 'id="lip-sync-face"' in detail and "<audio controls" in detail
    assert f"/faces/{session.pk}/0/picture/" in detail
    assert ledger.balance_of(alice) == 500 - 11


def test_it_lip_syncs_ones_own_video_with_ones_own_sound(
    pipeline, alice, alice_client, django_capture_on_commit_callbacks
):
    commit = django_capture_on_commit_callbacks
    source = _create_kind(
        alice_client,
        commit,
        "text-to-video",
        {
            "model_name": "kling-v2-6",
            "prompt": "A fox",
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
        },
    )
    sound = _create_kind(
        alice_client,
        commit,
        "text-to-audio",
        {"model_name": "kling-audio", "prompt": "Hello", "duration": "4"},
    )
    for generation in (source, sound):
        _settle(pipeline, commit, generation, True)
    video = source.assets.get()
    Asset.objects.filter(pk=video.pk).update(duration=5.0)
    audio = sound.assets.filter(kind=Asset.Kind.AUDIO).first()
    detail = alice_client.get(source.get_absolute_url()).content.decode()
    assert f"/generate/lip-sync/?video_id={video.video_id}" in detail
    page = alice_client.get(f"/generate/lip-sync/?video_id={video.video_id}").content.decode()
    assert f'value="{video.video_id}" selected' in page
    session = _find_faces(alice_client, video_id=video.video_id)
    assert session.video_id == video.video_id and not session.video
    page = alice_client.get(f"/generate/lip-sync/?session_id={session.session_id}").content.decode()
    assert f'value="{audio.pk}"' in page  # the finished sound is offered
    data = _lip_sync_form(session, sound_file="", sound_from=str(audio.pk), face_id="1")
    data["sound_insert_time"] = "2000"  # face 1 speaks from 2.5 s: 2.5 s of overlap
    data["sound_end_time"] = "3000"
    generation = _create(alice_client, commit, data)
    given = InputFile.objects.get(generation=generation)
    assert given.field == "sound_file" and given.is_audio
    _settle(pipeline, commit, generation, True)
    task = SimTask.objects.get(external_task_id=str(generation.external_task_id))
    answer = pipeline.client().get("videos/advanced-lip-sync", task.task_id).raw
    assert answer["task_info"]["parent_video"]["id"] == video.video_id


def _create_kind(client, commit, slug, data) -> Generation:
    with commit(execute=True):
        response = client.post(f"/generate/{slug}/", {**data, "client_token": slug})
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


@pytest.fixture
def session(pipeline, alice_client):
    return _find_faces(alice_client, video_url=video_upload(seconds=6, width=640, height=512))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sound_end_time": "1500"}, "at least 2 s"),
        ({"sound_end_time": "9000"}, "the end cannot be later"),
        ({"sound_insert_time": "5000", "sound_end_time": "2500"}, "after the video&#x27;s end"),
        ({"face_id": "1", "sound_insert_time": "0", "sound_end_time": "2500"}, "by at least 2 s"),
        ({"sound_volume": "2.5"}, "less than or equal to 2"),
        ({"original_audio_volume": "-1"}, "greater than or equal to 0"),
        ({"sound_start_time": "-5"}, "greater than or equal to 0"),
        ({"sound_file": "", "sound_from": ""}, "Upload the sound to speak"),
        ({"face_id": "7"}, "Choose the face that speaks"),
        ({"session_id": "nope"}, "Find the faces in one of your videos first"),
    ],
)
def test_it_refuses_bad_lip_sync_input_before_charging(session, alice, alice_client, changes, message):
    response = alice_client.post("/generate/lip-sync/", _lip_sync_form(session, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Generation.objects.exists() and ledger.balance_of(alice) == 500


def test_it_refuses_a_sound_too_short_before_charging(session, alice, alice_client):
    response = alice_client.post(
        "/generate/lip-sync/", _lip_sync_form(session, sound_file=audio_upload(seconds=1))
    )
    assert "2 s" in response.content.decode() and not Generation.objects.exists()


def test_a_face_session_is_its_owners_only(session, bob, client):
    client.force_login(bob)
    ledger.grant(bob, 100, key="bob:grant")
    page = client.get(f"/generate/lip-sync/?session_id={session.session_id}").content.decode()
    assert 'id="faces"' not in page and 'id="no-faces"' in page
    response = client.post("/generate/lip-sync/", _lip_sync_form(session))
    assert response.status_code == 200 and not Generation.objects.exists()
    assert ledger.balance_of(bob) == 100


def test_it_refuses_someone_elses_video_and_a_too_short_upload(pipeline, alice_client):
    response = alice_client.post("/generate/lip-sync/faces/", {"video_id": "12340"})
    assert response.status_code == 400 and not FaceSession.objects.exists()
    response = alice_client.post(
        "/generate/lip-sync/faces/", {"video_url": video_upload(seconds=1.5, width=640, height=512)}
    )
    assert response.status_code == 400 and "2" in response.content.decode()
    response = alice_client.post(
        "/generate/lip-sync/faces/", {"video_url": video_upload(seconds=3, width=480, height=360)}
    )
    assert response.status_code == 400 and "512" in response.content.decode()
    assert not FaceSession.objects.exists()


def test_face_video_urls_are_signed_and_expire(session, client, settings):
    from django.core import signing

    from generations import inputs

    url = inputs.signed_face_video_url(session).removeprefix(settings.SITE_URL)
    assert client.get(url).status_code == 200
    assert client.get(url.replace("/inputs/faces/", "/inputs/faces/x")).status_code == 404
    token = url.split("/")[3]
    forged = signing.dumps([session.owner_id + 1, session.pk], salt=inputs.FACE_SALT)
    assert client.get(url.replace(token, forged)).status_code == 404
    assert inputs.resolve_face_video(token, max_age=60) is not None
    with pytest.raises(inputs.Expired):
        inputs.resolve_face_video(token, max_age=-1)


# --- the simulator's contract ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "exactly one of video_id and video_url"),
        ({"video_id": "1", "video_url": "https://x/v.mp4"}, "exactly one of"),
        ({"video_id": "12340"}, "video_id 12340 not found"),
        ({"video_url": "ftp://x/v.mp4"}, "http(s) URL"),
    ],
)
def test_the_simulator_answers_bad_identify_face_fields_with_1201(post, body, message):
    status, answer = post(IDENTIFY, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"] and "data" not in answer


def test_the_simulator_identifies_faces_synchronously(post, sim):
    status, answer = post(IDENTIFY, {"video_url": "https://cdn.example.org/clip.mp4"})
    assert status == 200 and answer["code"] == 0
    data = answer["data"]
    assert set(data) == {"session_id", "final_unit_deduction", "face_data"}
    assert data["final_unit_deduction"] == "0.05"
    # An unfetched URL is taken as 5 s: two faces, times in ms.
    assert [(f["face_id"], f["start_time"], f["end_time"]) for f in data["face_data"]] == [
        ("0", 0, 5000),
        ("1", 2500, 5000),
    ]
    assert all(f["face_image"].startswith("http://testserver/_sim/kling/cdn/") for f in data["face_data"])


def _good_face(**changes) -> dict:
    face = {
        "face_id": "0",
        "sound_file": "https://cdn.example.org/voice.mp3",  # not fetched: taken as 5 s
        "sound_start_time": 0,
        "sound_end_time": 3000,
        "sound_insert_time": 0,
        "sound_volume": 1,
        "original_audio_volume": 1,
    }
    face.update(changes)
    return face


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"session_id": ""}, "session_id is required"),
        ({"session_id": "123"}, "session_id 123 not found"),
        ({"face_choose": []}, "exactly one face"),
        ({"face_choose": [_good_face(), _good_face()]}, "exactly one face"),
        ({"face_choose": [_good_face(face_id="9")]}, "face_id 9 not found"),
        ({"face_choose": [_good_face(sound_file="")]}, "exactly one of audio_id and sound_file"),
        ({"face_choose": [_good_face(audio_id="a")]}, "exactly one of audio_id and sound_file"),
        (
            {"face_choose": [_good_face(sound_start_time="0")]},
            "sound_start_time is required and must be an integer",
        ),
        ({"face_choose": [_good_face(sound_volume=2.5)]}, "sound_volume must be a number from 0 to 2"),
        ({"face_choose": [_good_face(sound_end_time=1500)]}, "at least 2 seconds"),
        ({"face_choose": [_good_face(sound_end_time=6000)]}, "later than the end of the audio"),
        ({"face_choose": [_good_face(sound_insert_time=3000)]}, "end within the video"),
        ({"face_choose": [_good_face(face_id="1", sound_end_time=2000)]}, "overlap"),
    ],
)
def test_the_simulator_answers_bad_lip_sync_fields_with_1201(post, sim, changes, message):
    status, answer = post(IDENTIFY, {"video_url": "https://cdn.example.org/clip.mp4"})
    body = {"session_id": answer["data"]["session_id"], "face_choose": [_good_face()]}
    body.update(changes)
    status, answer = post(LIP_SYNC, body)
    assert (status, answer["code"]) == (400, 1201), answer
    assert message in answer["message"]


def test_the_simulator_makes_a_lip_sync_task_of_the_videos_length(post, sim, client, auth):
    status, answer = post(IDENTIFY, {"video_url": "https://cdn.example.org/clip.mp4"})
    session_id = answer["data"]["session_id"]
    status, answer = post(LIP_SYNC, {"session_id": session_id, "face_choose": [_good_face()]})
    assert status == 200, answer
    task = SimTask.objects.get(task_id=answer["data"]["task_id"])
    assert (task.product, task.duration, str(task.units)) == ("videos/advanced-lip-sync", "5", "0.500")
    listed = client.get(LIP_SYNC, headers=auth).json()["data"]
    assert [t["task_id"] for t in listed] == [task.task_id]
    # Another key sees neither the session nor the task.
    assert SimTask.objects.get(task_id=session_id).created_by == task.created_by


def test_it_keeps_its_own_copy_of_the_face_pictures(pipeline, alice_client, bob, monkeypatch):
    session = _find_faces(alice_client, video_url=video_upload(seconds=6, width=640, height=512))
    for face in session.faces:
        assert face["picture"] and face["picture_type"] == "image/jpeg"
        served = pipeline.download(face["face_image"]).content
        response = alice_client.get(f"/faces/{session.pk}/{face['face_id']}/picture/")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content) == served
    alice_client.force_login(bob)
    assert alice_client.get(f"/faces/{session.pk}/0/picture/").status_code == 404


def test_a_face_whose_picture_cannot_be_copied_is_offered_without_it(pipeline, alice_client, monkeypatch):
    from generations import media

    def refuse(url, kind, *, deadline=None):
        raise media.MediaError("the media host answered HTTP 404")

    monkeypatch.setattr(media, "download", refuse)
    session = _find_faces(alice_client, video_url=video_upload(seconds=6, width=640, height=512))
    assert not any(face.get("picture") for face in session.faces)
    page = alice_client.get(f"/generate/lip-sync/?session_id={session.session_id}").content.decode()
    assert 'name="face_id" value="1"' in page and "/picture/" not in page
    assert session.faces[0]["face_image"] not in page
    assert alice_client.get(f"/faces/{session.pk}/0/picture/").status_code == 404
