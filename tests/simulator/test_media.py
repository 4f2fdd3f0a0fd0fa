"""Real result files: PNGs with the prompt in the requested aspect ratio and count, H.264
MP4s (yuv420p, faststart) as long as asked, with motion and a cover; CDN-like URLs that expire."""

import io

import imageio_ffmpeg
import pytest
from PIL import Image

from generations.providers.base import GenerationRequest
from generations.simulator import media


@pytest.fixture
def cache(settings, tmp_path):
    settings.SIMULATOR_CACHE_DIR = str(tmp_path / "sim-cache")
    return tmp_path / "sim-cache" / media.CACHE_VERSION


def _finished(sim, product, params, external_id="media"):
    client = sim.client()
    task = client.submit(GenerationRequest(product, params, external_task_id=external_id))
    sim.finish()
    return client.get(product, task.task_id)


def _video(sim, aspect_ratio="16:9", prompt="a paper boat on a river", external_id="video", duration="5"):
    params = {
        "model_name": "kling-v2-6",
        "prompt": prompt,
        "aspect_ratio": aspect_ratio,
        "duration": duration,
    }
    return _finished(sim, "videos/text2video", params, external_id)


def test_it_serves_pngs_in_the_requested_aspect_ratio_and_count(sim, cache):
    task = _finished(
        sim,
        "images/generations",
        {"model_name": "kling-v3", "prompt": "a red fox", "n": 2, "aspect_ratio": "9:16"},
    )
    downloads = [sim.download(m.url) for m in task.media]
    assert [d.status_code for d in downloads] == [200, 200]
    assert all(d.headers["Content-Type"] == "image/png" for d in downloads)
    images = [Image.open(io.BytesIO(d.content)) for d in downloads]
    assert all(img.format == "PNG" and img.size == (576, 1024) for img in images)
    assert downloads[0].content != downloads[1].content


@pytest.mark.parametrize(
    ("aspect_ratio", "size"), [("16:9", (480, 270)), ("9:16", (270, 480)), ("1:1", (360, 360))]
)
def test_it_serves_a_playable_h264_mp4_with_motion(sim, cache, tmp_path, aspect_ratio, size):
    task = _video(sim, aspect_ratio)
    response = sim.download(task.media[0].url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    path = tmp_path / "result.mp4"
    path.write_bytes(response.content)

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = list(reader)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert tuple(meta["size"]) == size
    assert 4.9 <= meta["duration"] <= 5.1  # as long as asked
    assert len(frames) >= 110
    assert frames[0] != frames[len(frames) // 2] != frames[-1]  # visible motion
    # +faststart: the index (moov) comes before the media data (mdat).
    assert response.content.index(b"moov") < response.content.index(b"mdat")


def test_a_ten_second_request_gets_a_ten_second_clip(sim, cache, tmp_path):
    # "Add sound" (3 s and more) and "Use as motion reference" follow the clip's length.
    path = tmp_path / "long.mp4"
    path.write_bytes(sim.download(_video(sim, duration="10").media[0].url).content)
    meta = next(imageio_ffmpeg.read_frames(str(path)))
    assert 9.9 <= meta["duration"] <= 10.1


def test_it_serves_a_cover_image(sim, cache):
    task = _video(sim)
    response = sim.download(task.media[0].cover_url)
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (480, 270)


def test_it_encodes_each_video_variant_once(sim, cache, monkeypatch):
    calls = []
    real = media.encode_mp4
    monkeypatch.setattr(media, "encode_mp4", lambda *args: calls.append(1) or real(*args))
    for n in range(4):
        task = _video(sim, prompt="the same prompt", external_id=f"same-{n}")
        assert sim.download(task.media[0].url).status_code == 200
    assert len(calls) == 1
    assert len(list(cache.glob("video-*.mp4"))) == 1


def test_it_expires_result_urls(sim, cache):
    sim.set_faults(url_ttl_seconds=60)
    task = _video(sim)
    url = task.media[0].url
    assert sim.download(url).status_code == 200
    sim.advance(61)
    assert sim.download(url).status_code == 403


def test_it_answers_404_for_tampered_or_unknown_urls(sim, cache):
    task = _video(sim)
    url = task.media[0].url
    token = url.split("/cdn/")[1].split("/")[0]
    assert sim.download(url.replace(token, token[:-2] + "xx")).status_code == 404
    assert sim.download(f"{sim.base_url}/cdn/nope/x.mp4").status_code == 404


def test_it_draws_the_prompt_on_images():
    plain = media.render_png("", "1:1", "1k", 0)
    with_text = media.render_png("A lighthouse at dawn", "1:1", "1k", 0)
    assert plain != with_text
    assert Image.open(io.BytesIO(with_text)).size == (1024, 1024)
