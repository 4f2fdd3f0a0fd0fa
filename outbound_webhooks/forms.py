from django import forms
from django.core.exceptions import ValidationError

from .subscriptions import MAX_URL_LENGTH, check_webhook_url


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Default webhook URL",
        max_length=MAX_URL_LENGTH,
        required=False,
        help_text="Where we send an event when a generation made over the API finishes, "
        "unless the request gave its own webhook_url. Leave empty to send none.",
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/hooks/kling", "autocomplete": "url"}
        ),
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url:
            return ""
        try:
            return check_webhook_url(url)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
