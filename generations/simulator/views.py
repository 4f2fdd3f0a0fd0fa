"""HTTP face of the simulated Kling (legacy contract). Thin: parse, call the engine, answer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from generations.simulator import catalog, elements, engine
from generations.simulator.engine import SimError, roll
from generations.simulator.models import SimFaults, now_ms

MALFORMED_BODY = b'{"code":0,"message":"SUCCEED","request_id":"sim","data":{"task_id":'


def _error(error: SimError, request_id: str) -> JsonResponse:
    # Kling's error bodies carry no `data`.
    return JsonResponse(
        {"code": error.code, "message": error.message, "request_id": request_id}, status=error.http_status
    )


def api(handler: Callable[..., Any]) -> Callable[..., HttpResponse]:
    """Auth, injected faults and the `{code, message, request_id, data}` envelope.

    The handler gets who is asking (`owner`): each key sees only the tasks it created.
    """

    @csrf_exempt
    @wraps(handler)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        engine.ensure_callback_thread()
        request_id = str(uuid.uuid4())
        faults = SimFaults.current()
        try:
            owner = engine.authenticate(request.headers.get("Authorization", ""))
            if roll(faults.rate_1302):
                raise SimError(429, 1302, "request rate limit exceeded")
            if roll(faults.rate_5000):
                raise SimError(500, 5000, "internal error")
            data = handler(request, faults, owner, *args, **kwargs)
        except SimError as error:
            return _error(error, request_id)
        # These two happen after the work is done: a create has created its task.
        if roll(faults.rate_read_timeout):
            # A slow answer need not hold a database connection while it waits.
            if not connection.in_atomic_block:
                connection.close()
            time.sleep(faults.read_timeout_seconds)
        if roll(faults.rate_malformed_json):
            return HttpResponse(MALFORMED_BODY, content_type="application/json")
        return JsonResponse(
            {"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data}, safe=False
        )

    return view


def _int_param(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SimError(400, 1201, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise SimError(400, 1201, f"{name} must be in [{low}, {high}]")
    return value


@api
def product_root(request: HttpRequest, faults: SimFaults, owner: str, product: str) -> Any:
    if request.method == "POST":
        return _create(request, faults, owner, product)
    if request.method == "GET":
        page = _int_param(request, "pageNum", 1, 1, 1000)
        size = _int_param(request, "pageSize", 30, 1, 500)
        now = now_ms()
        return [
            engine.task_object(task, faults, at_ms=now)
            for task in engine.list_tasks(product, owner, page, size)
        ]
    raise SimError(404, 1202, "invalid method")


def _create(request: HttpRequest, faults: SimFaults, owner: str, product: str) -> dict[str, Any]:
    body = _json_body(request)
    create = engine.validate(product, body, faults, owner)
    # Saved subjects go by id: only the caller's own built elements exist for it.
    elements.check_element_list(body, owner)
    if roll(faults.rate_1303):
        raise SimError(429, 1303, "parallel task over resource pack limit")
    base_url = request.build_absolute_uri(reverse("kling_sim:index"))
    task = engine.create_task(create, faults, base_url, owner)
    if roll(faults.rate_5002_after_create):
        raise SimError(504, 5002, "internal timeout")
    return engine.created_object(task)


@api
def task_detail(request: HttpRequest, faults: SimFaults, owner: str, product: str, reference: str) -> Any:
    if request.method != "GET":
        raise SimError(404, 1202, "invalid method")
    task = engine.find_task(product, reference, owner)
    if task is None:
        raise SimError(404, 1203, f"task {reference} not found")
    return engine.task_object(task, faults)


@api
def identify_face(request: HttpRequest, faults: SimFaults, owner: str) -> Any:
    """Synchronous, like Kling's: the faces come back in the answer, no task to poll."""
    if request.method != "POST":
        raise SimError(404, 1202, "invalid method")
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise SimError(400, 1200, "Invalid request parameters: the body is not JSON") from None
    base_url = request.build_absolute_uri(reverse("kling_sim:index"))
    return engine.identify_face(body, owner, base_url, faults)


@api
def account_costs(request: HttpRequest, faults: SimFaults, owner: str) -> Any:
    if request.method != "GET":
        raise SimError(404, 1202, "invalid method")
    try:
        start, end = int(request.GET["start_time"]), int(request.GET["end_time"])
    except (KeyError, ValueError):
        raise SimError(400, 1201, "start_time and end_time (ms) are required") from None
    # Kling allows at most one query per second on this endpoint.
    if not cache.add(f"kling-sim:costs:{int(time.time())}", 1, timeout=2):
        raise SimError(429, 1302, "request rate limit exceeded")
    return engine.account_costs(start, end, owner)


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"simulator": "kling legacy API", "products": list(catalog.PRODUCTS)})


@csrf_exempt
def unknown(request: HttpRequest, rest: str) -> JsonResponse:
    return _error(SimError(404, 1202, "invalid method"), str(uuid.uuid4()))


def cdn(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """The result files, like Kling's CDN: public, signed, expiring (403 after, 404 if unknown)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    try:
        path, content_type = engine.media_path(token)
    except SimError as error:
        return HttpResponse(error.message, status=error.http_status, content_type="text/plain")
    response = FileResponse(path.open("rb"), content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise SimError(400, 1200, "Invalid request parameters: the body is not JSON") from None


@api
def custom_elements(request: HttpRequest, faults: SimFaults, owner: str) -> Any:
    if request.method == "POST":
        return elements.created_object(elements.create(_json_body(request), faults, owner))
    if request.method == "GET":
        number = _int_param(request, "pageNum", 1, 1, 1000)
        size = _int_param(request, "pageSize", 30, 1, 500)
        now = now_ms()
        return [e.task_object(now) for e in elements.page(owner, number, size)]
    raise SimError(404, 1202, "invalid method")


@api
def custom_element(request: HttpRequest, faults: SimFaults, owner: str, reference: str) -> Any:
    if request.method != "GET":
        raise SimError(404, 1202, "invalid method")
    element = elements.find(reference, owner)
    if element is None:
        raise SimError(404, 1203, f"task {reference} not found")
    return element.task_object()


@api
def delete_elements(request: HttpRequest, faults: SimFaults, owner: str) -> Any:
    if request.method != "POST":
        raise SimError(404, 1202, "invalid method")
    return elements.delete(_json_body(request), owner)
