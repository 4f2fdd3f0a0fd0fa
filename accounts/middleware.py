"""The page language: the signed-in person's saved choice, else Django's usual order
(language cookie set by the footer switcher, then the browser's Accept-Language)."""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ProfileLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        saved = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if saved and translation.check_for_language(saved):
            translation.activate(saved)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)
