"""Checks for the videos and sound files people upload, before anything is charged.

Plain functions (forms and the REST API call the same ones): each reads the file with the
ffmpeg that imageio-ffmpeg ships (no ffprobe there, so its `-i` report is parsed), and
raises a ValidationError whose messages say in plain words what is wrong and what Kling
accepts. The limits come from the capability table (`capabilities.VideoLimits`,
`capabilities.AudioLimits`), per kind and option.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import imageio_ffmpeg
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from generations.capabilities import AudioLimits, VideoLimits

PROBE_TIMEOUT_SECONDS = 20
# ffmpeg's demuxer names for the containers Kling takes.
_VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "mov")}
_AUDIO_CONTAINERS = {"mp3": "mp3", "wav": "wav", "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "aac": "aac"}
_INPUT = re.compile(r"^Input #0, ([^,]+(?:,[^,\s]+)*), from ", re.MULTILINE)
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+[^:]*: Video: (\w+).*?, (\d{2,5})x(\d{2,5})\b(?:.*?, ([\d.]+) fps)?")
_AUDIO = re.compile(r"Stream #0:\d+[^:]*: Audio: (\w+)")

VIDEO_CONTENT_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime"}
AUDIO_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "aac": "audio/aac"}


@dataclass(frozen=True)
class MediaInfo:
    """What ffmpeg found in a file."""

    container: str  # ffmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float | None
    video_codec: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    audio_codec: str = ""
    size: int = 0
    extension: str = ""

    @property
    def content_type(self) -> str:
        return VIDEO_CONTENT_TYPES.get(self.extension) or AUDIO_CONTENT_TYPES.get(self.extension, "")


def parse_probe(report: str) -> MediaInfo | None:
    """ffmpeg's `-i` report (stderr) as MediaInfo; None when it read no container."""
    container = _INPUT.search(report)
    if container is None:
        return None
    duration = None
    match = _DURATION.search(report)
    if match:
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    video = _VIDEO.search(report)
    audio = _AUDIO.search(report)
    return MediaInfo(
        container=container.group(1),
        duration=duration,
        video_codec=video.group(1) if video else "",
        width=int(video.group(2)) if video else None,
        height=int(video.group(3)) if video else None,
        fps=float(video.group(4)) if video and video.group(4) else None,
        audio_codec=audio.group(1) if audio else "",
    )


def probe_path(path: str) -> MediaInfo | None:
    """Read a file's container and streams with ffmpeg; None when ffmpeg cannot read it."""
    try:
        done = subprocess.run(  # noqa: S603 (fixed arguments; the path is our temporary file)
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_probe(done.stderr.decode("utf-8", "replace"))


@contextmanager
def _on_disk(upload) -> Iterator[str]:
    """A path ffmpeg can open: the upload's own temporary file, or a copy of it."""
    path = getattr(upload, "temporary_file_path", None)
    if callable(path):
        yield path()
        return
    fd, name = tempfile.mkstemp(suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as handle:
            upload.seek(0)
            for chunk in upload.chunks():
                handle.write(chunk)
        yield name
    finally:
        upload.seek(0)
        os.unlink(name)


def probe_upload(upload) -> MediaInfo | None:
    with _on_disk(upload) as path:
        info = probe_path(path)
    if info is None:
        return None
    return MediaInfo(**{**info.__dict__, "size": upload.size})


def _mb(size: int) -> str:
    return _("%(size)s MB") % {"size": f"{size / 1024 / 1024:.1f}"}


def _seconds(value: float) -> str:
    if value < 60:
        return _("%(seconds)s s") % {"seconds": f"{value:g}"}
    return _("%(minutes)s min") % {"minutes": f"{value / 60:g}"}


def check_video(upload, limits: VideoLimits) -> MediaInfo:
    """Kling's rules for a video it will fetch: container, a video stream, size, length,
    sides and frame rate. Returns what was measured (the length prices per-second kinds)."""
    if upload.size > limits.max_bytes:
        raise ValidationError(
            _("This file is %(size)s; videos can be at most %(most)s.")
            % {"size": _mb(upload.size), "most": _mb(limits.max_bytes)},
            code="too_large",
        )
    info = probe_upload(upload)
    formats = _VIDEO_CONTAINERS.get(info.container if info else "", ())
    if info is None or not info.video_codec:
        raise ValidationError(
            _("This file is not a video we can read. Use an MP4 or MOV file."), code="unreadable"
        )
    if not formats:
        raise ValidationError(
            _("Only MP4 and MOV videos are accepted; this one is %(format)s.")
            % {"format": info.container.split(",")[0].upper()},
            code="format",
        )
    extension = "mov" if (upload.name or "").lower().endswith(".mov") else "mp4"
    info = MediaInfo(**{**info.__dict__, "extension": extension})
    errors = []
    if info.duration is None:
        errors.append(ValidationError(_("We could not tell how long this video is."), code="duration"))
    elif not limits.min_seconds <= info.duration <= limits.max_seconds:
        errors.append(
            ValidationError(
                _("This video is %(seconds)s s long; it needs to be between %(low)s and %(high)s%(why)s.")
                % {
                    "seconds": f"{info.duration:.1f}",
                    "low": _seconds(limits.min_seconds),
                    "high": _seconds(limits.max_seconds),
                    "why": _(limits.why) if limits.why else "",
                },
                code="duration",
            )
        )
    width, height = info.width or 0, info.height or 0
    if not (limits.min_side <= width <= limits.max_side and limits.min_side <= height <= limits.max_side):
        errors.append(
            ValidationError(
                _(
                    "This video is %(width)d x %(height)d px; each side needs to be between %(low)d and %(high)d px."
                )
                % {"width": width, "height": height, "low": limits.min_side, "high": limits.max_side},
                code="resolution",
            )
        )
    has_fps_limits = limits.min_fps is not None and limits.max_fps is not None
    if has_fps_limits and (info.fps is None or not limits.min_fps <= info.fps <= limits.max_fps):
        shown = _("%(fps)s fps") % {"fps": f"{info.fps:g}"} if info.fps else _("an unknown frame rate")
        errors.append(
            ValidationError(
                _("This video has %(shown)s; it needs %(low)s to %(high)s frames a second.")
                % {"shown": shown, "low": f"{limits.min_fps:g}", "high": f"{limits.max_fps:g}"},
                code="fps",
            )
        )
    if errors:
        raise ValidationError(errors)
    return info


def check_audio(upload, limits: AudioLimits) -> MediaInfo:
    """Kling's rules for a sound file: format, size and length."""
    if upload.size > limits.max_bytes:
        raise ValidationError(
            _("This file is %(size)s; sound files can be at most %(most)s.")
            % {"size": _mb(upload.size), "most": _mb(limits.max_bytes)},
            code="too_large",
        )
    info = probe_upload(upload)
    if info is None or not info.audio_codec:
        raise ValidationError(_("This file is not a sound file we can read."), code="unreadable")
    extension = _AUDIO_CONTAINERS.get(info.container, "")
    names = ", ".join(f.upper() for f in limits.formats)
    if extension not in limits.formats or info.video_codec:
        raise ValidationError(
            _("Only %(formats)s sound files are accepted.") % {"formats": names}, code="format"
        )
    info = MediaInfo(**{**info.__dict__, "extension": extension})
    if info.duration is None or not limits.min_seconds <= info.duration <= limits.max_seconds:
        values = {"low": _seconds(limits.min_seconds), "high": _seconds(limits.max_seconds)}
        message = (
            _("This sound file is %(seconds)s s long; it needs to be between %(low)s and %(high)s.")
            % {**values, "seconds": f"{info.duration:.1f}"}
            if info.duration
            else _("This sound file is of unknown length; it needs to be between %(low)s and %(high)s.")
            % values
        )
        raise ValidationError(
            message,
            code="duration",
        )
    return info
