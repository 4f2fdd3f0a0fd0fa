from django import template
from django.utils.translation import gettext as _

from generations.models import MAX_FETCH_ATTEMPTS, Generation, Status
from kling_site.stored_text import translated

register = template.Library()


@register.filter
def stored_text(text: str) -> str:
    """A sentence kept in English on a row (an error, a memo), in the reader's language."""
    return translated(text)


@register.filter
def seconds_text(value) -> str:
    """3725 -> "1 h 2 min", 192 -> "3 min 12 s", 45 -> "45 s"."""
    try:
        seconds = max(0, int(value))
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        if seconds and minutes < 10:
            return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
        return _("%(m)d min") % {"m": minutes}
    hours, minutes = divmod(minutes, 60)
    if minutes:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(h)d h") % {"h": hours}


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
