"""Under `make run`'s demo settings (DEBUG on) a wrong URL or a crash shows the site's own
page, never Django's debug page; DJANGO_DEBUG_PAGES brings the debug pages back."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.test import RequestFactory

from kling_site.middleware import SiteErrorPagesMiddleware


@pytest.mark.django_db
def test_a_wrong_url_shows_the_site_404_under_demo_settings(client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'class="error-page"' in body
    assert "URLconf" not in body


@pytest.mark.django_db
def test_the_debug_404_comes_back_when_asked_for(client, settings):
    settings.DEBUG = True
    settings.SHOW_DEBUG_PAGES = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_a_crash_shows_the_site_500_under_demo_settings(settings):
    settings.DEBUG = True
    middleware = SiteErrorPagesMiddleware(
        lambda request: HttpResponseServerError("Traceback (most recent call last)")
    )
    response = middleware(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(
    "answer",
    [JsonResponse({"code": "not_found"}, status=404), HttpResponse("fine")],
    ids=["api-json-404", "ok"],
)
def test_other_answers_pass_through(settings, answer):
    settings.DEBUG = True
    assert SiteErrorPagesMiddleware(lambda request: answer)(RequestFactory().get("/")) is answer
