"""The form that saves a subject; the pictures are checked like every other upload."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from generations.forms import UPLOAD_ACCEPT, MultipleFileField, check_picture_list
from subjects import services
from subjects.models import Subject


class SubjectForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=services.NAME_LIMIT,
        help_text=_("Up to 20 characters, for instance Mia or Red sneaker."),
    )
    kind = forms.ChoiceField(
        label=_("What is it?"), choices=Subject.Kind.choices, initial=Subject.Kind.CHARACTER
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=services.DESCRIPTION_LIMIT,
        required=False,
        help_text=_("Optional, up to 100 characters: what matters about its look."),
    )
    pictures = MultipleFileField(
        label=_("Pictures"),
        help_text=_(
            "2 to 4 JPEG or PNG pictures of the same subject: the first from the front, the others from"
            " other angles or close up. Each at least 300 px a side, at most 10 MB."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pictures"].widget.attrs["accept"] = UPLOAD_ACCEPT

    def clean_pictures(self) -> list:
        pictures = self.cleaned_data.get("pictures") or []
        if not isinstance(pictures, list):
            pictures = [pictures]
        if len(pictures) < services.MIN_PICTURES:
            raise ValidationError(
                _("Give at least 2 pictures: one from the front and one from another angle.")
            )
        return check_picture_list(pictures, services.MAX_PICTURES, "subject")
