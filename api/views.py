"""The REST API (`/api/v1/`): thin views over the services the pages use.

Each view parses, calls one service function and renders; the rules (what may be
created, what it costs, who may see what) live in generations and billing. Someone
else's generation, or a deleted one, is 404, as on the pages.
"""

from __future__ import annotations

import hashlib
import json
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from api import errors, files
from api import inputs as api_inputs
from api.authentication import AccountUsable
from api.models import IdempotencyRecord
from api.serializers import (
    CREATE_SERIALIZERS,
    CreditsSerializer,
    ErrorSerializer,
    GenerationPageSerializer,
    GenerationSerializer,
    LedgerEntrySerializer,
    ModelsSerializer,
    QuoteSerializer,
    generation_context,
    offered_kinds,
    prepare,
)
from api.throttles import APIRateThrottle, CreateRateThrottle
from batches import services as batch_services
from billing import ledger
from generations import capabilities, media, pricing, services
from generations.models import Asset, FaceSession, Generation, Kind, Price, Status
from generations.views import serve_face_picture, serve_file

# Long-poll: `?wait=` seconds, at most WAIT_CAP; the row is read every WAIT_STEP seconds.
WAIT_CAP = 30
WAIT_STEP = 1.0
IDEMPOTENCY_KEY_MAX = 200

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="validation_error"),
    401: OpenApiResponse(ErrorSerializer, description="authentication_failed"),
    403: OpenApiResponse(ErrorSerializer, description="account_frozen"),
    429: OpenApiResponse(ErrorSerializer, description="rate_limited (with Retry-After)"),
}
CREATE_REQUEST = PolymorphicProxySerializer(
    component_name="GenerationCreate",
    serializers=dict(CREATE_SERIALIZERS),
    resource_type_field_name="kind",
)
CREATE_EXAMPLE = OpenApiExample(
    "Text to video",
    value={
        "kind": "text2video",
        "model_name": "kling-v2-6",
        "prompt": "A red fox in fresh snow",
        "duration": 5,
    },
    request_only=True,
)


class BaseAPIView(APIView):
    permission_classes = [AccountUsable]
    throttle_classes = [APIRateThrottle]


def _owned(user):
    return Generation.objects.owned_by(user).prefetch_related(
        Prefetch("assets", queryset=Asset.objects.order_by("index"))
    )


def _render_generation(request, generation: Generation, status_code: int = 200, **headers) -> Response:
    data = GenerationSerializer(generation, context=generation_context(request, [generation])).data
    return Response(data, status=status_code, headers=headers or None)


# --- models and quote -----------------------------------------------------------------------


def _per(kind: str) -> str:
    if capabilities.product_for(kind).startswith("images/"):
        return "image"
    return "second" if kind in capabilities.PER_SECOND_KINDS else "clip"


def _plain(value):
    """A capability value as JSON: tuples as lists, a Rule as what it allows."""
    if isinstance(value, capabilities.Rule):
        return {
            "modes": list(value.modes) if value.modes is not None else None,
            "durations": list(value.durations) if value.durations is not None else None,
            "silent_only": value.silent_only,
            "description": value.describe(),
        }
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


MODEL_COLUMNS = (
    "name",
    "label",
    "modes",
    "durations",
    "aspect_ratios",
    "prompt_limit",
    "negative_prompt_limit",
)


def capability_table() -> list[dict]:
    prices: dict[tuple[str, str], list[dict]] = {}
    for price in Price.objects.filter(active=True).order_by(
        "kind", "model_name", "mode", "duration", "audio"
    ):
        prices.setdefault((price.kind, price.model_name), []).append(
            {
                "mode": price.mode or None,
                "duration": price.duration,
                "sound": price.audio,
                "credits": price.credits,
                "per": _per(price.kind),
            }
        )
    kinds = []
    for kind in offered_kinds():
        models = []
        for model in capabilities.models_for(kind):
            described = _plain(model)
            row = {column: described.get(column, []) for column in MODEL_COLUMNS}
            row["options"] = {k: v for k, v in described.items() if k not in MODEL_COLUMNS}
            row["prices"] = prices.get((kind, model.name), [])
            models.append(row)
        kinds.append(
            {
                "kind": kind,
                "label": Kind(kind).label,
                "request_fields": [name for name in CREATE_SERIALIZERS[kind]().fields if name != "kind"],
                "models": models,
            }
        )
    return kinds


class ModelsView(BaseAPIView):
    @extend_schema(
        summary="What each kind and model offers, with prices",
        operation_id="list_models",
        responses={200: ModelsSerializer, **ERROR_RESPONSES},
        tags=["models"],
    )
    def get(self, request):
        return Response({"kinds": capability_table()})


class QuoteView(BaseAPIView):
    @extend_schema(
        summary="Price a request without creating anything",
        operation_id="quote_generation",
        request=CREATE_REQUEST,
        responses={
            200: QuoteSerializer,
            422: OpenApiResponse(ErrorSerializer, description="not_offered"),
            **ERROR_RESPONSES,
        },
        examples=[CREATE_EXAMPLE],
        tags=["generations"],
    )
    def post(self, request):
        prepared = prepare(request.data, request.user, check_webhook=False)
        prepared.close()
        quote = prepared.form.quote
        balance = ledger.balance_of(request.user)
        model = prepared.form.model
        return Response(
            {
                "kind": prepared.kind,
                "model_name": model.name,
                "credits": quote.credits,
                "unit_credits": quote.unit_credits,
                "count": quote.count,
                "balance": balance,
                "affordable": balance >= quote.credits,
            }
        )


# --- lip-sync's first step -------------------------------------------------------------------


FACES_RESPONSE = inline_serializer(
    "FacesFound",
    {
        "session_id": serializers.CharField(),
        "video_seconds": serializers.FloatField(),
        "expires_at": serializers.DateTimeField(),
        "faces": inline_serializer(
            "Face",
            {
                "face_id": serializers.CharField(),
                "start_time": serializers.IntegerField(help_text="Milliseconds."),
                "end_time": serializers.IntegerField(help_text="Milliseconds."),
                "face_image": serializers.URLField(
                    allow_null=True,
                    help_text="Our copy of the thumbnail (GET it with your key); null when it could not be copied.",
                ),
            },
            many=True,
        ),
    },
)


class FacesView(BaseAPIView):
    """Kling's identify-face on one of your finished videos (`video_id`, Kling's id) or
    another video (`video_url`: an https URL we fetch, or Base64): the faces come back at
    once, and the `session_id` and a `face_id` then go in a `lip_sync` create body (for
    24 hours)."""

    @extend_schema(
        summary="Find the faces in a video, for lip-sync",
        operation_id="find_faces",
        request={
            "application/json": {
                "type": "object",
                "properties": {"video_id": {"type": "string"}, "video_url": {"type": "string"}},
            }
        },
        responses={
            201: OpenApiResponse(FACES_RESPONSE, description="The session and the faces in the video"),
            **ERROR_RESPONSES,
        },
        tags=["generations"],
    )
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        video_id, video_url = str(body.get("video_id") or "")[:64], body.get("video_url") or ""
        if bool(video_id) == bool(video_url):
            raise errors.validation_error({"video_url": [_("Give exactly one of video_id and video_url.")]})
        upload = None
        try:
            if video_url:
                upload = api_inputs.to_upload(str(video_url), api_inputs.VIDEO_MAX_BYTES)
            session = services.identify_faces(request.user, video_id=video_id, upload=upload)
            media.keep_face_pictures(session)
        except ValidationError as exc:
            details = getattr(exc, "error_dict", None) and exc.message_dict
            raise errors.validation_error(details or {"video_url": exc.messages}) from None
        finally:
            if upload is not None:
                upload.close()
        return Response(
            {
                "session_id": session.session_id,
                "video_seconds": session.video_seconds,
                "expires_at": session.expires_at,
                "faces": [_face(request, session, face) for face in session.faces],
            },
            status=http.HTTP_201_CREATED,
        )


def _face(request, session, face: dict) -> dict:
    """A face as the API shows it: `face_image` is our copy of the thumbnail, fetched with
    the same key (never Kling's link, which expires), or None when it could not be copied."""
    url = None
    if face.get("picture"):
        path = reverse("api:face_picture", args=[session.session_id, str(face.get("face_id"))])
        url = request.build_absolute_uri(path)
    shown = {key: face.get(key) for key in ("face_id", "start_time", "end_time")}
    return {**shown, "face_image": url}


class ServerChosenContent(DefaultContentNegotiation):
    """A file endpoint answers in the file's own type: a client asking for `image/*` gets
    the picture (or a JSON error), not 406 because JSON is the only renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FacePictureView(BaseAPIView):
    """Our copy of one face's thumbnail from `POST /api/v1/faces` (the `face_image` link).
    Only the key's owner sees it; another person's session is 404."""

    content_negotiation_class = ServerChosenContent

    @extend_schema(
        summary="A face's thumbnail",
        operation_id="face_picture",
        responses={
            **{
                (200, image): OpenApiResponse(OpenApiTypes.BINARY, description="The thumbnail")
                for image in ("image/jpeg", "image/png", "image/webp")
            },
            404: OpenApiResponse(ErrorSerializer, description="not_found"),
            **{code: ERROR_RESPONSES[code] for code in (401, 403, 429)},
        },
        tags=["generations"],
    )
    def get(self, request, session_id: str, face_id: str):
        session = FaceSession.objects.filter(owner=request.user, session_id=session_id).first()
        if session is None or media.face_picture(session, face_id) is None:
            raise errors.not_found(_("No such file."))
        response = serve_face_picture(request, session, face_id)
        response["Cache-Control"] = "private, no-store"
        return response


# --- generations ----------------------------------------------------------------------------


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def _body_digest(body) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise errors.validation_error(
            {
                "Idempotency-Key": [
                    _("Use 1 to %(count)d printable ASCII characters, such as a UUID.")
                    % {"count": IDEMPOTENCY_KEY_MAX}
                ]
            }
        )
    return key


def _conflict() -> errors.APIError:
    return errors.APIError(
        "idempotency_conflict",
        _("This Idempotency-Key was already used with a different body."),
        status_code=http.HTTP_409_CONFLICT,
    )


def _claim_key(user, key: str, digest: str) -> IdempotencyRecord:
    """The record of this key, made now unless a parallel request made it first."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(user=user, key=key, request_hash=digest)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user=user, key=key)
        if record.request_hash != digest:
            raise _conflict() from None
        return record


def create(request, prepared, key: str, record: IdempotencyRecord | None) -> tuple[Generation, bool]:
    """Create the generation (or find the one this key created); True when this call made it."""
    from outbound_webhooks.subscriptions import subscribe

    client_token = ""
    if key:
        # The page's duplicate guard (one generation per person and token, by a unique
        # constraint) is what makes parallel requests with one key create one generation.
        client_token = "api:" + hashlib.sha256(key.encode()).hexdigest()[:56]
    form = prepared.form
    try:
        with transaction.atomic():
            generation = services.create_generation(
                request.user, prepared.kind, form.cleaned_data, client_token, price_book=form.price_book
            )
            created = True
            if record is not None:
                created = bool(
                    IdempotencyRecord.objects.filter(pk=record.pk, generation__isnull=True).update(
                        generation=generation
                    )
                )
            if created:
                subscribe(generation, prepared.webhook_url)
    except ValidationError as exc:
        if exc.error_dict.keys() == {"__all__"} and any(
            e.code == "too_many_queued" for e in exc.error_dict["__all__"]
        ):
            raise errors.APIError(
                "too_many_queued", " ".join(exc.messages), status_code=http.HTTP_429_TOO_MANY_REQUESTS
            ) from None
        raise errors.validation_error(
            {("non_field_errors" if f == "__all__" else f): m for f, m in exc.message_dict.items()}
        ) from None
    except pricing.NotOffered as exc:
        raise errors.APIError(
            "not_offered",
            str(exc),
            status_code=http.HTTP_422_UNPROCESSABLE_ENTITY,
            details={exc.field: [str(exc)]},
        ) from None
    except ledger.InsufficientCredits as exc:
        raise errors.insufficient_credits(exc.balance, exc.needed) from None
    except ledger.AccountFrozen as exc:
        raise errors.APIError("account_frozen", str(exc), status_code=http.HTTP_403_FORBIDDEN) from None
    return generation, created


class GenerationListView(BaseAPIView):
    throttle_classes = [APIRateThrottle, CreateRateThrottle]

    @extend_schema(
        summary="Your generations, newest first",
        operation_id="list_generations",
        parameters=[
            OpenApiParameter("kind", str, enum=list(Kind.values), description="Only this kind."),
            OpenApiParameter("status", str, enum=list(Status.values), description="Only this status."),
            OpenApiParameter("page_size", int, description="1 to 100 (20 by default)."),
        ],
        responses={200: GenerationPageSerializer, **ERROR_RESPONSES},
        tags=["generations"],
    )
    def get(self, request):
        generations = _owned(request.user)
        problems = {}
        for name, allowed in (("kind", Kind.values), ("status", Status.values)):
            value = request.query_params.get(name)
            if value is None:
                continue
            if value not in allowed:
                problems[name] = [_("Choose one of %(choices)s.") % {"choices": ", ".join(allowed)}]
            else:
                generations = generations.filter(**{name: value})
        if problems:
            raise errors.validation_error(problems)
        paginator = NewestFirst()
        page = list(paginator.paginate_queryset(generations, request, view=self))
        data = GenerationSerializer(page, many=True, context=generation_context(request, page)).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        summary="Create a generation (charged when accepted, refunded if it fails)",
        operation_id="create_generation",
        request=CREATE_REQUEST,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Send the same key to retry safely: one generation, one charge.",
            )
        ],
        responses={
            201: GenerationSerializer,
            200: OpenApiResponse(
                GenerationSerializer, description="The generation this Idempotency-Key made."
            ),
            402: OpenApiResponse(ErrorSerializer, description="insufficient_credits"),
            409: OpenApiResponse(ErrorSerializer, description="idempotency_conflict"),
            413: OpenApiResponse(ErrorSerializer, description="payload_too_large"),
            422: OpenApiResponse(ErrorSerializer, description="not_offered"),
            **ERROR_RESPONSES,
        },
        examples=[CREATE_EXAMPLE],
        tags=["generations"],
    )
    def post(self, request):
        key = _idempotency_key(request)
        body = request.data
        digest = _body_digest(body)
        record = None
        if key:
            record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if record is not None:
                if record.request_hash != digest:
                    raise _conflict()
                if record.generation_id:
                    return _render_generation(request, _owned(request.user).get(pk=record.generation_id))
        prepared = prepare(body, request.user, check_webhook=True)
        if key and record is None:
            try:
                record = _claim_key(request.user, key, digest)
            except errors.APIError:
                prepared.close()
                raise
        try:
            generation, created = create(request, prepared, key, record)
        finally:
            prepared.close()
        generation = _owned(request.user).get(pk=generation.pk)
        url = reverse("api:generation", args=[generation.pk])
        return _render_generation(request, generation, 201 if created else 200, Location=url)


class GenerationDetailView(BaseAPIView):
    @extend_schema(
        summary="One generation; ?wait=N waits up to N s (30 at most) for it to finish",
        operation_id="get_generation",
        parameters=[
            OpenApiParameter(
                "wait",
                int,
                description="Seconds to wait for a finished state (0 to 30); answers at once when finished.",
            )
        ],
        responses={
            200: GenerationSerializer,
            404: OpenApiResponse(ErrorSerializer, description="not_found"),
            **ERROR_RESPONSES,
        },
        tags=["generations"],
    )
    def get(self, request, generation_id: int):
        raw = request.query_params.get("wait", "0")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
            raise errors.validation_error(
                {"wait": [_("Give whole seconds from 0 to %(most)d.") % {"most": WAIT_CAP}]}
            )
        deadline = time.monotonic() + min(int(raw), WAIT_CAP)
        while True:
            generation = _owned(request.user).filter(pk=generation_id).first()
            if generation is None:
                raise errors.not_found(_("No such generation."))
            remaining = deadline - time.monotonic()
            if not generation.is_live or remaining <= 0:
                return _render_generation(request, generation)
            _release_connection()
            time.sleep(min(WAIT_STEP, remaining))

    @extend_schema(
        summary="Delete a generation (its credits history stays)",
        operation_id="delete_generation",
        responses={
            204: None,
            404: OpenApiResponse(ErrorSerializer, description="not_found"),
            **ERROR_RESPONSES,
        },
        tags=["generations"],
    )
    def delete(self, request, generation_id: int):
        if not services.delete_generation(request.user, generation_id):
            raise errors.not_found(_("No such generation."))
        return Response(status=http.HTTP_204_NO_CONTENT)


def _release_connection() -> None:
    """Give the database connection back while a long-poll sleeps, so a waiting client
    holds a web thread but no connection (the next read opens one). Inside a transaction
    (tests) there is nothing to give back without losing it, so it stays."""
    if not connection.in_atomic_block:
        connection.close()


# --- credits --------------------------------------------------------------------------------


class CreditsView(BaseAPIView):
    @extend_schema(
        summary="Your balance and credit history, newest first",
        operation_id="get_credits",
        parameters=[OpenApiParameter("page_size", int, description="1 to 100 (20 by default).")],
        responses={200: CreditsSerializer, **ERROR_RESPONSES},
        tags=["credits"],
    )
    def get(self, request):
        paginator = NewestFirst()
        entries = paginator.paginate_queryset(ledger.history(request.user), request, view=self)
        return Response(
            {
                "balance": ledger.balance_of(request.user),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": LedgerEntrySerializer(entries, many=True).data,
            }
        )


# --- files and the guide ----------------------------------------------------------------------


@require_GET
def signed_file(request: HttpRequest, token: str) -> HttpResponse:
    """A result file by the signed link an API answer gave (api.files)."""
    try:
        found = files.resolve(token)
    except files.Expired:
        return JsonResponse(
            errors.body("link_expired", _("This link has expired; fetch the generation again.")), status=403
        )
    if found is None:
        return JsonResponse(errors.body("not_found", _("No such file.")), status=404)
    asset, which = found
    if which == "thumbnail":
        response = serve_file(
            request, asset.thumbnail, "image/jpeg", f"thumbnail-{asset.pk}.jpg", attachment=False
        )
    else:
        response = serve_file(
            request,
            asset.file,
            asset.content_type,
            asset.generation.download_name(asset),
            attachment=bool(request.GET.get("download")),
        )
    response["Cache-Control"] = "private, no-store"
    return response


def _rate_sentence() -> str:
    """The request limits of a key, in the reader's language (0 in a setting means none)."""
    numbers = {"rate": settings.API_RATE_PER_MINUTE, "create_rate": settings.API_CREATE_RATE_PER_MINUTE}
    if numbers["rate"] and numbers["create_rate"]:
        sentence = _("Each key may make %(rate)d requests a minute, %(create_rate)d of them creates.")
    elif numbers["rate"]:
        sentence = _("Each key may make %(rate)d requests a minute, creates included.")
    elif numbers["create_rate"]:
        sentence = _("Each key may make any number of requests a minute, %(create_rate)d of them creates.")
    else:
        sentence = _("Keys have no limit on requests a minute.")
    return sentence % numbers


def guide(request: HttpRequest) -> HttpResponse:
    """How to use the API, with links built for this site."""
    urls = {
        name: request.build_absolute_uri(reverse(f"api:{name}"))
        for name in ("models", "quote", "generations", "credits", "faces", "batches")
    }
    context = {
        "urls": urls,
        "kinds": offered_kinds(),
        "batch_kinds": [str(kind) for kind in batch_services.BATCH_KINDS],
        "batch_rows": batch_services.MAX_ROWS,
        "face_hours": capabilities.FACE_SESSION_HOURS,
        "faces_per_hour": services.FACE_SESSIONS_PER_HOUR,
        "video_days": capabilities.EXTEND_SOURCE_DAYS,
        "video_mb": api_inputs.VIDEO_MAX_BYTES // api_inputs.MB,
        "image_mb": api_inputs.IMAGE_MAX_BYTES // api_inputs.MB,
        "wait_cap": WAIT_CAP,
        "body_limit_mb": settings.API_MAX_BODY_BYTES // (1024 * 1024),
        "rate_sentence": _rate_sentence(),
    }
    return render(request, "api/guide.html", context)


@csrf_exempt  # it changes nothing; without this a DELETE would get Django's HTML 403
def unknown_endpoint(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other path under /api/v1/ (or an id that is not a number): JSON, like every answer."""
    return JsonResponse(errors.body("not_found", _("No such endpoint or object.")), status=404)
