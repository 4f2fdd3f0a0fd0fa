"""Real files for the simulated results: PNGs with the prompt drawn on them, and ~2 s
H.264 MP4s (yuv420p, +faststart) with visible motion plus a JPEG cover.

Everything is rendered on first download and cached on disk. Videos depend only on the
aspect ratio and one of a few colour variants, so a thousand tasks encode at most a
handful of videos; images depend on the prompt, so they are keyed by its hash.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import subprocess
import tempfile
import textwrap
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

CACHE_VERSION = "v1"
VIDEO_SIZES = {"16:9": (480, 270), "9:16": (270, 480), "1:1": (360, 360)}
VIDEO_FPS = 24
# Long clips (up to 3 minutes for extensions) are drawn at ten frames a second (and
# played at VIDEO_FPS): the length is what matters.
LABELLED_FPS = 10
VIDEO_SECONDS = 2
VIDEO_VARIANTS = 6
IMAGE_LONG_SIDE = {"1k": 1024, "2k": 2048}
PALETTE = [
    ((32, 46, 94), (232, 93, 117)),
    ((18, 78, 76), (250, 204, 86)),
    ((66, 28, 92), (98, 210, 214)),
    ((28, 28, 36), (255, 140, 66)),
    ((14, 64, 122), (154, 230, 140)),
    ((92, 36, 36), (248, 240, 220)),
]


def cache_dir() -> Path:
    path = Path(settings.SIMULATOR_CACHE_DIR) / CACHE_VERSION
    path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    # Two requests may render the same file at once: each writes its own temp file and the
    # rename makes one of them win whole.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def variant_for(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % VIDEO_VARIANTS  # noqa: S324 (not security)


def image_size(aspect_ratio: str, resolution: str = "1k") -> tuple[int, int]:
    # "auto" (omni image): Kling picks the shape from the references; the simulator squares it.
    w_ratio, h_ratio = (int(part) for part in (aspect_ratio if ":" in aspect_ratio else "1:1").split(":"))
    long_side = IMAGE_LONG_SIDE.get(resolution, 1024)
    if w_ratio >= h_ratio:
        return long_side, max(2, round(long_side * h_ratio / w_ratio))
    return max(2, round(long_side * w_ratio / h_ratio)), long_side


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, size))


def render_png(prompt: str, aspect_ratio: str, resolution: str, index: int) -> bytes:
    width, height = image_size(aspect_ratio, resolution)
    top, accent = PALETTE[(variant_for(prompt) + index) % len(PALETTE)]
    image = _gradient((width, height), top, tuple(c // 3 for c in accent))
    draw = ImageDraw.Draw(image)
    font_size = max(12, min(width, height) // 16)
    font = _font(font_size)
    chars_per_line = max(10, int(width / (font_size * 0.55)))
    lines = textwrap.wrap(prompt or "(no prompt)", chars_per_line)[:8]
    y = height // 6
    for line in lines:
        draw.text((width // 16, y), line, fill=(255, 255, 255), font=font)
        y += int(font_size * 1.3)
    small = _font(font_size // 2)
    draw.text(
        (width // 16, height - font_size), f"Kling simulator - image {index + 1}", fill=accent, font=small
    )
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def image_file(prompt: str, aspect_ratio: str, resolution: str, index: int) -> Path:
    key = hashlib.sha256(f"{prompt}|{aspect_ratio}|{resolution}|{index}".encode()).hexdigest()[:32]
    path = cache_dir() / f"image-{key}.png"
    if not path.exists():
        _atomic_write(path, render_png(prompt, aspect_ratio, resolution, index))
    return path


def _frame(background: Image.Image, accent: tuple[int, int, int], number: int, total: int) -> Image.Image:
    frame = background.copy()
    width, height = frame.size
    draw = ImageDraw.Draw(frame)
    progress = number / max(total - 1, 1)
    radius = min(width, height) // 8
    x = int(radius + progress * (width - 2 * radius))
    y = int(height / 2 + math.sin(progress * 2 * math.pi) * (height / 2 - radius * 1.5))
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=accent)
    draw.rectangle((0, height - 8, int(width * progress), height), fill=(255, 255, 255))
    font = _font(max(10, min(width, height) // 14))
    draw.text((10, 8), f"Kling simulator  {number / VIDEO_FPS:.2f} s", fill=(255, 255, 255), font=font)
    return frame


def _video_frames(aspect_ratio: str, variant: int) -> list[Image.Image]:
    size = VIDEO_SIZES.get(aspect_ratio, VIDEO_SIZES["16:9"])
    top, accent = PALETTE[variant % len(PALETTE)]
    background = _gradient(size, top, tuple(c // 4 for c in top))
    total = VIDEO_FPS * VIDEO_SECONDS
    return [_frame(background, accent, number, total) for number in range(total)]


def _labelled_frame(
    background: Image.Image, accent: tuple[int, int, int], number: int, total: int, label: str, fps: int
) -> Image.Image:
    frame = _frame(background, accent, number, total)
    draw = ImageDraw.Draw(frame)
    width, height = frame.size
    font = _font(max(12, min(width, height) // 10))
    # Over the default caption: which product made it, and the time within the clip.
    draw.rectangle((0, 0, width, height // 5), fill=tuple(c // 2 for c in background.getpixel((0, 0))))
    draw.text((10, 6), f"{label}  {number / fps:.1f} s", fill=(255, 255, 255), font=font)
    return frame


def labelled_video_file(aspect_ratio: str, variant: int, seconds: float, label: str) -> Path:
    """A clip `seconds` long with the product's name drawn on every frame (the products
    whose length matters, such as motion control, whose output follows its input)."""
    aspect_ratio = aspect_ratio if aspect_ratio in VIDEO_SIZES else "16:9"
    seconds = max(1.0, round(float(seconds), 1))
    key = hashlib.sha256(f"{aspect_ratio}|{variant}|{seconds}|{label}|{LABELLED_FPS}".encode()).hexdigest()[
        :24
    ]
    path = cache_dir() / f"video-labelled-{key}.mp4"
    if not path.exists():
        size = VIDEO_SIZES[aspect_ratio]
        top, accent = PALETTE[variant % len(PALETTE)]
        background = _gradient(size, top, tuple(c // 4 for c in top))
        fps = LABELLED_FPS
        total = max(1, round(seconds * fps))
        frames = (_labelled_frame(background, accent, n, total, label, fps) for n in range(total))
        _atomic_write(path, encode_mp4(frames, fps))
    return path


def encode_mp4(frames: Iterable[Image.Image], fps: int = VIDEO_FPS) -> bytes:
    """An H.264 MP4 of `frames` shown at `fps`, output at VIDEO_FPS (repeating frames), fed
    to ffmpeg one frame at a time so long clips never sit in memory whole."""
    import imageio_ffmpeg

    frames = iter(frames)
    first = next(frames)
    width, height = first.size
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.mp4"
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(fps),
            "-i",
            "-",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-r",
            str(VIDEO_FPS),
            "-movflags",
            "+faststart",
            str(target),
        ]
        process = subprocess.Popen(  # noqa: S603 (a fixed command line, no user input)
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            for frame in itertools.chain([first], frames):
                process.stdin.write(frame.tobytes())
            process.stdin.close()
            if process.wait(timeout=120) != 0:
                raise subprocess.CalledProcessError(process.returncode, command, stderr=process.stderr.read())
        finally:
            if process.poll() is None:
                process.kill()
            process.stderr.close()
        return target.read_bytes()


def audio_file(seconds: float, fmt: str, variant: int) -> Path:
    """A tone `seconds` long (its pitch by variant), as MP3 or WAV."""
    import imageio_ffmpeg

    seconds = max(0.5, round(float(seconds), 1))
    fmt = "wav" if fmt == "wav" else "mp3"
    path = cache_dir() / f"audio-{variant}-{seconds}.{fmt}"
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"out.{fmt}"
            command = [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-y",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={220 + 55 * variant}:duration={seconds}",
                str(target),
            ]
            subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 (fixed arguments)
            _atomic_write(path, target.read_bytes())
    return path


def video_file(aspect_ratio: str, variant: int) -> Path:
    aspect_ratio = aspect_ratio if aspect_ratio in VIDEO_SIZES else "16:9"
    path = cache_dir() / f"video-{aspect_ratio.replace(':', 'x')}-{variant}.mp4"
    if not path.exists():
        _atomic_write(path, encode_mp4(_video_frames(aspect_ratio, variant)))
    return path


def cover_file(aspect_ratio: str, variant: int) -> Path:
    aspect_ratio = aspect_ratio if aspect_ratio in VIDEO_SIZES else "16:9"
    path = cache_dir() / f"cover-{aspect_ratio.replace(':', 'x')}-{variant}.jpg"
    if not path.exists():
        size = VIDEO_SIZES[aspect_ratio]
        top, accent = PALETTE[variant % len(PALETTE)]
        background = _gradient(size, top, tuple(c // 4 for c in top))
        frame = _frame(background, accent, VIDEO_FPS, VIDEO_FPS * VIDEO_SECONDS)
        out = io.BytesIO()
        frame.save(out, format="JPEG", quality=85)
        _atomic_write(path, out.getvalue())
    return path
