"""The official client against the in-process simulator: create, follow, list, look up, pay."""

import base64
import io
from decimal import Decimal

import pytest
from PIL import Image

from generations.providers.base import GenerationRequest, ProviderError, TaskStatus
from generations.providers.errors import CONTENT_REFUSED_MESSAGE, failed_task_user_message

T2V = "videos/text2video"


def _video(external_id="ext-1", **params):
    body = {"model_name": "kling-v2-6", "prompt": "a lighthouse in a storm", "mode": "std", "duration": "5"}
    return GenerationRequest(T2V, {**body, **params}, external_task_id=external_id)


def test_it_creates_a_task_with_an_18_digit_id(sim):
    task = sim.client().submit(_video())
    assert len(task.task_id) == 18 and task.task_id.isdigit()
    assert task.status == TaskStatus.SUBMITTED
    assert task.external_id == "ext-1"


def test_it_moves_through_submitted_processing_succeeded_as_time_passes(sim):
    client = sim.client()
    task = client.submit(_video())
    seen = [client.get(T2V, task.task_id)]
    sim.advance(1.2)
    seen.append(client.get(T2V, task.task_id))
    sim.advance(2.0)
    seen.append(client.get(T2V, task.task_id))

    assert [t.status for t in seen] == ["submitted", "processing", "succeeded"]
    assert seen[0].updated_at < seen[1].updated_at < seen[2].updated_at
    assert seen[2].created_at == task.created_at
    (video,) = seen[2].media
    assert video.kind == "video" and video.url.startswith("http://testserver/_sim/kling/cdn/")
    assert video.duration == 5.0
    assert video.cover_url.endswith(".jpg")
    assert seen[0].units_charged is None and seen[2].units_charged == Decimal("1.5")


def test_it_finds_a_task_by_external_id_only_at_its_own_product(sim):
    client = sim.client()
    task = client.submit(_video("job-9"))
    assert client.find_by_external_id(T2V, "job-9").task_id == task.task_id
    assert client.find_by_external_id(T2V, "job-unknown") is None
    assert client.find_by_external_id("videos/image2video", "job-9") is None
    with pytest.raises(ProviderError) as caught:
        client.get("videos/image2video", task.task_id)
    assert caught.value.code == "not_found"


def test_it_lists_newest_first_with_paging(sim):
    client = sim.client()
    ids = []
    for n in range(5):
        ids.append(client.submit(_video(f"list-{n}")).task_id)
        sim.advance(0.01)
    first = client.list_tasks(T2V, page=1, page_size=2)
    second = client.list_tasks(T2V, page=2, page_size=2)
    third = client.list_tasks(T2V, page=3, page_size=2)
    assert [t.task_id for t in first.tasks + second.tasks + third.tasks] == ids[::-1]
    assert client.list_tasks("images/generations").tasks == ()


def test_it_lists_five_hundred_tasks_in_one_call(sim):
    from generations.simulator.models import SimTask, now_ms

    client = sim.client()
    newest = client.submit(_video("newest"))
    start = now_ms() - 10_000
    SimTask.objects.bulk_create(
        SimTask(
            task_id=str(10**17 + n),
            created_by=sim.owner(),
            product=T2V,
            package="video",
            model_name="kling-v2-6",
            mode="std",
            duration="5",
            aspect_ratio="16:9",
            base_url=sim.base_url,
            created_ms=start + n,
            processing_ms=start + n,
            finish_ms=start + n,
            units=Decimal("1.5"),
        )
        for n in range(500)
    )
    page = client.list_tasks(T2V, page=1, page_size=500)
    assert len(page.tasks) == 500
    assert page.tasks[0].task_id == newest.task_id
    assert all(t.status == TaskStatus.SUCCEEDED for t in page.tasks[1:])
    assert [t.task_id for t in client.list_tasks(T2V, page=2, page_size=500).tasks] == [str(10**17)]


@pytest.mark.parametrize(
    ("params", "units"),
    [
        ({"model_name": "kling-v2-6", "mode": "std", "duration": "5"}, "1.5"),
        ({"model_name": "kling-v2-6", "mode": "pro", "duration": "10", "sound": "on"}, "10"),
        ({"model_name": "kling-v1-6", "mode": "pro", "duration": "5"}, "3.5"),
        ({"model_name": "kling-v2-master", "duration": "10"}, "20"),
        ({"model_name": "kling-v3", "mode": "std", "duration": "5"}, "3"),
        ({"model_name": "kling-v3", "mode": "pro", "duration": "7", "sound": "on"}, "8.4"),
    ],
)
def test_it_charges_klings_unit_prices(sim, params, units):
    client = sim.client()
    task = client.submit(_video(**params))
    sim.finish()
    assert client.get(T2V, task.task_id).units_charged == Decimal(units)


def test_it_makes_n_images_with_their_index_and_charges_per_image(sim):
    client = sim.client()
    task = client.submit(
        GenerationRequest(
            "images/generations", {"model_name": "kling-v3", "prompt": "a red fox", "n": 3}, "img-1"
        )
    )
    sim.finish()
    done = client.get("images/generations", task.task_id)
    assert [(m.kind, m.index) for m in done.media] == [("image", 0), ("image", 1), ("image", 2)]
    assert done.units_charged == Decimal("24")


def test_it_fails_a_task_on_request_with_the_content_safety_message(sim):
    client = sim.client()
    task = client.submit(_video(prompt="please [sim:fail] this"))
    sim.finish()
    done = client.get(T2V, task.task_id)
    assert done.status == TaskStatus.FAILED
    assert "risk control" in done.status_message
    assert failed_task_user_message(done.status_message, kind="text2video") == CONTENT_REFUSED_MESSAGE
    assert done.units_charged == Decimal("0")
    assert done.media == ()


def test_it_fails_a_too_small_image_after_accepting_it(sim):
    out = io.BytesIO()
    Image.new("RGB", (200, 120)).save(out, format="PNG")
    client = sim.client()
    task = client.submit(
        GenerationRequest(
            "videos/image2video",
            {"model_name": "kling-v2-1", "image": base64.b64encode(out.getvalue()).decode()},
            external_task_id="small",
        )
    )
    sim.finish()
    done = client.get("videos/image2video", task.task_id)
    assert (done.status, done.status_message) == (TaskStatus.FAILED, "Image pixel is invalid")


def test_it_answers_account_costs_double_wrapped_and_at_most_once_a_second(sim):
    client = sim.client()
    task = client.submit(_video(mode="pro"))
    sim.finish()
    client.get(T2V, task.task_id)
    video_pack = client.account_costs()[0]
    assert video_pack.total == 1000.0
    assert video_pack.remaining == 997.5
    assert video_pack.status == "online"
    with pytest.raises(ProviderError) as caught:
        client.account_costs()
    assert caught.value.code == "rate_limited"


def test_it_answers_1303_over_the_concurrency_limit_until_tasks_finish(sim):
    sim.set_faults(concurrency_limit=2)
    client = sim.client()
    client.submit(_video("a"))
    client.submit(_video("b"))
    with pytest.raises(ProviderError) as caught:
        client.submit(_video("c"))
    assert (caught.value.code, caught.value.provider_code, caught.value.http_status) == (
        "concurrency_limited",
        1303,
        429,
    )
    assert caught.value.retryable and not caught.value.may_have_created
    # Images count against their own package.
    client.submit(
        GenerationRequest("images/generations", {"model_name": "kling-v3", "prompt": "p", "n": 2}, "i")
    )
    sim.finish()
    assert client.submit(_video("c")).status == TaskStatus.SUBMITTED


def test_it_does_not_start_the_callback_thread_in_tests(sim):
    from generations.simulator import engine

    sim.client().submit(_video())
    assert engine._thread is None
