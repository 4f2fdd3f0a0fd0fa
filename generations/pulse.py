"""The site-wide pulse: what a signed-in page asks every few seconds, in one small request.

Every page of a signed-in person carries one poller (templates/_pulse_poller.html, answered by kling_site.views.pulse).
Its answer refreshes the credit badge in the navigation (a refund or a purchase lands in
the background, on whatever page the person is) and brings a notice for each generation
that has finished since the last answer. It asks often while something of theirs is under
way and seldom otherwise, so an idle tab costs next to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from generations.models import MAX_FETCH_ATTEMPTS, UNFINISHED_STATUSES, Generation, Status

# Seconds between two asks: while work is under way, and while nothing is.
BUSY_SECONDS = 5
IDLE_SECONDS = 30
# At most this many notices at once; when more finish together (a batch), one notice says
# how many (counting up to MAX_COUNTED).
MAX_NOTICES = 3
MAX_COUNTED = 100
# A generation that finished longer ago than this is old news, not a notice.
NEWS_WINDOW = timedelta(minutes=15)
# Nothing stays unfinished this long (the deadline sweep fails it first): the bound keeps
# the "anything under way?" query on the person's newest rows.
RECENT = timedelta(days=2)

SESSION_KEY = "pulse_since"


@dataclass(frozen=True)
class Pulse:
    finished: list[Generation]  # newest first, one notice each; empty when `count` says it
    count: int  # how many finished since the last answer, when more than MAX_NOTICES did
    seconds: int  # when to ask again


def _done(queryset):
    """Generations with a result to look at: failed, or succeeded with their files saved.
    `done_at` is when that became true."""
    return queryset.filter(
        Q(status=Status.FAILED) | Q(status=Status.SUCCEEDED, assets_saved_at__isnull=False)
    ).annotate(done_at=Coalesce("assets_saved_at", "finished_at"))


def _since(session) -> datetime | None:
    value = session.get(SESSION_KEY)
    return parse_datetime(value) if isinstance(value, str) else None


def take_pulse(user, session, *, watching: int | None = None) -> Pulse:
    """What has finished for `user` since this browser last heard, and when to ask again.

    The mark lives in the session, so a generation that finishes while the person moves
    from one page to the next is still told on the next page. It moves only when something
    finished (no write per ask). `watching` is the generation whose own page is open: it
    shows its end itself, so it gets no notice, but it moves the mark all the same.
    """
    now = timezone.now()
    since = _since(session)
    if since is None:
        session[SESSION_KEY] = now.isoformat()
        since = now
    since = max(since, now - NEWS_WINDOW)
    owned = Generation.objects.owned_by(user)
    # created_at bounds the scan to the person's recent rows (the owner/created_at index).
    done = list(
        _done(owned.filter(created_at__gte=since - RECENT))
        .filter(done_at__gt=since)
        .order_by("-done_at", "-pk")[:MAX_COUNTED]
    )
    if done:
        session[SESSION_KEY] = max(g.done_at for g in done).isoformat()
    news = [g for g in done if g.pk != watching]
    busy = (
        owned.filter(created_at__gte=now - RECENT)
        .filter(
            Q(status__in=UNFINISHED_STATUSES)
            | Q(status=Status.SUCCEEDED, assets_saved_at__isnull=True, fetch_attempts__lt=MAX_FETCH_ATTEMPTS)
        )
        .exists()
    )
    seconds = BUSY_SECONDS if busy else IDLE_SECONDS
    if len(news) > MAX_NOTICES:
        return Pulse(finished=[], count=len(news), seconds=seconds)
    return Pulse(finished=news, count=0, seconds=seconds)
