"""JSON bodies up to settings.API_MAX_BODY_BYTES.

DRF's parsers read the request stream without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check
(that guards `request.body` and forms only), so the limit is enforced here: a declared
Content-Length over it is refused before anything is read, and a body sent without one
is read only up to the limit plus one byte.
"""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"
    default_detail = gettext_lazy("The request body is too large.")


def body_limit() -> int:
    return settings.API_MAX_BODY_BYTES


class LimitedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = body_limit()
        too_large = PayloadTooLarge(
            _("The request body is larger than %(limit)s bytes, the most the API accepts.")
            % {"limit": number_format(limit, force_grouping=True)}
        )
        length = request.META.get("CONTENT_LENGTH", "") if request is not None else ""
        if length.isdigit() and int(length) > limit:
            raise too_large
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise too_large
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(data, encoding)
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(_("The body is not valid JSON: %(error)s") % {"error": exc}) from None


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not a JSON value")
