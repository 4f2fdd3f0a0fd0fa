"""Batches in the REST API (`/api/v1/batches`): many prompts of one kind and one set of
options, each row a normal generation, all charged in one transaction or none. Thin: the
rules are `batches.services`, the same the batch page calls."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.response import Response

from api import errors
from api.serializers import ErrorSerializer, GenerationSerializer, generation_context
from api.throttles import APIRateThrottle, CreateRateThrottle
from api.views import ERROR_RESPONSES, BaseAPIView, NewestFirst
from batches import services
from batches.models import Batch, BatchItem
from billing import ledger
from generations import pricing
from generations.models import Asset


class BatchCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(services.BATCH_KINDS))
    options = serializers.DictField(
        required=False,
        default=dict,
        help_text="The options every row shares, as for one generation of this kind (model_name, "
        "aspect_ratio, duration, ...), without the prompt.",
    )
    prompts = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=True),
        min_length=1,
        max_length=services.MAX_ROWS,
        help_text=f"1 to {services.MAX_ROWS} prompts, one per row.",
    )
    client_token = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Send the same token to retry safely: one batch, one set of charges.",
    )


class BatchProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    running = serializers.IntegerField()
    total = serializers.IntegerField()


class BatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    options = serializers.DictField()
    total_cost = serializers.IntegerField(help_text="Credits charged for all rows.")
    created_at = serializers.DateTimeField()
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_progress(self, batch: Batch) -> dict:
        return BatchProgressSerializer(services.progress(batch)).data

    def get_url(self, batch: Batch) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:batch", args=[batch.pk]))


class BatchItemSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    prompt = serializers.CharField()
    generation = serializers.SerializerMethodField()

    def get_generation(self, item: BatchItem) -> dict:
        return GenerationSerializer(item.generation, context=self.context).data


class BatchDetailSerializer(BatchSerializer):
    items = serializers.SerializerMethodField()

    def get_items(self, batch: Batch) -> list[dict]:
        items = list(
            batch.items.select_related("generation").prefetch_related(
                Prefetch("generation__assets", queryset=Asset.objects.order_by("index"))
            )
        )
        context = {
            **self.context,
            **generation_context(self.context["request"], [i.generation for i in items]),
        }
        return BatchItemSerializer(items, many=True, context=context).data


class BatchPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BatchSerializer(many=True)


def _detail(request, batch: Batch, status_code: int = 200, **headers) -> Response:
    return Response(
        BatchDetailSerializer(batch, context={"request": request}).data,
        status=status_code,
        headers=headers or None,
    )


class BatchListView(BaseAPIView):
    throttle_classes = [APIRateThrottle, CreateRateThrottle]

    @extend_schema(
        summary="Your batches, newest first",
        operation_id="list_batches",
        responses={200: BatchPageSerializer, **ERROR_RESPONSES},
        tags=["batches"],
    )
    def get(self, request):
        paginator = NewestFirst()
        page = list(paginator.paginate_queryset(Batch.objects.filter(owner=request.user), request, view=self))
        return paginator.get_paginated_response(
            BatchSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        summary="Create a batch: every row charged in one transaction, or none",
        operation_id="create_batch",
        request=BatchCreateSerializer,
        responses={
            201: BatchDetailSerializer,
            200: OpenApiResponse(BatchDetailSerializer, description="The batch this client_token made."),
            402: OpenApiResponse(ErrorSerializer, description="insufficient_credits"),
            422: OpenApiResponse(ErrorSerializer, description="not_offered"),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "Three pictures",
                value={
                    "kind": "text2image",
                    "options": {
                        "model_name": "kling-v2-1",
                        "aspect_ratio": "1:1",
                        "resolution": "1k",
                        "n": 1,
                    },
                    "prompts": ["A red fox", "A blue whale", "A green parrot"],
                },
                request_only=True,
            )
        ],
        tags=["batches"],
    )
    def post(self, request):
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = data.get("client_token") or ""
        existing = Batch.objects.filter(owner=request.user, client_token=token).first() if token else None
        if existing is not None:
            return _detail(request, existing)
        rows = [services.Row(number, prompt, {}) for number, prompt in enumerate(data["prompts"], start=1)]
        empty = [row.number for row in rows if not row.prompt]
        if empty:
            raise errors.validation_error(
                {"prompts": [_("Row %(number)d: write a prompt.") % {"number": number} for number in empty]}
            )
        options = {
            name: value for name, value in data["options"].items() if name not in ("prompt", "client_token")
        }
        try:
            batch = services.create_batch(request.user, data["kind"], options, rows, client_token=token)
        except ValidationError as exc:
            raise errors.validation_error({"prompts": exc.messages}) from None
        except pricing.NotOffered as exc:
            raise errors.APIError(
                "not_offered", str(exc), status_code=http.HTTP_422_UNPROCESSABLE_ENTITY
            ) from None
        except ledger.InsufficientCredits as exc:
            raise errors.insufficient_credits(exc.balance, exc.needed) from None
        except ledger.AccountFrozen as exc:
            raise errors.APIError("account_frozen", str(exc), status_code=http.HTTP_403_FORBIDDEN) from None
        return _detail(request, batch, 201, Location=reverse("api:batch", args=[batch.pk]))


class BatchDetailView(BaseAPIView):
    @extend_schema(
        summary="One batch with its rows and their generations",
        operation_id="get_batch",
        responses={
            200: BatchDetailSerializer,
            404: OpenApiResponse(ErrorSerializer, description="not_found"),
            **ERROR_RESPONSES,
        },
        tags=["batches"],
    )
    def get(self, request, batch_id: int):
        batch = Batch.objects.filter(owner=request.user, pk=batch_id).first()
        if batch is None:
            raise errors.not_found(_("No such batch."))
        return _detail(request, batch)
