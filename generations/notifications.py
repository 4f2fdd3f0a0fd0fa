"""Telling people their generation is done, when it took long enough to walk away."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from generations.models import TERMINAL_STATUSES, Generation
from kling_site.links import absolute_url

logger = logging.getLogger(__name__)

# Quicker than this and the person is most likely still watching the page.
NOTIFY_AFTER = timedelta(minutes=1)


def notify_finished(generation_id: int) -> bool:
    """Email the owner once about a finished generation that took over a minute, unless
    they turned these emails off. Returns whether an email was sent.

    The row is claimed (`notified_at`) before sending: a redelivered task never sends a
    second email; a crash between claim and send loses one, which is the better failure.
    """
    claimed = Generation.objects.filter(
        pk=generation_id, status__in=TERMINAL_STATUSES, notified_at__isnull=True
    ).update(notified_at=timezone.now())
    if not claimed:
        return False
    generation = Generation.objects.select_related("owner").get(pk=generation_id)
    owner = generation.owner
    if not owner.notify_on_finish or generation.elapsed <= NOTIFY_AFTER or generation.deleted_at:
        return False
    context = {
        "generation": generation,
        "owner": owner,
        "url": absolute_url(generation),
        "SITE_NAME": settings.SITE_NAME,
        "profile_url": absolute_url("accounts:profile"),
    }
    # A worker has no request: the email speaks the language saved on the profile.
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        subject = render_to_string("generations/email/finished_subject.txt", context).strip()
        body = render_to_string("generations/email/finished.txt", context)
    send_mail(subject, body, None, [owner.email])
    logger.info("generation %s: finish email sent to %s", generation_id, owner.email)
    return True
