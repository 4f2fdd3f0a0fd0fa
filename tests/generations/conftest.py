"""Fixtures for generations: the fake provider and limiter (patched in at our own seams,
`generations.providers.get_provider` and `generations.limiter`), django-q2 in sync mode,
a fake CDN serving a real PNG and a real H.264 MP4, and people with credits."""

from __future__ import annotations

import io
import re

import django_q.conf
import imageio_ffmpeg
import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from tests.generations.fakes import MEDIA_BASE, FakeProvider, MemoryLimiter


@pytest.fixture(autouse=True)
def _default_prices(request, django_db_blocker):
    """Put back the default prices when an earlier transactional test flushed them.

    The rows come from a data migration, and `transaction=True` tests (here and in other
    folders) empty every table when they finish. Written outside the test's transaction,
    so they stay until the next flush.
    """
    if request.node.get_closest_marker("django_db") is None and not {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        return
    from generations.models import Price
    from generations.pricing import default_price_rows

    with django_db_blocker.unblock():
        if not Price.objects.exists():
            Price.objects.bulk_create(Price(**row) for row in default_price_rows())


def make_image(width: int = 640, height: int = 400, fmt: str = "PNG", color=(40, 120, 200)) -> bytes:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):  # a little structure, so thumbnails are not blank
        for y in range(height):
            image.putpixel((x, y), (250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def upload(name: str = "frame.png", **kwargs) -> SimpleUploadedFile:
    fmt = kwargs.pop("fmt", "PNG")
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}.get(
        fmt, "application/octet-stream"
    )
    return SimpleUploadedFile(name, make_image(fmt=fmt, **kwargs), content_type=content_type)


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return make_image(800, 450)


@pytest.fixture(scope="session")
def mp4_bytes(tmp_path_factory) -> bytes:
    """Two seconds of real H.264 (yuv420p) from imageio-ffmpeg's own ffmpeg."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(
        str(path), (320, 180), fps=10, macro_block_size=4, output_params=["-movflags", "+faststart"]
    )
    writer.send(None)
    for i in range(20):
        frame = Image.new("RGB", (320, 180), (10 * i, 80, 255 - 10 * i))
        writer.send(frame.tobytes())
    writer.close()
    return path.read_bytes()


@pytest.fixture(autouse=True)
def fake(monkeypatch) -> FakeProvider:
    provider = FakeProvider()
    monkeypatch.setattr("generations.providers.get_provider", lambda: provider)
    return provider


@pytest.fixture(autouse=True)
def slots(monkeypatch) -> MemoryLimiter:
    limiter = MemoryLimiter()
    monkeypatch.setattr("generations.limiter.try_acquire_slot", limiter.try_acquire_slot)
    monkeypatch.setattr("generations.limiter.release_slot", limiter.release_slot)
    monkeypatch.setattr("generations.limiter.release_slots", limiter.release_slots)
    monkeypatch.setattr("generations.limiter.free_slots", limiter.free_slots)
    monkeypatch.setattr("generations.limiter.try_take_request", limiter.try_take_request)
    return limiter


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch) -> None:
    # Tasks enqueued on commit run inline, and their exceptions reach the test.
    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def cdn(png_bytes, mp4_bytes):
    """The fake Kling CDN: `.png` and `.mp4` paths under MEDIA_BASE serve real files.
    Any other outgoing HTTP request fails the test (responses blocks it)."""

    def serve(request):
        if request.url.endswith(".mp4"):
            return 200, {"Content-Type": "video/mp4"}, mp4_bytes
        return 200, {"Content-Type": "image/png"}, png_bytes

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, re.compile(re.escape(MEDIA_BASE) + r"/.*"), callback=serve)
        yield mock


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """`with commit(): ...` runs what the block enqueues on commit (tasks, inline)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def rich_alice(alice):
    ledger.grant(alice, 1000, key="test:grant:alice")
    return alice


@pytest.fixture
def rich_bob(bob):
    ledger.grant(bob, 1000, key="test:grant:bob")
    return bob


VIDEO = {
    "model_name": "kling-v2-6",
    "prompt": "A red fox trotting through fresh snow at dawn",
    "negative_prompt": "",
    "mode": "pro",
    "duration": 5,
    "aspect_ratio": "16:9",
    "sound": False,
}
IMAGE = {
    "model_name": "kling-v2-1",
    "prompt": "A lighthouse on a cliff in a storm, oil painting",
    "negative_prompt": "",
    "n": 2,
    "aspect_ratio": "1:1",
    "resolution": "1k",
}


def in_flight_at_provider(fake, owner, count: int, *, submitted_from, spacing, deadline_at) -> list[str]:
    """`count` text-to-video generations already at the fake provider (processing), one
    submitted every `spacing` from `submitted_from`, each first due 12 s after its submit.
    Returns their task ids, oldest first."""
    from datetime import timedelta

    from generations.models import Generation, Status
    from tests.generations.fakes import FakeTask

    rows = []
    for i in range(count):
        serial = fake._serial = fake._serial + 1
        fake.tasks[str(serial)] = FakeTask(
            task_id=str(serial), product="videos/text2video", external_id="", params={}, serial=serial
        )
        submitted = submitted_from + spacing * i
        rows.append(
            Generation(
                owner=owner,
                kind="text2video",
                provider="fake",
                model_name="kling-v2-6",
                prompt=f"a fox {i}",
                cost=0,
                product="videos/text2video",
                status=Status.PROCESSING,
                task_id=str(serial),
                submitted_at=submitted,
                due_at=submitted + timedelta(seconds=12),
                deadline_at=deadline_at,
            )
        )
    Generation.objects.bulk_create(rows, batch_size=500)
    return [row.task_id for row in rows]


def cleaned(kind: str, **overrides) -> dict:
    """What a create form's cleaned_data looks like for each kind."""
    if kind == "text2image":
        data = dict(IMAGE)
    elif kind == "image2video":
        data = {k: v for k, v in VIDEO.items() if k != "aspect_ratio"}
        data["image"] = upload()
    else:
        data = dict(VIDEO)
    data.update(overrides)
    return data


@pytest.fixture
def clock():
    """Real time that tests can move forward: `clock.shift(timedelta(seconds=30))`."""
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=True) as traveller:
        yield traveller
