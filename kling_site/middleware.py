"""The site's own 404 and 500 pages under the demo settings of `make run` too.

With DEBUG on, Django answers a wrong URL or a crash with its debug page (settings, stack
trace), which a person trying the demo should never see. This middleware swaps such an HTML
answer for the site's page; DJANGO_DEBUG_PAGES=1 keeps Django's pages for development.
The error is still logged as usual (Django logs before this middleware sees the answer).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from kling_site import views


class SiteErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not settings.DEBUG or getattr(settings, "SHOW_DEBUG_PAGES", False):
            return response
        if response.status_code not in (404, 500) or getattr(request, "htmx", False):
            return response
        if not response.get("Content-Type", "").startswith("text/html"):
            return response  # the API's JSON errors stay as they are
        if response.status_code == 404:
            return views.page_not_found(request)
        return views.server_error(request)
