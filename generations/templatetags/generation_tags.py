from django import template

from generations.models import MAX_FETCH_ATTEMPTS, Generation, Status

register = template.Library()


@register.filter
def seconds_text(value) -> str:
    """3725 -> "1 h 2 min", 192 -> "3 min 12 s", 45 -> "45 s"."""
    try:
        seconds = max(0, int(value))
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def status_text(generation: Generation) -> str:
    """The status as people read it."""
    if generation.status == Status.QUEUED:
        return "Waiting" if generation.wait_reason else "Queued"
    if generation.status == Status.SUBMITTED:
        return "In Kling's queue"
    if generation.status == Status.PROCESSING:
        return "Generating"
    if generation.status == Status.SUCCEEDED:
        if generation.assets_saved_at is None and generation.fetch_attempts < MAX_FETCH_ATTEMPTS:
            return "Saving"
        return "Ready"
    return "Failed"
