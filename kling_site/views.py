import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from generations import pulse as site_pulse
from generations import queue

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("healthz: database check failed")
        return False


def _broker_ok() -> bool:
    try:
        # The process's own broker (one Redis client and its connection pool), not a new
        # one per check: a dropped connection is replaced on the next command, and a Redis
        # that is down still fails both calls below.
        broker = queue.broker()
        # The ORM broker's ping() is always True; queue_size() really touches the broker.
        broker.queue_size()
        return bool(broker.ping())
    except Exception:
        logger.exception("healthz: broker check failed")
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        **{k: "ok" if v else "down" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _watching(request: HttpRequest) -> int | None:
    """The generation whose own page asked (htmx names the page it polls from), if any."""
    path = (request.htmx.current_url_abs_path or "").split("?", 1)[0]
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name == "generations:detail":
        return int(match.kwargs["generation_id"])
    return None


@never_cache
@require_GET
def pulse(request: HttpRequest) -> HttpResponse:
    """The one poller of every signed-in page (htmx): the credit badge, a notice for each
    generation that finished meanwhile, and the poller again with its next interval."""
    if not request.htmx or not request.user.is_authenticated:
        # Signed out meanwhile (or not asked by htmx): a poller without a trigger stops.
        return HttpResponse('<div id="pulse" hidden></div>')
    context = {"pulse": site_pulse.take_pulse(request.user, request.session, watching=_watching(request))}
    response = render(request, "_pulse.html", context)
    response["Vary"] = "HX-Request"
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors and no database here: the failure may be in one of them.
    try:
        body = loader.get_template("500.html").render({"site_name": settings.SITE_NAME})
    except Exception:
        # Even the template can fail (say, a missing static manifest); answer plainly then.
        logger.exception("500 page: the template could not be rendered")
        body = "<!doctype html><title>Server error</title><h1>Something went wrong on our side.</h1>"
    return HttpResponse(body, status=500)
