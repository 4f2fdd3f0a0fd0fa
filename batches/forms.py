from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from batches import services


class PromptsForm(forms.Form):
    """The rows of a batch: pasted lines or a CSV file (the file wins when both are given)."""

    prompts = forms.CharField(
        label=_("Prompts"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": _("One prompt a line")}),
        help_text=_("One prompt a line, up to %(most)s lines.") % {"most": services.MAX_ROWS},
    )
    csv_file = forms.FileField(
        label=_("Or a CSV file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=_(
            "A header row with a “prompt” column, and optionally one column per option to set it for that row."
        ),
    )

    def __init__(self, *args, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("csv_file")
        try:
            if upload:
                if upload.size > 1024 * 1024:
                    raise forms.ValidationError(_("The CSV file is larger than 1 MB."))
                data["rows"] = services.parse_csv(upload.read(), self.kind)
            else:
                data["rows"] = services.parse_lines(data.get("prompts") or "")
        except forms.ValidationError as exc:
            self.add_error("csv_file" if upload else "prompts", exc)
        return data
