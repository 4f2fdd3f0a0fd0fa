"""The create forms, one per kind, shaped by the capability table.

Field names are Kling's (`prompt`, `negative_prompt`, `model_name`, `mode`, `duration`,
`aspect_ratio`, `cfg_scale`, `sound`, `n`, `image`, `image_tail`, `image_url`,
`image_fidelity`, `image_reference`, `resolution`), plus our camera helpers and the
hidden idempotency token. A form offers only the options its chosen model has in the
chosen mode and duration; `clean()` runs the same `capabilities.validate()` that
`services.create_generation()` runs again, and prices the result.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.formats import number_format
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from PIL import Image

from generations import capabilities, effects, pricing, services, uploads
from generations.capabilities import ImageModel, VideoModel
from generations.models import Asset, Generation, Kind
from subjects import services as subject_services

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_SIDE = 300
MAX_RATIO = 2.5
UPLOAD_FORMATS = {"JPEG", "PNG"}
UPLOAD_ACCEPT = "image/jpeg,image/png"


def check_image_upload(upload) -> None:
    """Kling's rules for input pictures, each failure in plain words: JPEG or PNG, at most
    10 MB, each side at least 300 px, no wider or taller than 2.5:1. Leaves the detected
    format on `upload.image_format` for the stored file name."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            gettext("This file is %(size)s MB; pictures can be at most 10 MB.")
            % {"size": number_format(upload.size / 1024 / 1024, 1)},
            code="too_large",
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError(
            gettext("This file is not a picture we can read. Use a JPEG or PNG image."), code="unreadable"
        ) from None
    finally:
        upload.seek(0)
    if image_format not in UPLOAD_FORMATS:
        raise ValidationError(
            gettext("Only JPEG and PNG pictures are accepted; this one is %(format)s.")
            % {"format": image_format},
            code="format",
        )
    errors = []
    if min(width, height) < MIN_SIDE:
        errors.append(
            ValidationError(
                gettext("This picture is %(width)s x %(height)s px; each side needs at least %(min)s px.")
                % {"width": width, "height": height, "min": MIN_SIDE},
                code="too_small",
            )
        )
    ratio = width / height
    if ratio > MAX_RATIO or ratio < 1 / MAX_RATIO:
        too = (
            gettext(
                "This picture is too wide (%(width)s x %(height)s px); its sides must be within 2.5 : 1 of each other."
            )
            if ratio > 1
            else gettext(
                "This picture is too tall (%(width)s x %(height)s px); its sides must be within 2.5 : 1 of each other."
            )
        )
        errors.append(
            ValidationError(
                too % {"width": width, "height": height},
                code="aspect_ratio",
            )
        )
    if errors:
        raise ValidationError(errors)
    upload.image_format = image_format


TOO_MANY_PICTURES = {
    "subject": _("Give at most %(most)s subject pictures; you gave %(given)s."),
    "reference": _("Give at most %(most)s reference pictures; you gave %(given)s."),
}


def check_picture_list(pictures: list | None, most: int, role: str) -> list:
    """Several uploaded pictures checked at once, each problem named by its place in the list
    so the person knows which file to replace. `role` is "subject" or "reference" (the
    words the too-many message uses), or anything else for plain "pictures"."""
    pictures = pictures or []
    if len(pictures) > most:
        too_many = TOO_MANY_PICTURES.get(role, _("Give at most %(most)s pictures; you gave %(given)s."))
        raise ValidationError(str(too_many) % {"most": most, "given": len(pictures)})
    problems = []
    for number, upload in enumerate(pictures, start=1):
        try:
            check_image_upload(upload)
        except ValidationError as exc:
            problems += [
                gettext("Picture %(number)s (%(name)s): %(message)s")
                % {"number": number, "name": upload.name, "message": message}
                for message in exc.messages
            ]
    if problems:
        raise ValidationError(problems)
    return pictures


class FieldGroup:
    """A few of a form's fields, shaped like a form for the shared `_form_fields.html`."""

    def __init__(self, form: forms.Form, names: list[str]) -> None:
        self.fields = [form[name] for name in names if name in form.fields]

    def non_field_errors(self) -> list:
        return []

    def hidden_fields(self) -> list:
        return [f for f in self.fields if f.is_hidden]

    def visible_fields(self) -> list:
        return [f for f in self.fields if not f.is_hidden]

    def __bool__(self) -> bool:
        return bool(self.fields)


def _textarea(rows: int, placeholder: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "placeholder": placeholder})


class GenerationForm(forms.Form):
    kind: ClassVar[str]
    # Fields whose choices come from the model and that sit in the re-rendered options section.
    OPTION_FIELDS: ClassVar[list[str]] = []
    INPUT_FIELDS: ClassVar[list[str]] = ["prompt", "negative_prompt"]

    # Hidden fields never fail validation: nobody could see the error.
    client_token = forms.CharField(widget=forms.HiddenInput, required=False)
    # Remix: reuse the stored input picture of one's own earlier generation.
    image_from = forms.CharField(required=False, widget=forms.HiddenInput)
    # "Animate" / "Use as reference" on a finished picture's page: one of the person's own
    # result pictures (an Asset id) as the start frame or the first reference picture.
    picture_from = forms.CharField(required=False, widget=forms.HiddenInput)
    model_name = forms.ChoiceField(label=_("Model"))
    prompt = forms.CharField(
        label=_("Prompt"),
        widget=_textarea(4, _("A red fox trotting through fresh snow at dawn, soft golden light")),
        strip=True,
    )
    negative_prompt = forms.CharField(
        label=_("Negative prompt"),
        required=False,
        widget=_textarea(2, _("blur, distortion, text")),
        help_text=_("Optional: what you do not want to see."),
    )

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.quote: pricing.Quote | None = None
        # This request's price rows: the quote here and the charge in
        # services.create_generation read the same ones (the view passes the book on).
        self.price_book = pricing.PriceBook()
        self.notes: list[str] = []
        self.source: Generation | None = None
        self.picture: Asset | None = None
        self.model = self._chosen_model()
        self.fields["model_name"].choices = [(m.name, _(m.label)) for m in capabilities.models_for(self.kind)]
        self.fields["model_name"].error_messages["invalid_choice"] = _(
            "This model is not offered. Choose another one."
        )
        self._set("model_name", self.model.name)
        self.fit_to_model()
        # The prompt sits outside the part of the page that follows the model, so the
        # browser's limit is the kind's largest; the model's own limit is checked on submit
        # and stated next to the model.
        models = capabilities.models_for(self.kind)
        self.fields["prompt"].widget.attrs["maxlength"] = max(m.prompt_limit for m in models)
        self.fields["negative_prompt"].widget.attrs["maxlength"] = max(
            m.negative_prompt_limit for m in models
        )
        self.fields["model_name"].help_text = gettext(
            "%(model)s reads prompts of up to %(limit)s characters."
        ) % {
            "model": gettext(self.model.label),
            "limit": number_format(self.model.prompt_limit, force_grouping=True),
        }
        if self.kind != Kind.IMAGE2VIDEO:
            self.fields["prompt"].help_text = _(
                "Say who or what, doing what, where, in what light and style."
            )
        if not self.is_bound and not self.initial.get("client_token"):
            self.initial["client_token"] = uuid.uuid4().hex
        if user is not None:
            self.source = self._remix_source()
            self.picture = self._picture_source()
            self._offer_subjects()

    # --- current choices, from the submitted data or the initial values ----------------

    def _raw(self, name: str) -> Any:
        if self.is_bound:
            return self.data.get(name)
        return self.initial.get(name)

    def _set(self, name: str, value: Any) -> None:
        if not self.is_bound:
            self.initial[name] = value

    def _chosen_model(self):
        return capabilities.get(self.kind, self._raw("model_name") or "") or capabilities.default_model(
            self.kind
        )

    def _choose(self, name: str, allowed: tuple, default: Any, cast=str) -> Any:
        """The current value of a choice if the model allows it, else the default."""
        try:
            value = cast(self._raw(name))
        except (TypeError, ValueError):
            value = None
        if value not in allowed:
            value = default
        self._set(name, value)
        return value

    def _flag(self, name: str) -> bool:
        value = self._raw(name)
        return value not in (None, "", False, "false", "off", "0")

    def _offer(self, name: str, allowed: bool, note: str | None) -> bool:
        """Keep a field the current choices allow; otherwise drop it and say where it works.
        A submitted value is kept either way, so check() can explain a refusal next to it
        (a stale page, or a browser without htmx) instead of silently ignoring it."""
        if allowed:
            return True
        submitted = self.is_bound and (self.files.get(name) or self._flag(name))
        if not submitted:
            del self.fields[name]
            if note:
                self.notes.append(note)
        return bool(submitted)

    def fit_to_model(self) -> None:
        raise NotImplementedError

    def _remix_source(self) -> Generation | None:
        try:
            pk = int(self._raw("image_from") or 0)
        except (TypeError, ValueError):
            return None
        if not pk:
            return None
        return Generation.objects.owned_by(self.user).filter(pk=pk).exclude(input_image="").first()

    # Kinds that take a result picture, and the field it goes in.
    PICTURE_FIELDS: ClassVar[dict[str, str]] = {Kind.IMAGE2VIDEO: "image", Kind.OMNI_VIDEO: "image_list"}

    def _picture_source(self) -> Asset | None:
        if self.kind not in self.PICTURE_FIELDS:
            return None
        try:
            pk = int(self._raw("picture_from") or 0)
        except (TypeError, ValueError):
            return None
        if not pk:
            return None
        return (
            Asset.objects.filter(
                pk=pk,
                kind=Asset.Kind.IMAGE,
                generation__owner=self.user,
                generation__deleted_at__isnull=True,
            )
            .select_related("generation")
            .first()
        )

    def use_picture(self, data: dict[str, Any]) -> None:
        """Put the chosen result picture where an upload would be (the start frame, or the
        first reference picture: image_1), checked like an upload."""
        if self.picture is None:
            return
        field = self.PICTURE_FIELDS[self.kind]
        if field == "image" and (data.get("image") or data.get("image_url")):
            return
        with self.picture.file.open("rb") as handle:
            upload = SimpleUploadedFile(
                self.picture.file.name.rsplit("/", 1)[-1], handle.read(), self.picture.content_type
            )
        try:
            check_image_upload(upload)
        except ValidationError as exc:
            self.add_error(
                None,
                [
                    gettext("Picture from generation #%(id)s: %(message)s")
                    % {"id": self.picture.generation_id, "message": m}
                    for m in exc.messages
                ],
            )
            return
        if field == "image":
            data["image"] = upload
        else:
            data[field] = [upload, *(data.get(field) or [])]
            if len(data[field]) > capabilities.MAX_OMNI_IMAGES:
                self.add_error(
                    field,
                    gettext("Give at most %(most)s more reference pictures.")
                    % {"most": capabilities.MAX_OMNI_IMAGES - 1},
                )

    def _offer_subjects(self) -> None:
        """The person's saved subjects (Kling custom elements), where this kind and model
        take `element_list`: picked instead of uploading the same photos again."""
        self.subject_limit = subject_services.subject_limit(self.kind, self.model.name)
        if not self.subject_limit or not subject_services.available():
            return
        subjects = list(subject_services.usable_subjects(self.user))
        if not subjects:
            return
        self.fields["subjects"] = forms.TypedMultipleChoiceField(
            label=_("My subjects"),
            choices=[(s.pk, f"{s.name} ({s.get_kind_display()})") for s in subjects],
            coerce=int,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text=format_lazy(
                _(
                    "Up to {most}. In the prompt, the first ticked is <<<element_1>>>, the next <<<element_2>>>."
                ),
                most=self.subject_limit,
            ),
        )

    def clean_subjects(self) -> list[int]:
        picked = self.cleaned_data.get("subjects") or []
        if len(picked) > self.subject_limit:
            raise ValidationError(
                _("Pick at most %(most)s saved subjects here.") % {"most": self.subject_limit}
            )
        self.cleaned_data["element_list"] = subject_services.element_ids(self.user, picked)
        return picked

    # --- groups for the template ---------------------------------------------------------

    @property
    def input_fields(self) -> FieldGroup:
        return FieldGroup(self, ["client_token", *self.INPUT_FIELDS])

    @property
    def option_fields(self) -> FieldGroup:
        return FieldGroup(self, ["model_name", *self.OPTION_FIELDS, "subjects"])

    # --- validation ----------------------------------------------------------------------

    def clean_client_token(self) -> str:
        return (self.cleaned_data.get("client_token") or "")[:64]

    def clean_image_from(self) -> Generation | None:
        return self.source

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.use_picture(data)
        self.clean_images(data)
        if self.errors:
            return data
        values = services.request_values(self.kind, data)
        for field, message in capabilities.validate(self.kind, values).items():
            self.add_error(field if field in self.fields else None, message)
        if not self.errors:
            try:
                self.quote = pricing.quote(self.kind, values, book=self.price_book)
            except pricing.NotOffered as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data

    def clean_images(self, data: dict[str, Any]) -> None:
        return None

    def current_values(self) -> dict[str, Any]:
        """The options as they stand (not validated), for the live price."""
        values: dict[str, Any] = {"model_name": self.model.name}
        for name in ("mode", "aspect_ratio", "resolution"):
            if name in self.fields:
                values[name] = self._raw(name) if self.is_bound else self.initial.get(name)
        for name, cast in (("duration", int), ("n", int)):
            if name in self.fields:
                try:
                    values[name] = cast(self._raw(name) if self.is_bound else self.initial.get(name))
                except (TypeError, ValueError):
                    values[name] = None
        values["sound"] = "sound" in self.fields and not self.fields["sound"].disabled and self._flag("sound")
        return values

    def price_preview(self) -> tuple[pricing.Quote | None, str]:
        try:
            return pricing.quote(self.kind, self.current_values(), book=self.price_book), ""
        except pricing.NotOffered as exc:
            return None, str(exc)


def _image_field(label: str, help_text: str, *, preserve: bool = False) -> forms.FileField:
    attrs = {"accept": UPLOAD_ACCEPT}
    if preserve:
        # Keep a chosen file when htmx re-renders the options around it.
        attrs["hx-preserve"] = "true"
    return PictureField(
        label=label, required=False, help_text=help_text, widget=forms.ClearableFileInput(attrs=attrs)
    )


class PictureField(forms.FileField):
    """An optional uploaded picture held to Kling's input rules (`check_image_upload`)."""

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        if upload:
            check_image_upload(upload)
        return upload


class VideoForm(GenerationForm):
    mode = forms.ChoiceField(label=_("Mode"))
    duration = forms.TypedChoiceField(label=_("Length"), coerce=int)
    cfg_scale = forms.FloatField(
        label=_("Prompt strength"),
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
        help_text=_("0 to 1: higher follows the prompt more closely, lower leaves the model more freedom."),
    )
    sound = forms.BooleanField(label=_("Generate sound"), required=False)
    camera_control = forms.ChoiceField(label=_("Camera"), required=False)
    camera_axis = forms.ChoiceField(
        label=_("Custom move"),
        required=False,
        choices=[("", _("Choose a move")), *capabilities.translated(capabilities.CAMERA_AXES).items()],
    )
    camera_value = forms.FloatField(
        label=_("Strength"),
        required=False,
        min_value=-capabilities.CAMERA_AXIS_LIMIT,
        max_value=capabilities.CAMERA_AXIS_LIMIT,
        widget=forms.NumberInput(attrs={"step": "0.5"}),
        help_text=_("From -10 to 10, not 0; the sign sets the direction."),
    )

    def fit_to_model(self) -> None:
        model: VideoModel = self.model
        if model.modes:
            self.fields["mode"].choices = [(m, _(capabilities.MODE_LABELS[m])) for m in model.modes]
            mode = self._choose("mode", model.modes, model.default_mode)
        else:
            del self.fields["mode"]
            mode = ""
        self.fields["duration"].choices = [
            (d, ngettext("%(seconds)d second", "%(seconds)d seconds", d) % {"seconds": d})
            for d in model.durations
        ]
        duration = self._choose("duration", model.durations, model.default_duration, int)
        if "aspect_ratio" in self.fields:
            self.fields["aspect_ratio"].choices = [
                (r, _(capabilities.ASPECT_RATIO_LABELS[r])) for r in model.aspect_ratios
            ]
            self._choose("aspect_ratio", model.aspect_ratios, model.aspect_ratios[0])
        if model.cfg_scale:
            if self._raw("cfg_scale") in (None, ""):
                self._set("cfg_scale", 0.5)
        else:
            del self.fields["cfg_scale"]

        if self._offer(
            "sound",
            model.sound_allowed(mode, duration),
            model.sound and gettext("Sound: %(where)s.") % {"where": model.sound.describe()},
        ):
            self.fields["sound"].help_text = _("Native audio: ambience, effects and voices; costs more.")

        if self._offer(
            "camera_control",
            model.camera_allowed(mode, duration),
            model.camera and gettext("Camera control: %(where)s.") % {"where": model.camera.describe()},
        ):
            choices = [("", _("Automatic"))]
            if capabilities.CAMERA_SIMPLE in model.camera_types:
                choices += [
                    (key, _(label)) for key, (label, _axis, _value) in capabilities.CAMERA_PRESETS.items()
                ]
            choices += [
                (key, _(label))
                for key, label in capabilities.CAMERA_MOVEMENTS.items()
                if key in model.camera_types
            ]
            if capabilities.CAMERA_SIMPLE in model.camera_types:
                choices.append((capabilities.CAMERA_SIMPLE, _("Custom move…")))
            self.fields["camera_control"].choices = choices
            if self._raw("camera_control") != capabilities.CAMERA_SIMPLE:
                # The custom axis and strength only matter for a custom move.
                self.fields["camera_axis"].widget = forms.HiddenInput()
                self.fields["camera_value"].widget = forms.HiddenInput()
        else:
            for name in ("camera_axis", "camera_value"):
                del self.fields[name]

        if "image_tail" in self.fields:
            sound = "sound" in self.fields and self._flag("sound")
            self._offer(
                "image_tail",
                model.end_frame_allowed(mode, duration, sound=sound),
                model.end_frame and gettext("End frame: %(where)s.") % {"where": model.end_frame.describe()},
            )

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        choice = data.get("camera_control") or ""
        if choice == capabilities.CAMERA_SIMPLE:
            if not data.get("camera_axis"):
                self.add_error("camera_axis", _("Choose which way the camera moves."))
            elif not data.get("camera_value"):
                self.add_error("camera_value", _("Give a strength other than 0, from -10 to 10."))
        try:
            data["camera_control"] = capabilities.camera_control(
                choice, data.get("camera_axis") or "", data.get("camera_value")
            )
        except ValueError:
            data["camera_control"] = None
        return super().clean()


class TextToVideoForm(VideoForm):
    kind = Kind.TEXT2VIDEO
    INPUT_FIELDS = ["prompt", "negative_prompt"]
    OPTION_FIELDS = [
        "mode",
        "duration",
        "aspect_ratio",
        "sound",
        "cfg_scale",
        "camera_control",
        "camera_axis",
        "camera_value",
    ]

    aspect_ratio = forms.ChoiceField(label=_("Aspect ratio"))


class ImageToVideoForm(VideoForm):
    kind = Kind.IMAGE2VIDEO
    INPUT_FIELDS = ["image", "image_url", "prompt", "negative_prompt"]
    OPTION_FIELDS = [
        "mode",
        "duration",
        "sound",
        "image_tail",
        "cfg_scale",
        "camera_control",
        "camera_axis",
        "camera_value",
    ]

    image = _image_field(
        _("Start frame"),
        _("JPEG or PNG, up to 10 MB, each side at least 300 px, no wider or taller than 2.5 : 1."),
    )
    image_url = forms.URLField(
        label=_("…or the start frame's address"),
        required=False,
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": _("https://example.com/picture.jpg")}),
        help_text=_("A public JPEG or PNG link that Kling can fetch."),
    )
    image_tail = _image_field(
        _("End frame"), _("Optional: the picture the video should end on."), preserve=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prompt"].required = False
        self.fields["prompt"].widget.attrs["placeholder"] = _(
            "The wind lifts her hair as she turns to the camera"
        )

    def clean_image_url(self) -> str:
        url = self.cleaned_data.get("image_url") or ""
        if url and not url.lower().startswith(("https://", "http://")):
            raise ValidationError(_("Give a web address starting with https://."))
        return url

    def clean_images(self, data: dict[str, Any]) -> None:
        if self.has_error("image") or self.has_error("image_url"):
            return
        if data.get("image") and data.get("image_url"):
            self.add_error("image_url", _("Give the start frame as a file or as an address, not both."))
        elif data.get("image") or data.get("image_url"):
            data["image_from"] = None
        elif not data.get("image_from"):
            self.add_error("image", _("Upload a start frame, or give its address below."))


class ImageForm(GenerationForm):
    """Kinds that make 1-9 pictures (`n`) in one of the model's aspect ratios."""

    n = forms.TypedChoiceField(label=_("Images"), coerce=int)
    aspect_ratio = forms.ChoiceField(label=_("Aspect ratio"))

    def fit_count_and_ratio(self) -> None:
        model: ImageModel = self.model
        self.fields["n"].choices = [
            (i, ngettext("%(count)d image", "%(count)d images", i) % {"count": i})
            for i in range(1, model.max_n + 1)
        ]
        self._choose("n", tuple(range(1, model.max_n + 1)), 1, int)
        if not model.aspect_ratios:
            del self.fields["aspect_ratio"]  # the input picture sets it
            return
        self.fields["aspect_ratio"].choices = [
            (r, _(capabilities.ASPECT_RATIO_LABELS[r])) for r in model.aspect_ratios
        ]
        self._choose("aspect_ratio", model.aspect_ratios, model.aspect_ratios[0])


class TextToImageForm(ImageForm):
    kind = Kind.TEXT2IMAGE
    INPUT_FIELDS = ["prompt", "negative_prompt"]
    OPTION_FIELDS = [
        "n",
        "aspect_ratio",
        "resolution",
        "image",
        "image_reference",
        "image_fidelity",
        "human_fidelity",
    ]

    resolution = forms.ChoiceField(label=_("Resolution"))
    image = _image_field(
        _("Reference image"),
        _("Optional: a JPEG or PNG (up to 10 MB, sides at least 300 px) to start from."),
        preserve=True,
    )
    image_reference = forms.ChoiceField(label=_("Keep from the reference"), required=False)
    image_fidelity = forms.FloatField(
        label=_("Reference strength"),
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
        help_text=_("0 to 1: how closely to follow the reference image."),
    )
    human_fidelity = forms.FloatField(
        label=_("Face likeness"),
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "0.05", "placeholder": "0.45"}),
        help_text=_(
            "Optional, 0 to 1, with a kept subject: how closely faces follow the reference (Kling: 0.45)."
        ),
    )

    def fit_to_model(self) -> None:
        model: ImageModel = self.model
        self.fit_count_and_ratio()
        if len(model.resolutions) > 1:
            self.fields["resolution"].choices = [
                (r, capabilities.RESOLUTION_LABELS[r]) for r in model.resolutions
            ]
            self._choose("resolution", model.resolutions, model.resolutions[0])
            if model.reference_image:
                self.fields["resolution"].help_text = _("With a reference image: 1K.")
        else:
            del self.fields["resolution"]
        if model.reference_image:
            if self._raw("image_fidelity") in (None, ""):
                self._set("image_fidelity", 0.5)
        else:
            for name in ("image", "image_fidelity"):
                del self.fields[name]
        if model.image_references:
            self.fields["image_reference"].choices = [("", _("Choose with a reference image"))] + [
                (r, _(capabilities.IMAGE_REFERENCE_LABELS[r])) for r in model.image_references
            ]
        else:
            del self.fields["image_reference"]
        if "subject" not in model.image_references:
            del self.fields["human_fidelity"]

    def clean_images(self, data: dict[str, Any]) -> None:
        # A new upload replaces the remixed picture; a model without references drops it.
        if data.get("image") or "image" not in self.fields:
            data["image_from"] = None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Kling's `image_list`): cleans to a list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": UPLOAD_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


VIDEO_ACCEPT = "video/mp4,video/quicktime"


class PerSecondPrice:
    """For kinds billed per second of an input's length: the page measured the file in the
    browser and posted the total it showed (`expected_credits`); the server's own ffmpeg
    measurement must not cost more, or nothing is charged and the person is told."""

    MEASURED_FIELD: ClassVar[str]
    SECONDS_FIELD: ClassVar[str]

    def check_price_shown(self, data: dict[str, Any]) -> None:
        shown = self.data.get("expected_credits") if self.is_bound else None
        measured = data.get(self.MEASURED_FIELD)
        if (
            measured is not None
            and self.quote is not None
            and shown
            and str(shown).isdigit()
            and self.quote.credits > int(shown)
        ):
            seconds = measured.media_info.duration
            self.add_error(
                self.MEASURED_FIELD,
                gettext(
                    "This file measures %(seconds)s s, which costs %(credits)s credits, not the %(shown)s shown. "
                    "Nothing was charged: check the price and create it again."
                )
                % {
                    "seconds": number_format(seconds, 1),
                    "credits": number_format(self.quote.credits, force_grouping=True),
                    "shown": number_format(int(shown), force_grouping=True),
                },
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.check_price_shown(data)
        return data

    def current_values(self) -> dict[str, Any]:
        # Priced by the measured length, not by a chosen duration.
        values = super().current_values()
        values.pop("duration", None)
        values["output_seconds"] = self.measured_seconds()
        return values

    def measured_seconds(self) -> float | None:
        try:
            seconds = float(self._raw(self.SECONDS_FIELD) or 0)
        except (TypeError, ValueError):
            return None
        return seconds if 0 < seconds <= 3600 else None


class OwnVideoOrUpload:
    """A video input that is an upload (`video_url`) or one of the person's own finished
    videos by its Kling id (`video_id`, set by a button on that video's page)."""

    VIDEO_LIMITS: Any  # the kind's upload limits in capabilities

    def find_own_video(self) -> None:
        self.video_source: Asset | None = None
        raw = str(self._raw("video_id") or "")
        if raw and self.user is not None:
            try:
                self.video_source = services.own_video(self.user, raw)
            except ValidationError:
                self.video_source = None

    def clean_video_url(self):
        upload = self.cleaned_data.get("video_url")
        if upload:
            upload.media_info = uploads.check_video(upload, self.VIDEO_LIMITS)
        return upload

    def take_video_source(self, data: dict[str, Any]) -> bool:
        """Put the chosen video on `data["source_asset"]`; False (with the error added) when
        the id is not one of the person's own recent videos."""
        if data.get("video_id") and not data.get("video_url"):
            if self.video_source is None:
                self.add_error(
                    None, _("Choose one of your own finished videos of the last 30 days, or upload one.")
                )
                return False
            data["source_asset"] = self.video_source
        elif data.get("video_url"):
            data["video_id"] = ""  # an upload replaces a chosen video
        return True


class MotionControlForm(OwnVideoOrUpload, PerSecondPrice, GenerationForm):
    """A character picture moved like the person in a reference video (Kling's
    `videos/motion-control`). Billed per second of output, which is as long as the video:
    the page measures the chosen video in the browser to show the total, and the server
    measures it again (ffmpeg) and never charges more than was shown."""

    kind = Kind.MOTION_CONTROL
    VIDEO_LIMITS = capabilities.MOTION_UPLOAD_LIMITS
    MEASURED_FIELD = "video_url"
    SECONDS_FIELD = "video_seconds"
    INPUT_FIELDS = ["video_id", "image_url", "video_url", "prompt"]
    OPTION_FIELDS = ["mode", "character_orientation", "keep_original_sound", "video_seconds"]

    # "Use as motion reference" on a finished video: Kling's id of one of the person's own.
    video_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    image_url = _image_field(
        _("Character picture"), _("JPEG or PNG, up to 10 MB, each side at least 300 px: the one who moves.")
    )
    video_url = forms.FileField(
        label=_("Motion reference video"),
        required=False,
        help_text=_("MP4 or MOV, up to 100 MB, 3 to 30 s, each side 340 to 3850 px: whose moves to copy."),
        widget=forms.ClearableFileInput(
            attrs={"accept": VIDEO_ACCEPT, "data-measure-into": "id_video_seconds"}
        ),
    )
    mode = forms.ChoiceField(label=_("Mode"))
    character_orientation = forms.ChoiceField(
        label=_("Character faces"),
        choices=list(capabilities.translated(capabilities.CHARACTER_ORIENTATIONS).items()),
        widget=forms.RadioSelect,
    )
    keep_original_sound = forms.ChoiceField(
        label=_("Keep the video's sound"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        widget=forms.RadioSelect,
    )
    # The length the browser measured: for the live price only, never trusted for the charge.
    video_seconds = forms.FloatField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["negative_prompt"]
        self.fields["prompt"].required = False
        self.fields["prompt"].help_text = _("Optional: the scene, the light, the style.")
        self.fields["prompt"].widget.attrs["placeholder"] = _("On a beach at sunset, cinematic light")
        self.find_own_video()
        if self.video_source is not None and self.video_source.duration and not self._raw("video_seconds"):
            # The price follows the chosen video's stored length, as it does a measured upload's.
            self._set("video_seconds", round(self.video_source.duration, 2))

    def fit_to_model(self) -> None:
        model: VideoModel = self.model
        self.fields["mode"].choices = [(m, _(capabilities.MODE_LABELS[m])) for m in model.modes]
        self._choose("mode", model.modes, model.default_mode)
        self._choose("character_orientation", tuple(capabilities.CHARACTER_ORIENTATIONS), "video")
        self._choose("keep_original_sound", capabilities.KEEP_ORIGINAL_SOUND, "yes")

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not self.take_video_source(data):
            return data
        return super().clean()


class AvatarForm(PerSecondPrice, GenerationForm):
    """A portrait that speaks a sound file (Kling's `videos/avatar/image2video`), billed per
    second of the sound, which is how long the video lasts."""

    kind = Kind.AVATAR
    MEASURED_FIELD = "sound_file"
    SECONDS_FIELD = "sound_seconds"
    INPUT_FIELDS = ["image", "sound_file", "prompt"]
    OPTION_FIELDS = ["mode", "sound_seconds"]

    image = _image_field(
        _("Portrait"), _("JPEG or PNG, up to 10 MB, each side at least 300 px: the face that speaks.")
    )
    sound_file = forms.FileField(
        label=_("Sound to speak"),
        required=False,
        help_text=_("MP3, WAV, M4A or AAC, up to 5 MB, 2 s to 5 min."),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": "audio/mpeg,audio/wav,audio/mp4,audio/aac",
                "data-measure-into": "id_sound_seconds",
            }
        ),
    )
    mode = forms.ChoiceField(label=_("Mode"))
    sound_seconds = forms.FloatField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_name"].widget = forms.HiddenInput()
        self.fields["model_name"].help_text = ""
        del self.fields["negative_prompt"]
        self.fields["prompt"].required = False
        self.fields["prompt"].help_text = _("Optional: expression, gestures, setting.")
        self.fields["prompt"].widget.attrs["placeholder"] = _("Smiling, nodding now and then")

    def fit_to_model(self) -> None:
        model: VideoModel = self.model
        self.fields["mode"].choices = [(m, _(capabilities.MODE_LABELS[m])) for m in model.modes]
        self._choose("mode", model.modes, model.default_mode)

    def clean_sound_file(self):
        upload = self.cleaned_data.get("sound_file")
        if upload:
            upload.media_info = uploads.check_audio(upload, capabilities.AVATAR_SOUND_LIMITS)
        return upload


class MultiImageToVideoForm(VideoForm):
    """Up to four subject pictures in one clip (Kling's `videos/multi-image2video`)."""

    kind = Kind.MULTI_IMAGE2VIDEO
    INPUT_FIELDS = ["image_list", "prompt", "negative_prompt"]
    OPTION_FIELDS = ["mode", "duration", "aspect_ratio"]

    image_list = MultipleFileField(
        label=_("Subject pictures"),
        required=False,
        help_text=format_lazy(
            _(
                "1 to {count} JPEG or PNG pictures (each up to 10 MB, sides at least "
                "300 px), each cropped to its subject: Kling does not crop them."
            ),
            count=capabilities.MAX_SUBJECT_IMAGES,
        ),
    )
    aspect_ratio = forms.ChoiceField(label=_("Aspect ratio"))

    def fit_to_model(self) -> None:
        super().fit_to_model()
        # Kling's multi-image endpoint takes none of these.
        for name in ("cfg_scale", "sound", "camera_control", "camera_axis", "camera_value"):
            self.fields.pop(name, None)
        self.notes = []

    def clean_image_list(self) -> list:
        return check_picture_list(
            self.cleaned_data.get("image_list"), capabilities.MAX_SUBJECT_IMAGES, "subject"
        )


class OmniVideoForm(OwnVideoOrUpload, PerSecondPrice, MultiImageToVideoForm):
    """A prompt pointing at up to seven reference pictures (Kling's `videos/omni-video`),
    told in one shot or, on Kling 3.0 Omni, as a storyboard of 2-6 shots; or with a
    reference video (<<<video_1>>>, then at most four pictures) whose motion, camera or
    style it takes, or a base video it edits, which keeps its own length and shape. A
    video costs more per second; a base video is billed by its length, measured in the
    browser for the price shown and again by the server, which never charges more."""

    kind = Kind.OMNI_VIDEO
    VIDEO_LIMITS = capabilities.OMNI_VIDEO_LIMITS
    MEASURED_FIELD = "video_url"
    SECONDS_FIELD = "video_seconds"
    INPUT_FIELDS = ["video_id", "image_list", "video_url", "prompt", "multi_shot", "multi_prompt"]
    OPTION_FIELDS = ["mode", "duration", "aspect_ratio", "refer_type", "keep_original_sound", "video_seconds"]

    # "Use as omni reference" on a finished video: Kling's id of one of the person's own.
    video_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    video_url = forms.FileField(
        label=_("Reference video"),
        required=False,
        help_text=_(
            "Optional: MP4 or MOV, 3 to 10 s, up to 200 MB, each side 720 to 2160 px, 24 to 60 "
            "frames a second. Click its thumbnail to put video_1 into the prompt."
        ),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": VIDEO_ACCEPT,
                "data-measure-into": "id_video_seconds",
                "data-video-token": capabilities.OMNI_VIDEO_REFERENCE,
            }
        ),
    )
    refer_type = forms.ChoiceField(
        label=_("Use the video as"),
        choices=list(capabilities.translated(capabilities.REFER_TYPES).items()),
        required=False,
        widget=forms.RadioSelect,
    )
    keep_original_sound = forms.ChoiceField(
        label=_("Keep the video's sound"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        required=False,
        widget=forms.RadioSelect,
    )
    # The length the browser measured: for the live price only, never trusted for the charge.
    video_seconds = forms.FloatField(required=False, widget=forms.HiddenInput)

    image_list = MultipleFileField(
        label=_("Reference pictures"),
        required=False,
        help_text=format_lazy(
            _(
                "Up to {count} JPEG or PNG pictures (each up to 10 MB, sides at least "
                "300 px). Click a thumbnail to put its reference token into the prompt."
            ),
            count=capabilities.MAX_OMNI_IMAGES,
        ),
    )
    multi_shot = forms.BooleanField(label=_("Tell it in several shots (storyboard)"), required=False)
    # The storyboard as JSON: [{"prompt": "...", "duration": 3}, ...], kept by the page's
    # editor (static/js/site.js) or sent as it is through the API.
    multi_prompt = forms.CharField(
        label=_("Shots"),
        required=False,
        widget=forms.HiddenInput,
        help_text=_('The shots as JSON: [{"prompt": "Wide shot of the city", "duration": 2}, ...].'),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("negative_prompt", None)
        self.fields["prompt"].required = False
        self.fields["prompt"].help_text = _(
            "Refer to the first picture as image_1 in triple angle brackets (click its thumbnail). "
            "Ignored by Kling when the storyboard is on."
        )
        self.find_own_video()
        if self.video_source is not None and self.video_source.duration and not self._raw("video_seconds"):
            self._set("video_seconds", round(self.video_source.duration, 2))

    @property
    def multi_shot_models(self) -> str:
        """The models that make multi-shot videos, space-separated (for data-models)."""
        return " ".join(m.name for m in capabilities.models_for(self.kind) if getattr(m, "multi_shot", False))

    def has_video(self) -> bool:
        """Whether a reference video is chosen, as far as the page knows before the upload
        is read: measured in the browser, or one of the person's own."""
        return bool(self._raw("video_id")) or self.measured_seconds() is not None

    def fit_to_model(self) -> None:
        super().fit_to_model()
        # The storyboard stays in the page for every model, marked with the models that
        # make multi-shot videos: the model menu lives in the options card, which is drawn
        # again on each change, so the page's script hides the storyboard (and leaves it out
        # of the form) while another model is chosen. A storyboard sent with such a model
        # anyway is refused by capabilities.check() with the reason.
        if "multi_shot" in self.fields:
            self.fields["multi_shot"].widget.attrs["data-models"] = self.multi_shot_models
        if not getattr(self.model, "multi_shot", False):
            self.notes = [_("Storyboards (several shots): Kling 3.0 Omni.")]
        self._choose("refer_type", tuple(capabilities.REFER_TYPES), "feature")
        self._choose("keep_original_sound", capabilities.KEEP_ORIGINAL_SOUND, "yes")
        if self.has_video() and self._raw("refer_type") == "base":
            # A base video is edited as it is: the clip keeps its length and shape.
            self.fields.pop("duration", None)
            self.fields.pop("aspect_ratio", None)
            self.notes.append(_("With a base video, the clip is as long as the video and keeps its shape."))

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not self.take_video_source(data):
            return data
        return super().clean()

    def current_values(self) -> dict[str, Any]:
        # Not per second as such: a video only changes the rate, a base video the length.
        values = GenerationForm.current_values(self)
        if self.has_video():
            values["video"] = True
            seconds = self.measured_seconds()
            if self._raw("refer_type") == "base" and seconds is not None:
                values["duration"] = pricing.billed_seconds(seconds)
        return values

    def clean_image_list(self) -> list:
        return check_picture_list(
            self.cleaned_data.get("image_list"), capabilities.MAX_OMNI_IMAGES, "reference"
        )

    def clean_multi_prompt(self) -> list[dict[str, Any]]:
        return parse_shots(self.cleaned_data.get("multi_prompt") or "")


def parse_shots(raw: str) -> list[dict[str, Any]]:
    """The storyboard's JSON as [{"prompt", "duration"}] (whole seconds, as int or a digit
    string, both of which Kling accepts); the rules themselves are capabilities.check()'s."""
    if not raw.strip():
        return []
    try:
        shots = json.loads(raw)
    except ValueError:
        raise ValidationError(_("The shots could not be read; add them again.")) from None
    if not isinstance(shots, list) or not all(isinstance(shot, dict) for shot in shots):
        raise ValidationError(_('Give the shots as a list such as [{"prompt": "...", "duration": 3}].'))
    parsed = []
    for number, shot in enumerate(shots, start=1):
        seconds = shot.get("duration")
        if isinstance(seconds, str) and seconds.strip().isdigit():
            seconds = int(seconds)
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise ValidationError(
                gettext("Shot %(number)s needs a length in whole seconds.") % {"number": number}
            )
        parsed.append({"prompt": str(shot.get("prompt") or "").strip(), "duration": seconds})
    return parsed


class ExtendVideoForm(GenerationForm):
    """About five more seconds of one of the person's own finished videos (Kling's
    `videos/video-extend`, by the video's Kling id). The model and mode are the source's."""

    kind = Kind.VIDEO_EXTEND
    INPUT_FIELDS = ["video_id", "prompt", "negative_prompt"]
    OPTION_FIELDS: ClassVar[list[str]] = []

    video_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["model_name"]
        self.fields["prompt"].required = False
        self.fields["prompt"].help_text = _("Optional: what happens next.")
        self.fields["prompt"].widget.attrs["placeholder"] = _("She turns and walks towards the sea")
        self.extend_source: Asset | None = None
        self.extend_problem = ""
        # Without a chosen video the page says how to choose one (no refusal to show yet).
        if self.user is not None and self._raw("video_id"):
            try:
                self.extend_source = services.extend_source(self.user, str(self._raw("video_id")))
            except ValidationError as exc:
                self.extend_problem = " ".join(exc.message_dict.get("video_id", []))
        if self.extend_source is not None:
            self.model = capabilities.get(self.kind, self.extend_source.generation.model_name) or self.model

    def fit_to_model(self) -> None:
        return None

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        if self.extend_source is None:
            problem = self.extend_problem or _(
                "Choose a finished video to extend from its page in your gallery."
            )
            self.add_error("video_id" if "video_id" in self.fields else None, problem)
            return data
        data["source_asset"] = self.extend_source
        return super().clean()

    def price_preview(self) -> tuple[pricing.Quote | None, str]:
        # No price until a video is chosen: the page says how to choose one.
        if self.extend_source is None:
            return None, ""
        return super().price_preview()

    def current_values(self) -> dict[str, Any]:
        if self.extend_source is None:
            return {"model_name": ""}
        source = self.extend_source.generation
        return {"model_name": source.model_name, "mode": source.mode, "video_id": self.extend_source.video_id}


class AudioForm(GenerationForm):
    """Kling's audio products take no model: the one table entry rides along hidden."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_name"].widget = forms.HiddenInput()
        self.fields["model_name"].help_text = ""
        del self.fields["negative_prompt"]

    def fit_to_model(self) -> None:
        return None


class TextToAudioForm(AudioForm):
    """A sound of 3 to 10 seconds from a description (Kling's `audio/text-to-audio`)."""

    kind = Kind.TEXT2AUDIO
    INPUT_FIELDS = ["prompt"]
    OPTION_FIELDS = ["duration"]

    duration = forms.FloatField(
        label=_("Length in seconds"),
        min_value=capabilities.TEXT_TO_AUDIO_SECONDS[0],
        max_value=capabilities.TEXT_TO_AUDIO_SECONDS[1],
        step_size=0.1,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text=_("From 3 to 10, to a tenth of a second."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prompt"].widget.attrs["placeholder"] = _("Rain on a tin roof, distant thunder")
        self.fields["prompt"].help_text = gettext("What it sounds like, in up to %(limit)s characters.") % {
            "limit": capabilities.AUDIO_PROMPT_LIMIT
        }
        if self._raw("duration") in (None, ""):
            self._set("duration", 5.0)


class VideoToAudioForm(OwnVideoOrUpload, AudioForm):
    """Sound effects and music for a video (Kling's `audio/video-to-audio`): an upload, or
    one of the person's own finished videos by its Kling id ("Add sound" on its page)."""

    kind = Kind.VIDEO2AUDIO
    VIDEO_LIMITS = capabilities.VIDEO_TO_AUDIO_LIMITS
    INPUT_FIELDS = ["video_id", "video_url", "sound_effect_prompt", "bgm_prompt"]
    OPTION_FIELDS = ["asmr_mode"]

    video_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    video_url = forms.FileField(
        label=_("Video"),
        required=False,
        help_text=_("MP4 or MOV, up to 100 MB, 3 to 20 s."),
        widget=forms.ClearableFileInput(attrs={"accept": VIDEO_ACCEPT}),
    )
    sound_effect_prompt = forms.CharField(
        label=_("Sound effects"),
        required=False,
        max_length=capabilities.AUDIO_PROMPT_LIMIT,
        widget=_textarea(2, _("Footsteps on gravel, wind in the trees")),
        help_text=format_lazy(
            _("Optional, up to {limit} characters."), limit=capabilities.AUDIO_PROMPT_LIMIT
        ),
    )
    bgm_prompt = forms.CharField(
        label=_("Music"),
        required=False,
        max_length=capabilities.AUDIO_PROMPT_LIMIT,
        widget=_textarea(2, _("A calm piano melody")),
        help_text=format_lazy(
            _("Optional, up to {limit} characters."), limit=capabilities.AUDIO_PROMPT_LIMIT
        ),
    )
    asmr_mode = forms.BooleanField(
        label=_("ASMR mode"), required=False, help_text=_("Close, detailed sound.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["prompt"]
        self.find_own_video()

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        data["prompt"] = ""
        if not self.take_video_source(data):
            return data
        return super().clean()


class MultiImageToImageForm(ImageForm):
    """Up to four subjects in new pictures, optionally in a given scene and style (Kling's
    `images/multi-image2image`)."""

    kind = Kind.MULTI_IMAGE2IMAGE
    INPUT_FIELDS = ["subject_image_list", "scene_image", "style_image", "prompt"]
    OPTION_FIELDS = ["n", "aspect_ratio"]

    subject_image_list = MultipleFileField(
        label=_("Subject pictures"),
        required=False,
        help_text=_(
            "1 to 4 JPEG or PNG pictures (each up to 10 MB, sides at least 300 px), one subject each: "
            "a person, an animal, an object."
        ),
    )
    scene_image = _image_field(_("Scene picture"), _("Optional: the place to put the subjects in."))
    style_image = _image_field(_("Style picture"), _("Optional: a picture whose look to copy."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("negative_prompt", None)
        self.fields["prompt"].widget.attrs["placeholder"] = _("The two of them sharing a picnic by a lake")

    def fit_to_model(self) -> None:
        self.fit_count_and_ratio()

    def clean_subject_image_list(self) -> list:
        return check_picture_list(
            self.cleaned_data.get("subject_image_list"), capabilities.MAX_SUBJECT_PICTURES, "subject"
        )


def _series_amount(value: Any) -> int | str:
    """A series' picture count, or "auto" when Kling chooses it."""
    return capabilities.SERIES_AUTO if value == capabilities.SERIES_AUTO else int(value)


class OmniImageForm(ImageForm):
    """Pictures composed from up to ten references named in the prompt as <<<image_N>>>
    (Kling's `images/omni-image`), one at a time or as a consistent series of 2-9."""

    kind = Kind.OMNI_IMAGE
    INPUT_FIELDS = ["image_list", "prompt"]
    OPTION_FIELDS = ["result_type", "series_amount", "n", "aspect_ratio", "resolution"]

    image_list = MultipleFileField(
        label=_("Reference pictures"),
        required=False,
        help_text=_(
            "Up to 10 JPEG or PNG pictures (each up to 10 MB, sides at least 300 px). Click a thumbnail "
            "to put its reference token into the prompt."
        ),
    )
    resolution = forms.ChoiceField(label=_("Resolution"))
    result_type = forms.ChoiceField(
        label=_("Result"),
        choices=[("single", _("Separate images")), ("series", _("A series that tells one story"))],
        widget=forms.RadioSelect,
    )
    series_amount = forms.TypedChoiceField(
        label=_("Pictures in the series"),
        coerce=_series_amount,
        required=False,
        help_text=_(
            "Each picture of the series is charged as one image. When Kling chooses, the most a "
            "series may have is charged and the pictures it does not make are given back."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("negative_prompt", None)
        self.fields["prompt"].help_text = _(
            "Refer to the first picture as image_1 in triple angle brackets (click its thumbnail)."
        )

    def fit_to_model(self) -> None:
        model: ImageModel = self.model
        self.fit_count_and_ratio()
        self.fields["resolution"].choices = [
            (r, capabilities.RESOLUTION_LABELS[r]) for r in model.resolutions
        ]
        self._choose("resolution", model.resolutions, model.resolutions[0])
        low, high = model.series_range or (0, -1)
        amounts = (*range(low, high + 1), capabilities.SERIES_AUTO)
        self.fields["series_amount"].choices = [
            (a, _("As many as Kling chooses") if a == capabilities.SERIES_AUTO else str(a)) for a in amounts
        ]
        if self._choose("result_type", capabilities.RESULT_TYPES, "single") == "series":
            # One series per request: its pictures are the count.
            del self.fields["n"]
            self._choose("series_amount", amounts, low, _series_amount)
        else:
            del self.fields["series_amount"]

    def clean_image_list(self) -> list:
        return check_picture_list(
            self.cleaned_data.get("image_list"), capabilities.MAX_OMNI_IMAGE_REFERENCES, "reference"
        )

    def current_values(self) -> dict[str, Any]:
        values = super().current_values()
        if "series_amount" in self.fields:
            try:
                amount = _series_amount(
                    self._raw("series_amount") if self.is_bound else self.initial["series_amount"]
                )
            except (TypeError, ValueError, KeyError):
                amount = None
            values["n"] = capabilities.series_pictures_charged(self.model.name, amount)
        return values


class VirtualTryOnForm(GenerationForm):
    """A person dressed in a garment from another photo (Kling's `images/kolors-virtual-try-on`)."""

    kind = Kind.VIRTUAL_TRY_ON
    INPUT_FIELDS = ["human_image", "cloth_image", "garment_type"]

    human_image = _image_field(
        _("Photo of the person"),
        _("JPEG or PNG, up to 10 MB, sides at least 300 px: one person, facing the camera, body in view."),
    )
    cloth_image = _image_field(
        _("Photo of the garment"),
        _("JPEG or PNG, up to 10 MB: the garment alone, laid flat or on a plain background."),
    )
    garment_type = forms.ChoiceField(
        label=_("The garment picture shows"),
        choices=list(capabilities.translated(capabilities.GARMENT_LABELS).items()),
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["prompt"]
        del self.fields["negative_prompt"]
        self.fields["model_name"].help_text = _(
            "Kolors try-on 1.5 also takes a top and a bottom in one picture."
        )
        self._set("garment_type", self._raw("garment_type") or "upper")

    def fit_to_model(self) -> None:
        return None

    def clean(self) -> dict[str, Any]:
        self.cleaned_data["prompt"] = ""
        return super().clean()


def _expansion_field(side: str, label: str, initial: float) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        initial=initial,
        min_value=0,
        max_value=capabilities.MAX_EXPANSION_RATIO,
        widget=forms.NumberInput(
            attrs={"step": "0.05", "min": "0", "max": "2", "data-expand-side": side, "inputmode": "decimal"}
        ),
    )


class ExpandImageForm(ImageForm):
    """A picture extended beyond its edges (Kling's `images/editing/expand`): how far each
    side grows, set by dragging the handles of the page's preview or in the number fields."""

    kind = Kind.EXPAND_IMAGE
    INPUT_FIELDS = [
        "image",
        "up_expansion_ratio",
        "down_expansion_ratio",
        "left_expansion_ratio",
        "right_expansion_ratio",
        "prompt",
    ]
    OPTION_FIELDS = ["n"]

    image = _image_field(
        _("Picture to expand"), _("JPEG or PNG, up to 10 MB, each side at least 300 px."), preserve=True
    )
    up_expansion_ratio = _expansion_field("up", _("Add above (times the height)"), 0.0)
    down_expansion_ratio = _expansion_field("down", _("Add below (times the height)"), 0.0)
    left_expansion_ratio = _expansion_field("left", _("Add on the left (times the width)"), 0.5)
    right_expansion_ratio = _expansion_field("right", _("Add on the right (times the width)"), 0.5)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Kling's expand takes no model: the one table entry rides along hidden.
        self.fields["model_name"].widget = forms.HiddenInput()
        self.fields["model_name"].help_text = ""
        del self.fields["negative_prompt"]
        self.fields["prompt"].required = False
        self.fields["prompt"].help_text = _("Optional: what the new areas show.")
        self.fields["prompt"].widget.attrs["placeholder"] = _("More of the beach, with palm trees")
        self.fields["up_expansion_ratio"].help_text = _(
            "Each side from 0 to 2; the new area is at most 3 times the picture's."
        )

    def fit_to_model(self) -> None:
        self.fit_count_and_ratio()


class FaceSearchForm(forms.Form):
    """Lip-sync's first step: the video whose faces Kling looks for, one of the person's
    own finished videos (by Kling id) or an upload."""

    video_id = forms.ChoiceField(label=_("One of your videos"), required=False)
    video_url = forms.FileField(
        label=_("Or upload a video"),
        required=False,
        help_text=_("MP4 or MOV, up to 100 MB, 2 to 60 s, each side 512 to 2160 px (720p or 1080p)."),
        widget=forms.ClearableFileInput(attrs={"accept": VIDEO_ACCEPT}),
    )

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        limits = capabilities.FACE_VIDEO_LIMITS
        videos = services.lip_sync_videos(user) if user is not None else []
        self.fields["video_id"].choices = [("", _("Choose…"))] + [
            (a.video_id, f"#{a.generation_id} {a.generation.get_kind_display()} ({a.duration or 0:.1f} s)")
            for a in videos
            if a.duration is None or limits.min_seconds <= a.duration <= limits.max_seconds
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("video_id") and not data.get("video_url"):
            raise ValidationError(_("Choose one of your videos or upload one."))
        return data


class LipSyncForm(GenerationForm):
    """A face in a video made to speak a sound (Kling's `videos/advanced-lip-sync`), after
    identify-face found the faces (`session_id`, one of the person's own sessions). The
    sound is an upload or one of the person's finished sounds; it is cut from
    `sound_start_time` to `sound_end_time` and put in at `sound_insert_time` (all ms)."""

    kind = Kind.LIP_SYNC
    INPUT_FIELDS = ["sound_from", "sound_file"]
    OPTION_FIELDS = [
        "session_id",
        "sound_start_time",
        "sound_end_time",
        "sound_insert_time",
        "sound_volume",
        "original_audio_volume",
    ]

    session_id = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    face_id = forms.CharField(required=False, max_length=32)
    sound_from = forms.ChoiceField(label=_("One of your sounds"), required=False)
    sound_file = forms.FileField(
        label=_("Or upload the sound to speak"),
        required=False,
        help_text=_("MP3, WAV or M4A, up to 5 MB, 2 to 60 s."),
        widget=forms.ClearableFileInput(attrs={"accept": "audio/mpeg,audio/wav,audio/mp4"}),
    )
    sound_start_time = forms.IntegerField(
        label=_("Start of the sound used (ms)"), min_value=0, initial=0, help_text=_("0 is its beginning.")
    )
    sound_end_time = forms.IntegerField(
        label=_("End of the sound used (ms)"),
        min_value=0,
        required=False,
        help_text=_("Empty: to the end of the sound. At least 2,000 ms after the start."),
    )
    sound_insert_time = forms.IntegerField(
        label=_("Put in at (ms from the video's start)"),
        min_value=0,
        required=False,
        help_text=_(
            "Empty: when the face appears. It must end within the video and overlap the face by 2 s."
        ),
    )
    sound_volume = forms.FloatField(
        label=_("Sound volume"),
        min_value=capabilities.VOLUME_RANGE[0],
        max_value=capabilities.VOLUME_RANGE[1],
        initial=1.0,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text=_("0 to 2; 1 leaves it as it is."),
    )
    original_audio_volume = forms.FloatField(
        label=_("Video's own sound volume"),
        min_value=capabilities.VOLUME_RANGE[0],
        max_value=capabilities.VOLUME_RANGE[1],
        initial=1.0,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text=_("0 to 2; 0 silences it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_name"].widget = forms.HiddenInput()
        self.fields["model_name"].help_text = ""
        del self.fields["prompt"]
        del self.fields["negative_prompt"]
        self.face_session = None
        raw = str(self._raw("session_id") or "")
        if raw and self.user is not None:
            try:
                self.face_session = services.face_session(self.user, raw)
            except ValidationError:
                self.face_session = None
        sounds = services.lip_sync_sounds(self.user) if self.user is not None else []
        self.fields["sound_from"].choices = [("", _("Choose…"))] + [
            (str(a.pk), f"#{a.generation_id} {a.generation.prompt[:40]} ({a.duration or 0:.1f} s)")
            for a in sounds
        ]
        if self.face_session is not None and not self._raw("face_id") and len(self.face_session.faces) == 1:
            self._set("face_id", self.face_session.faces[0]["face_id"])
        for name in ("sound_start_time", "sound_volume", "original_audio_volume"):
            if self._raw(name) in (None, ""):
                self._set(name, self.fields[name].initial)

    def fit_to_model(self) -> None:
        return None

    @property
    def chosen_face(self) -> str:
        return str(self._raw("face_id") or "")

    def clean_sound_file(self):
        upload = self.cleaned_data.get("sound_file")
        if upload:
            upload.media_info = uploads.check_audio(upload, capabilities.LIP_SYNC_SOUND_LIMITS)
        return upload

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        data["prompt"] = ""
        if self.face_session is None:
            self.add_error(None, _("Find the faces in one of your videos first (it is kept for 24 hours)."))
            return data
        data["face_session"] = self.face_session
        face = self.face_session.face(data.get("face_id") or "")
        if face is None:
            self.add_error("face_id", _("Choose the face that speaks."))
            return data
        if data.get("sound_from") and not data.get("sound_file"):
            try:
                data["sound_asset"] = services.own_sound(self.user, data["sound_from"])
            except ValidationError as exc:
                self.add_error("sound_from", exc.message_dict["sound_from"])
                return data
        sound = data.get("sound_file")
        info = getattr(sound, "media_info", None)
        asset = data.get("sound_asset")
        seconds = info.duration if info is not None else (asset.duration if asset is not None else None)
        if data.get("sound_end_time") is None and seconds:
            # Kling needs the end: the whole sound (rounded down, so it never passes the end).
            data["sound_end_time"] = int(seconds * 1000)
        if data.get("sound_insert_time") is None:
            data["sound_insert_time"] = int(face["start_time"])
        return super().clean()

    def price_preview(self) -> tuple[pricing.Quote | None, str]:
        if self.face_session is None:
            return None, gettext("The price follows the video's length: find its faces first.")
        return super().price_preview()

    def current_values(self) -> dict[str, Any]:
        session = self.face_session
        return services.lip_sync_values({"face_session": session, "face_id": self.chosen_face}) | {
            "model_name": self.model.name
        }


class VideoEffectForm(GenerationForm):
    """One of Kling's effect scenes (`videos/effects`) on one picture, or on two photos (the
    person on the left and on the right) for the two-person scenes. The scene, chosen in
    the gallery of effects, says what happens: there is no prompt."""

    kind = Kind.VIDEO_EFFECTS
    INPUT_FIELDS = ["effect_scene", "image", "image_tail"]
    OPTION_FIELDS = ["effect_model", "mode", "duration"]

    # Checked against the scene table (effects.check), which explains a retired scene.
    effect_scene = forms.CharField(label=_("Effect"), widget=forms.HiddenInput, required=False, max_length=64)
    image = _image_field(_("Picture"), _("JPEG or PNG, up to 10 MB, each side at least 300 px."))
    image_tail = _image_field(
        _("Person on the right"), _("A photo of the second person: JPEG or PNG, up to 10 MB.")
    )
    effect_model = forms.ChoiceField(label=_("Model"), required=False)
    mode = forms.ChoiceField(label=_("Mode"), required=False)
    # Any whole number is taken, and effects.check() says next to the field which lengths
    # the scene makes (a bare "not one of the choices" would not).
    duration = forms.IntegerField(label=_("Length"), widget=forms.Select)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The one table entry rides along hidden: the scene decides what Kling runs.
        self.fields["model_name"].widget = forms.HiddenInput()
        self.fields["model_name"].help_text = ""
        del self.fields["prompt"]
        del self.fields["negative_prompt"]

    def add_error(self, field: str | None, error: Any) -> None:
        # The scene is a hidden field: say what is wrong with it above the form.
        super().add_error(None if field == "effect_scene" else field, error)

    def fit_to_model(self) -> None:
        scenes = list(effects.enabled_scenes())
        self.scene = effects.scene(str(self._raw("effect_scene") or "")) or (scenes[0] if scenes else None)
        scene = self.scene
        if scene is None:
            return
        self._set("effect_scene", scene.name)
        durations = tuple(int(d) for d in scene.durations) or (5,)
        self.fields["duration"].widget.choices = [(d, f"{d} s") for d in durations]
        self._choose("duration", durations, durations[0], int)
        if len(durations) == 1:
            self.fields["duration"].help_text = effects.lengths_note(scene)
        if scene.two_person:
            self.fields["image"].label = _("Person on the left")
            self.fields["image"].help_text = _("A photo of the first person: JPEG or PNG, up to 10 MB.")
        elif not (self.is_bound and self.files.get("image_tail")):
            del self.fields["image_tail"]
        if scene.takes_model:
            self.fields["effect_model"].choices = [(m, m) for m in scene.model_names]
            self._choose("effect_model", tuple(scene.model_names), scene.model_names[0])
            self.fields["mode"].choices = [(m, capabilities.MODE_LABELS[m]) for m in effects.MODES]
            self._choose("mode", effects.MODES, "std")
        else:
            del self.fields["effect_model"]
            del self.fields["mode"]

    def current_values(self) -> dict[str, Any]:
        values = super().current_values()
        values["effect_scene"] = self.scene.name if self.scene else ""
        if "mode" not in self.fields:
            values["mode"] = ""
        return values


FORMS: dict[str, type[GenerationForm]] = {
    Kind.TEXT2IMAGE: TextToImageForm,
    Kind.TEXT2VIDEO: TextToVideoForm,
    Kind.IMAGE2VIDEO: ImageToVideoForm,
    Kind.MOTION_CONTROL: MotionControlForm,
    Kind.MULTI_IMAGE2VIDEO: MultiImageToVideoForm,
    Kind.VIDEO_EXTEND: ExtendVideoForm,
    Kind.TEXT2AUDIO: TextToAudioForm,
    Kind.VIDEO2AUDIO: VideoToAudioForm,
    Kind.AVATAR: AvatarForm,
    Kind.OMNI_VIDEO: OmniVideoForm,
    Kind.MULTI_IMAGE2IMAGE: MultiImageToImageForm,
    Kind.OMNI_IMAGE: OmniImageForm,
    Kind.VIRTUAL_TRY_ON: VirtualTryOnForm,
    Kind.EXPAND_IMAGE: ExpandImageForm,
    Kind.VIDEO_EFFECTS: VideoEffectForm,
    Kind.LIP_SYNC: LipSyncForm,
}
