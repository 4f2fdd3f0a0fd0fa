import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
        from django_q.brokers import get_broker

        broker = get_broker()
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
