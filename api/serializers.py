"""Request and answer shapes of the API.

Create and quote bodies are built from the page forms themselves (generations.forms.FORMS):
one request serializer per kind, with a field for each form field, typed from the form
field. The serializer checks types and names only; the values then go through the very
form the page uses (`prepare`), so the API and the pages refuse the same things with the
same words, and a kind added to FORMS is in the API at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import errors, files, inputs
from generations import capabilities, providers, services
from generations.forms import FORMS, GenerationForm
from generations.models import Asset, Generation, Kind, Status
from kling_site import stored_text

# Form fields the API leaves out: the page's own bookkeeping (its idempotency token, the
# remix source, the length the browser measured) and the start frame's address, which the
# page hands to Kling as it is; the API fetches any picture URL itself (api.inputs).
HIDDEN_FORM_FIELDS = {"client_token", "image_from", "video_seconds"}
FILE_HELP = "An https:// URL (fetched by us, public addresses only) or the file as Base64 or a data: URI."


def offered_kinds() -> list[str]:
    """The kinds this site makes with its configured provider."""
    return [kind for kind in FORMS if providers.offers(capabilities.product_for(kind))]


def _max_bytes(form_field: django_forms.Field) -> int:
    accept = str(form_field.widget.attrs.get("accept", ""))
    return inputs.VIDEO_MAX_BYTES if "video" in accept else inputs.IMAGE_MAX_BYTES


def _api_field(name: str, form_field: django_forms.Field) -> serializers.Field | None:
    """The serializer field for one form field (types only: the form checks the values)."""
    common: dict[str, Any] = {
        "required": False,
        "allow_null": True,
        "help_text": str(form_field.help_text or form_field.label or ""),
    }
    if name in HIDDEN_FORM_FIELDS or isinstance(form_field, django_forms.URLField):
        return None
    if isinstance(form_field, django_forms.FileField):
        common["help_text"] = f"{common['help_text']} {FILE_HELP}".strip()
        max_length = (_max_bytes(form_field) + 2) // 3 * 4 + 200
        if getattr(form_field.widget, "allow_multiple_selected", False):
            return serializers.ListField(
                child=serializers.CharField(max_length=max_length), max_length=10, **common
            )
        return serializers.CharField(max_length=max_length, **common)
    if isinstance(form_field, django_forms.BooleanField):
        return serializers.BooleanField(**common)
    if isinstance(form_field, django_forms.TypedChoiceField) and form_field.coerce is int:
        return serializers.IntegerField(**common)
    if isinstance(form_field, django_forms.FloatField):
        return serializers.FloatField(**common)
    if isinstance(form_field, django_forms.ChoiceField):
        # A string, not an enum: the choices depend on the model (the form checks them and
        # GET /api/v1/models lists them), and enums shared between kinds would collide.
        choices = [str(value) for value, _ in form_field.choices if value != ""]
        if choices:
            common["help_text"] = f"{common['help_text']} One of: {', '.join(choices)}.".strip()
        return serializers.CharField(max_length=100, allow_blank=True, **common)
    max_length = getattr(form_field, "max_length", None) or 10_000
    return serializers.CharField(max_length=max_length, allow_blank=True, trim_whitespace=False, **common)


def _create_serializer(kind: str, form_class: type[GenerationForm]) -> type[serializers.Serializer]:
    fields: dict[str, serializers.Field] = {
        "kind": serializers.CharField(help_text=f"What to make: {kind}."),
    }
    for name, form_field in form_class.base_fields.items():
        field = _api_field(name, form_field)
        if field is not None:
            fields[name] = field
    fields["webhook_url"] = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=2000,
        help_text="Where to POST a signed notice when it finishes (optional; see the guide).",
    )
    # "text2video" -> TextToVideo (drf-spectacular adds "Request" to request components).
    name = "".join(part.capitalize() for part in kind.replace("2", "_to_").split("_"))
    return type(name, (serializers.Serializer,), fields)


CREATE_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    str(kind): _create_serializer(kind, form_class) for kind, form_class in FORMS.items()
}


def _file_fields(form_class: type[GenerationForm]) -> dict[str, django_forms.FileField]:
    return {
        name: field
        for name, field in form_class.base_fields.items()
        if isinstance(field, django_forms.FileField) and name not in HIDDEN_FORM_FIELDS
    }


@dataclass
class Prepared:
    kind: str
    form: GenerationForm
    webhook_url: str | None
    uploads: list

    def close(self) -> None:
        """Delete the temporary files (the generation keeps its own stored copies)."""
        _close(self.uploads)


def _close(uploads: list) -> None:
    for upload in uploads:
        upload.close()


def _defaults(form_class: type[GenerationForm], user, model_name: str | None) -> dict[str, Any]:
    """What the page would preselect for this model: the API fills what a client leaves out."""
    blank = form_class(initial={"model_name": model_name} if model_name else {}, user=user)
    return {
        key: value
        for key, value in blank.initial.items()
        if key not in HIDDEN_FORM_FIELDS and key in blank.fields and value is not None
    }


def _form_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    return str(value)


def prepare(body: Any, user, *, check_webhook: bool) -> Prepared:
    """Validate a create (or quote) body through the kind's page form; raise APIError."""
    if not isinstance(body, dict):
        raise errors.validation_error({"non_field_errors": [_("Send a JSON object.")]})
    kind = body.get("kind")
    kinds = offered_kinds()
    if kind not in kinds:
        raise errors.validation_error(
            {"kind": [_("Choose one of %(choices)s.") % {"choices": ", ".join(kinds)}]}
        )
    serializer_class = CREATE_SERIALIZERS[kind]
    serializer = serializer_class(data=body)
    unknown = sorted(set(body) - set(serializer.fields))
    if unknown:
        raise errors.validation_error(
            {name: [_("Unknown field for %(kind)s.") % {"kind": kind}] for name in unknown},
            _("The request has fields the API does not know: %(fields)s.") % {"fields": ", ".join(unknown)},
        )
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    given = {k: v for k, v in serializer.validated_data.items() if v is not None and k != "kind"}
    webhook_url = given.pop("webhook_url", None)
    if check_webhook and webhook_url:
        from outbound_webhooks.subscriptions import check_webhook_url

        try:
            webhook_url = check_webhook_url(webhook_url)
        except ValidationError as exc:
            raise errors.validation_error({"webhook_url": exc.messages}) from None

    form_class = FORMS[kind]
    file_fields = _file_fields(form_class)
    uploads: dict[str, Any] = {}
    opened: list = []
    try:
        problems: dict[str, list[str]] = {}
        for name in [n for n in given if n in file_fields]:
            value = given.pop(name)
            limit = _max_bytes(file_fields[name])
            try:
                if isinstance(value, list):
                    uploads[name] = []
                    for item in value:
                        uploads[name].append(inputs.to_upload(item, limit))
                        opened.append(uploads[name][-1])
                else:
                    uploads[name] = inputs.to_upload(value, limit)
                    opened.append(uploads[name])
            except ValidationError as exc:
                problems[name] = exc.messages
        if problems:
            raise errors.validation_error(problems)
        form = _bound_form(form_class, user, given, uploads)
    except BaseException:
        _close(opened)
        raise
    return Prepared(kind=kind, form=form, webhook_url=webhook_url, uploads=opened)


def _bound_form(form_class: type[GenerationForm], user, given: dict, uploads: dict) -> GenerationForm:
    data = {**_defaults(form_class, user, given.get("model_name")), **given}
    form = form_class({k: _form_value(v) for k, v in data.items()}, _FileDict(uploads), user=user)
    valid = form.is_valid()
    dropped = sorted(name for name in [*given, *uploads] if name not in form.fields)
    if dropped:
        model = getattr(form, "model", None)
        label = getattr(model, "label", None) or _("This model")
        raise errors.validation_error(
            {
                name: [
                    _("%(model)s does not take %(field)s with these options.")
                    % {"model": label, "field": name}
                ]
                for name in dropped
            }
        )
    if not valid:
        details = {
            ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in form.errors.items()
        }
        raise errors.validation_error(details)
    return form


class _FileDict(dict):
    """The form's `files`: MultiValueDict's getlist for the multi-file fields."""

    def getlist(self, key: str) -> list:
        value = self.get(key)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


# --- answers ------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: validation_error, insufficient_credits, not_found, ...")
    message = serializers.CharField()
    details = serializers.DictField(
        child=serializers.JSONField(), help_text="{field: [messages]} and figures."
    )


class OutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Asset.Kind.values)
    index = serializers.IntegerField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="A signed link to our copy, valid for a while.")
    thumbnail_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, asset: Asset) -> str:
        return links(self.context).file(asset, "file")

    @extend_schema_field({"type": ["string", "null"], "format": "uri"})
    def get_thumbnail_url(self, asset: Asset) -> str | None:
        if not asset.thumbnail:
            return None
        return links(self.context).file(asset, "thumbnail")


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    elapsed_seconds = serializers.IntegerField()
    estimate_seconds = serializers.IntegerField()
    percent = serializers.IntegerField()


class GenerationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.values)
    status = serializers.ChoiceField(choices=Status.values)
    finished = serializers.SerializerMethodField(help_text="Terminal and, on success, results saved.")
    model_name = serializers.CharField()
    mode = serializers.CharField()
    duration = serializers.IntegerField(allow_null=True)
    sound = serializers.BooleanField(source="audio")
    prompt = serializers.CharField()
    params = serializers.DictField(child=serializers.JSONField(), help_text="The request, in Kling's names.")
    cost = serializers.IntegerField(help_text="Credits charged when it was accepted.")
    refunded = serializers.IntegerField(source="refunded_credits", help_text="Credits given back.")
    error = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    results_saved_at = serializers.DateTimeField(source="assets_saved_at", allow_null=True)
    outputs = OutputSerializer(source="assets", many=True)
    web_url = serializers.SerializerMethodField(help_text="Its page on the site.")

    def get_finished(self, generation: Generation) -> bool:
        return not generation.is_live

    @extend_schema_field(FailureSerializer(allow_null=True))
    def get_error(self, generation: Generation) -> dict | None:
        if generation.status != Status.FAILED:
            return None
        return {
            "code": generation.error_code or "failed",
            "message": stored_text.translated(generation.error_message),
        }

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, generation: Generation) -> dict | None:
        # The view passes every item's progress at once (one query for the page).
        progress = self.context.get("progress", {}).get(generation.pk)
        if progress is None:
            return None
        return {
            "elapsed_seconds": progress.elapsed_seconds,
            "estimate_seconds": progress.estimate_seconds,
            "percent": progress.percent,
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, generation: Generation) -> str:
        return links(self.context).url("generations:detail", generation.pk)


class Links:
    """Absolute links for one answer. Each route is reversed once and then filled in per
    item: reverse() and build_absolute_uri() for every output and generation were most of
    the time of a page of 50 (about 3 ms an item), with a constant number of queries."""

    # Digits pass both the int and the str path converters and are left as they are.
    PLACEHOLDER = "918273645"

    def __init__(self, request) -> None:
        self.request = request
        self.signer = files.signer()
        self._templates: dict[str, tuple[str, str]] = {}

    def url(self, name: str, arg: int | str) -> str:
        if name not in self._templates:
            template = self.request.build_absolute_uri(reverse(name, args=[self.PLACEHOLDER]))
            before, _sep, after = template.rpartition(self.PLACEHOLDER)
            self._templates[name] = (before, after)
        before, after = self._templates[name]
        return f"{before}{arg}{after}"

    def file(self, asset: Asset, which: str) -> str:
        # Signed tokens are URL-safe Base64 and colons, which reverse() leaves unquoted too.
        return self.url("api:file", files.sign(asset, which, self.signer))


def links(context: dict) -> Links:
    if "links" not in context:
        context["links"] = Links(context["request"])
    return context["links"]


def generation_context(request, generations: list[Generation]) -> dict:
    """The serializer context for these generations: the request, their progress and the
    link builder."""
    return {"request": request, "progress": services.progress_for(generations), "links": Links(request)}


class QuoteSerializer(serializers.Serializer):
    kind = serializers.CharField()
    model_name = serializers.CharField()
    credits = serializers.IntegerField(help_text="What creating it would charge.")
    unit_credits = serializers.IntegerField(help_text="Per clip, image or second.")
    count = serializers.IntegerField(help_text="Images (1 for videos).")
    balance = serializers.IntegerField()
    affordable = serializers.BooleanField()


class PriceSerializer(serializers.Serializer):
    mode = serializers.CharField(allow_null=True, help_text="null: any mode.")
    duration = serializers.IntegerField(allow_null=True, help_text="Seconds; null: any length.")
    sound = serializers.BooleanField(allow_null=True, help_text="null: with or without.")
    credits = serializers.IntegerField()
    per = serializers.ChoiceField(choices=["clip", "image", "second"])


class ModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    modes = serializers.ListField(child=serializers.CharField())
    durations = serializers.ListField(child=serializers.IntegerField())
    aspect_ratios = serializers.ListField(child=serializers.CharField())
    prompt_limit = serializers.IntegerField()
    negative_prompt_limit = serializers.IntegerField()
    options = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Everything else the table says (sound, camera, end frame...).",
    )
    prices = PriceSerializer(many=True)


class KindSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    request_fields = serializers.ListField(child=serializers.CharField())
    models = ModelSerializer(many=True)


class ModelsSerializer(serializers.Serializer):
    kinds = KindSerializer(many=True)


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.IntegerField(help_text="Signed: positive adds credits.")
    balance_after = serializers.IntegerField()
    memo = serializers.CharField()
    generation_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class CreditsSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LedgerEntrySerializer(many=True)


class GenerationPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GenerationSerializer(many=True)
