"""Helpers for driving the site's pipeline against the in-process simulator and checking
that each generation ended right (money, provider jobs, results, limiter)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from billing import ledger
from billing.models import LedgerEntry
from generations import follow
from generations.models import IMAGE_KINDS, Asset, Generation, LimiterSlot, Status
from generations.simulator.models import SimTask

SLUGS = {"text2image": "text-to-image", "text2video": "text-to-video", "image2video": "image-to-video"}
START_FRAME_URL = "https://cdn.example.org/frames/start.png"


def png(width: int = 800, height: int = 450) -> bytes:
    image = Image.new("RGB", (width, height), (40, 120, 200))
    for x in range(0, width, 40):
        for y in range(height):
            image.putpixel((x, y), (250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def form(kind: str, prompt: str = "", *, by_url: bool = False, token: str = "") -> dict:
    if kind == "text2image":
        data = {
            "model_name": "kling-v2-1",
            "prompt": prompt or "A lighthouse on a cliff in a storm, oil painting",
            "n": "4",
            "aspect_ratio": "1:1",
            "resolution": "1k",
        }
    else:
        data = {
            "model_name": "kling-v2-6",
            "prompt": prompt or "A red fox trotting through fresh snow at dawn",
            "mode": "pro",
            "duration": "5",
            "sound": "on",
        }
        if kind == "text2video":
            data["aspect_ratio"] = "9:16"
        elif by_url:
            data["image_url"] = START_FRAME_URL
        else:
            data["image"] = SimpleUploadedFile("start.png", png(), content_type="image/png")
    data["client_token"] = token or f"tok-{kind}-{prompt[:30]}-{by_url}"
    return data


def create(client, commit, kind: str, prompt: str = "", *, by_url: bool = False) -> Generation:
    """Create through the page; the submit task runs inline on commit (django-q2 sync)."""
    with commit(execute=True):
        response = client.post(f"/generate/{SLUGS[kind]}/", form(kind, prompt, by_url=by_url))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))


def settled(generation: Generation) -> bool:
    generation.refresh_from_db()
    if generation.status == Status.FAILED:
        return True
    return generation.status == Status.SUCCEEDED and generation.assets_saved_at is not None


def drive(
    sim, commit, generation: Generation, *, callbacks: bool, sweep: bool = True, steps: int = 40
) -> int:
    """Let simulated time pass in GENERATION_POLL_SECONDS steps, delivering due callbacks
    and/or running the poll sweep each step, until the generation has settled. Returns the
    number of steps it took."""
    for step in range(1, steps + 1):
        sim.advance(follow.poll_base_seconds())
        with commit(execute=True):
            if callbacks:
                sim.deliver_callbacks()
            if sweep:
                follow.sweep()
        if settled(generation):
            return step
    raise AssertionError(f"generation {generation.pk} did not settle: {generation.status}")


def sim_tasks(generation: Generation):
    return SimTask.objects.filter(external_task_id=str(generation.external_task_id))


def entries(generation: Generation, kind: str) -> int:
    return LedgerEntry.objects.filter(generation=generation, kind=kind).count()


def assert_ended_right(
    generation: Generation, *, outcome: str, provider_jobs: int = 1, images: int = 0
) -> None:
    """The invariants of every scenario: one provider job at most, one charge, a refund
    exactly when failed (with a plain message), results stored when succeeded, the
    limiter slot free, and the ledger consistent."""
    generation.refresh_from_db()
    assert generation.status == outcome, (
        generation.status,
        generation.error_code,
        generation.provider_message,
    )
    assert sim_tasks(generation).count() == provider_jobs
    if provider_jobs:
        assert sim_tasks(generation).get().task_id == generation.task_id
    assert entries(generation, LedgerEntry.Kind.CHARGE) == 1
    if outcome == Status.FAILED:
        assert entries(generation, LedgerEntry.Kind.REFUND) == 1
        refund = LedgerEntry.objects.get(generation=generation, kind=LedgerEntry.Kind.REFUND)
        assert refund.amount == generation.cost
        assert generation.error_message and "Kling" in generation.error_message
        assert not generation.assets.exists()
    else:
        assert entries(generation, LedgerEntry.Kind.REFUND) == 0
        assert generation.assets_saved_at is not None and not generation.fetch_error
        assets = list(generation.assets.order_by("index"))
        expected = images if generation.kind in IMAGE_KINDS else 1
        assert len(assets) == expected
        for asset in assets:
            with asset.file.open("rb") as f:
                head = f.read(16)
            assert asset.size == asset.file.size > 0
            assert asset.thumbnail.storage.exists(asset.thumbnail.name)
            if generation.is_video:
                assert asset.kind == Asset.Kind.VIDEO and asset.content_type == "video/mp4"
                assert head[4:8] == b"ftyp"
                assert asset.duration and asset.width and asset.height
            else:
                assert asset.kind == Asset.Kind.IMAGE and asset.content_type == "image/png"
                assert head.startswith(b"\x89PNG")
        if generation.kind in IMAGE_KINDS:
            assert sorted(a.index for a in assets) == list(range(images))
    assert not LimiterSlot.objects.filter(generation_id=generation.pk).exists()
    assert ledger.find_drifts() == []


def poll_seconds() -> int:
    return settings.GENERATION_POLL_SECONDS


def post_page(client, commit, slug: str, data: dict):
    """POST a create page with its on-commit tasks run."""
    with commit(execute=True):
        return client.post(f"/generate/{slug}/", data)


def created(response) -> Generation:
    """The generation a create page redirected to."""
    assert response.status_code == 302, response.content.decode()[:3000]
    return Generation.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))
