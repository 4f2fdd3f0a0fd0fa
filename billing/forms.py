"""Forms of the billing pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DemoCardForm(forms.Form):
    """Looks like a card form; the demo takes no card details anywhere."""

    card_number = forms.CharField(label=_("Card number"), max_length=23, initial="4242 4242 4242 4242")
    expiry = forms.RegexField(
        label=_("Expiry (MM / YY)"),
        regex=r"^(0[1-9]|1[0-2])\s*/\s*\d{2}$",
        initial="12 / 34",
        error_messages={"invalid": _("Use MM / YY.")},
    )
    cvc = forms.RegexField(
        label=_("CVC"), regex=r"^\d{3,4}$", initial="123", error_messages={"invalid": _("3 or 4 digits.")}
    )
    name = forms.CharField(label=_("Name on card"), max_length=100, required=False)

    def clean_card_number(self) -> str:
        digits = self.cleaned_data["card_number"].replace(" ", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
            raise forms.ValidationError(_("Your card number is invalid."))
        return digits


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0
