"""End to end over a real socket: the official client, the simulator in a live server, and
the callback thread a running web process starts."""

import time

import pytest

from generations.providers.base import GenerationRequest, ProviderError, TaskStatus

T2V = "videos/text2video"


@pytest.fixture
def live(kling_simulator_live):
    kling_simulator_live.set_timings(0.3, 0.5)
    return kling_simulator_live


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_it_creates_follows_lists_and_downloads_over_http(live):
    client = live.client()
    assert client.base_url.startswith("http://localhost:") or client.base_url.startswith("http://127.0.0.1:")
    task = client.submit(
        GenerationRequest(
            T2V,
            {"model_name": "kling-v2-6", "prompt": "a comet over mountains", "mode": "pro", "duration": "5"},
            external_task_id="live-1",
            callback_url=live.receiver_url("live"),
        )
    )
    live.start_callback_thread()

    assert _wait_for(lambda: client.get(T2V, task.task_id).status == TaskStatus.SUCCEEDED)
    done = client.get(T2V, task.task_id)
    assert client.find_by_external_id(T2V, "live-1").task_id == task.task_id
    assert [t.task_id for t in client.list_tasks(T2V, page=1, page_size=10).tasks] == [task.task_id]
    video = live.download(done.media[0].url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"

    # The callback thread delivers every status change on its own.
    assert _wait_for(lambda: len(live.received) >= 3)
    assert [r.json["task_status"] for r in live.received][:3] == ["submitted", "processing", "succeed"]


def test_it_times_out_for_real_and_the_task_exists(live):
    live.simulate_read_timeouts(client_timeout=0.2)
    with pytest.raises(ProviderError) as caught:
        live.client().submit(
            GenerationRequest(T2V, {"model_name": "kling-v2-6", "prompt": "p"}, external_task_id="slow")
        )
    assert (caught.value.code, caught.value.may_have_created) == ("timeout", True)
    live.simulate_read_timeouts(0)
    # The server may still be working when the client gives up: the task shows up shortly.
    assert _wait_for(lambda: live.client().find_by_external_id(T2V, "slow") is not None)
