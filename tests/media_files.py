"""Real small videos and sound files for upload tests, made with the ffmpeg imageio-ffmpeg ships."""

from __future__ import annotations

import functools
import io
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


@functools.cache
def _make(kind: str, seconds: float, width: int, height: int, fps: int, fmt: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"out.{fmt}"
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error"]
        if kind == "video":
            command += ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}", "-t", str(seconds)]
            command += (
                ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
                if fmt in ("mp4", "mov")
                else []
            )
        else:
            command += ["-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds)]
        command.append(str(target))
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        return target.read_bytes()


def video_bytes(
    seconds: float = 4, width: int = 480, height: int = 360, fps: int = 24, fmt: str = "mp4"
) -> bytes:
    return _make("video", seconds, width, height, fps, fmt)


def audio_bytes(seconds: float = 3, fmt: str = "mp3") -> bytes:
    return _make("audio", seconds, 0, 0, 0, fmt)


def video_upload(name: str = "dance.mp4", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, video_bytes(**kwargs), content_type="video/mp4")


def audio_upload(name: str = "voice.mp3", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, audio_bytes(**kwargs), content_type="audio/mpeg")


def picture_png(width: int = 640, height: int = 360, colour: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    """A plain picture of the size a create page checks, as PNG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()
