"""The simulator is no way out of the site: it calls back only URLs under SITE_URL, never
fetches what a request names, and each key sees only the tasks it created."""

import pytest
import requests

from generations.providers.base import GenerationRequest
from generations.simulator.models import SimCallback, SimTask

T2V = "/_sim/kling/v1/videos/text2video"
I2V = "/_sim/kling/v1/videos/image2video"
BODY = {"model_name": "kling-v2-6", "prompt": "a heron in the reeds"}


@pytest.fixture
def outbound(monkeypatch):
    """Every HTTP request the process tries to make (none gets through)."""
    import urllib.request

    attempts = []

    def refuse(session, request, **kwargs):
        attempts.append(request.url)
        raise requests.ConnectionError(f"test: no outbound request to {request.url}")

    monkeypatch.setattr(requests.Session, "send", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **k: attempts.append(str(url)))
    return attempts


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://localhost/callbacks/kling/1/t/",
        "https://testserver/callbacks/kling/1/t/",  # another scheme
        "http://testserver:8080/callbacks/kling/1/t/",  # another port
        "http://testserver.evil.example/callbacks/kling/1/t/",
        "http://testserver@evil.example/callbacks/kling/1/t/",
        "http://evil.example/?next=http://testserver/",
        "http://testserver\\@evil.example/",
        "http://testserver/callbacks/\nHost: evil.example",
    ],
)
def test_it_refuses_a_callback_url_outside_the_site(post, url):
    status, body = post(T2V, {**BODY, "callback_url": url})
    assert (status, body["code"]) == (400, 1201)
    assert body["message"] == (
        "callback_url must be under http://testserver/: the simulator only calls back this site"
    )
    assert not SimTask.objects.exists()


@pytest.mark.parametrize("url", ["http://testserver/callbacks/kling/1/t/", "http://TESTSERVER:80/x"])
def test_it_accepts_a_callback_url_under_the_site(post, url):
    status, body = post(T2V, {**BODY, "callback_url": url})
    assert (status, body["code"]) == (200, 0)
    assert SimTask.objects.get().callback_url == url


def test_a_site_under_a_path_is_called_back_only_below_that_path(post, settings):
    settings.SITE_URL = "http://testserver/studio"
    assert post(T2V, {**BODY, "callback_url": "http://testserver/admin/"})[0] == 400
    assert post(T2V, {**BODY, "callback_url": "http://testserver/studioX/cb"})[0] == 400
    assert post(T2V, {**BODY, "callback_url": "http://testserver/studio/../admin/"})[0] == 400
    assert post(T2V, {**BODY, "callback_url": "http://testserver/studio/callbacks/kling/1/t/"})[0] == 200


def test_it_never_sends_a_stored_callback_outside_the_site(post, sim, outbound):
    assert post(T2V, {**BODY, "callback_url": "http://testserver/callbacks/kling/1/t/"})[0] == 200
    # A row stored before SITE_URL changed, or written by hand: it is still never sent.
    SimTask.objects.update(callback_url="http://10.0.0.7/hook")
    assert sim.deliver_callbacks() == 0
    assert outbound == []
    callback = SimCallback.objects.get(status="submitted")  # the only one due yet
    assert callback.done and callback.attempts == 0
    assert callback.last_error == "not sent: callback_url is not under http://testserver/"


def test_it_never_fetches_an_image_url(post, outbound):
    status, body = post(
        I2V, {**BODY, "image": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}
    )
    assert (status, body["code"]) == (200, 0)
    assert outbound == []


# --- One key, one account ------------------------------------------------------------------


@pytest.fixture
def keys(sim, settings):
    settings.SIMULATOR_API_KEYS = ["sk-alpha-account", "sk-beta-account"]
    return {
        "alpha": {"Authorization": "Bearer sk-alpha-account"},
        "beta": {"Authorization": "Bearer sk-beta-account"},
    }


def test_tasks_of_one_key_are_invisible_to_another(client, keys, auth):
    created = client.post(
        T2V, {**BODY, "external_task_id": "job-1"}, content_type="application/json", headers=keys["alpha"]
    ).json()["data"]
    task_id = created["task_id"]

    def get(path, headers):
        return client.get(path, headers=headers)

    assert get(f"{T2V}/{task_id}", keys["alpha"]).json()["data"]["task_id"] == task_id
    assert get(f"{T2V}/job-1", keys["alpha"]).json()["data"]["task_id"] == task_id
    assert [t["task_id"] for t in get(T2V, keys["alpha"]).json()["data"]] == [task_id]
    for other in (keys["beta"], auth):  # another API key, and the JWT of the access key
        for path in (f"{T2V}/{task_id}", f"{T2V}/job-1"):
            response = get(path, other)
            assert (response.status_code, response.json()["code"]) == (404, 1203)
        assert get(T2V, other).json()["data"] == []
    assert SimTask.objects.get().created_by.startswith("key:")
    assert "sk-alpha-account" not in SimTask.objects.get().created_by  # a digest, not the key


def test_each_key_has_its_own_external_ids_and_concurrency(client, keys, sim):
    sim.set_faults(concurrency_limit=1)

    def create(who):
        return client.post(
            T2V, {**BODY, "external_task_id": "same"}, content_type="application/json", headers=keys[who]
        )

    assert create("alpha").json()["code"] == 0
    # Alpha's task in flight neither blocks beta (1303) nor reveals itself (external id in use).
    assert create("beta").json()["code"] == 0
    assert create("alpha").json()["code"] == 1303
    alpha, beta = (
        client.get(f"{T2V}/same", headers=keys[who]).json()["data"]["task_id"] for who in ("alpha", "beta")
    )
    assert alpha != beta


def test_the_site_s_own_client_finds_its_tasks(sim):
    client = sim.client()
    task = client.submit(
        GenerationRequest("videos/text2video", BODY, external_task_id="ours", callback_url=sim.receiver_url())
    )
    assert SimTask.objects.get().created_by == sim.owner()
    assert client.find_by_external_id("videos/text2video", "ours").task_id == task.task_id
