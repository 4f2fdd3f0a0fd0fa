"""Copying results: only from allowed hosts (no SSRF, no redirect elsewhere), capped in size,
checked by their bytes, with thumbnails and posters made here."""

from __future__ import annotations

import pytest

from generations import media
from generations.media import MediaError, download, host_allowed
from tests.generations import fakes


@pytest.fixture(autouse=True)
def hosts(settings):
    settings.KLING_MEDIA_HOSTS = ["cdn.klingai.com", "*.kwimgs.com", "127.0.0.1:8000"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.klingai.com/a.mp4", True),
        ("https://CDN.KLINGAI.COM./a.mp4", True),
        ("https://p1.a.kwimgs.com/a.png", True),
        ("http://127.0.0.1:8000/_sim/kling/media/a.png", True),
        ("http://127.0.0.1:8001/a.png", False),
        ("http://127.0.0.1/a.png", False),
        ("https://cdn.klingai.com.evil.example/a.mp4", False),
        ("https://evilkwimgs.com/a.png", False),
        ("https://user:pass@cdn.klingai.com/a.mp4", False),
        ("ftp://cdn.klingai.com/a.mp4", False),
        ("file:///etc/passwd", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("https://cdn.klingai.com:99999/a.mp4", False),
    ],
)
def test_it_downloads_only_from_allowed_hosts(url, allowed):
    assert host_allowed(url) is allowed


def test_it_never_asks_a_host_that_is_not_allowed(cdn):
    with pytest.raises(MediaError, match="not an allowed media host"):
        download("http://169.254.169.254/latest/meta-data/", "image")
    assert len(cdn.calls) == 0


def test_it_follows_redirects_only_within_the_allowlist(cdn, png_bytes):
    cdn.add(
        "GET",
        "https://cdn.klingai.com/moved.png",
        status=302,
        headers={"Location": "https://p2.a.kwimgs.com/x.png"},
    )
    cdn.add("GET", "https://p2.a.kwimgs.com/x.png", body=png_bytes, content_type="image/png")
    fetched = download("https://cdn.klingai.com/moved.png", "image")
    assert fetched.content_type == "image/png" and fetched.size == len(png_bytes)

    cdn.add(
        "GET",
        "https://cdn.klingai.com/escape.png",
        status=301,
        headers={"Location": "http://10.0.0.5/secret"},
    )
    with pytest.raises(MediaError, match="not an allowed media host"):
        download("https://cdn.klingai.com/escape.png", "image")
    assert not any("10.0.0.5" in call.request.url for call in cdn.calls)


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "100.64.0.1"])
def test_it_refuses_an_allowed_name_that_resolves_to_a_private_address(cdn, monkeypatch, settings, address):
    import socket

    settings.KLING_PROVIDER = "kling"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: [(family, socket.SOCK_STREAM, 6, "", (address, 0))]
    )
    with pytest.raises(MediaError, match="resolves to a private address"):
        download("https://cdn.klingai.com/a.png", "image")
    assert len(cdn.calls) == 0


def test_a_slow_download_gives_up_at_the_time_limit_and_leaves_no_file(cdn, monkeypatch, tmp_path):
    import tempfile
    import time

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(MediaError, match="took longer than"):
        download(f"{fakes.MEDIA_BASE}/slow/0.png", "image", deadline=time.monotonic() - 1)
    assert list(tmp_path.iterdir()) == []


def test_it_leaves_no_temporary_file_behind_whatever_fails(cdn, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setitem(media.MAX_BYTES, "image", 10)
    with pytest.raises(MediaError):
        download(f"{fakes.MEDIA_BASE}/big/0.png", "image")
    assert list(tmp_path.iterdir()) == []


def test_it_stops_at_the_size_cap(cdn, monkeypatch, png_bytes):
    monkeypatch.setitem(media.MAX_BYTES, "image", 1000)
    cdn.add("GET", "https://cdn.klingai.com/big.png", body=png_bytes, content_type="image/png")
    with pytest.raises(MediaError, match="limit"):
        download("https://cdn.klingai.com/big.png", "image")
    # Without a Content-Length, the stream itself is cut off.
    cdn.add(
        "GET",
        "https://cdn.klingai.com/streamed.png",
        body=png_bytes,
        content_type="image/png",
        auto_calculate_content_length=False,
    )
    with pytest.raises(MediaError, match="limit"):
        download("https://cdn.klingai.com/streamed.png", "image")


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "words"),
    [
        (b"<html>login</html>", "text/html", "image", "unexpected content type"),
        (b"<html>login</html>", "application/octet-stream", "image", "not an accepted image format"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4", "image", "unexpected content type"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 50, "image/png", "video", "unexpected content type"),
    ],
)
def test_it_checks_what_the_bytes_are(cdn, body, content_type, kind, words):
    cdn.add("GET", "https://cdn.klingai.com/thing", body=body, content_type=content_type)
    with pytest.raises(MediaError, match=words):
        download("https://cdn.klingai.com/thing", kind)


def test_it_reports_a_broken_image_and_a_broken_video(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    with pytest.raises(MediaError, match="not a readable image"):
        media.describe_image(str(broken))
    fake_video = tmp_path / "broken.mp4"
    fake_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"0" * 100)
    with pytest.raises(MediaError, match="not a readable video"):
        media.describe_video(str(fake_video), 5.0)


def test_it_makes_a_poster_and_reads_the_video(tmp_path, mp4_bytes):
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4_bytes)
    width, height, duration, poster = media.describe_video(str(path), 5.1)
    assert (width, height) == (320, 180)
    assert duration == pytest.approx(2.0, abs=0.2)
    assert poster[:3] == b"\xff\xd8\xff"
    assert media.describe_video(str(path), None)[:2] == (320, 180)  # no hint: the first frame
