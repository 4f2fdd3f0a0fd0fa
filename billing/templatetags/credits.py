from django import template
from django.utils.formats import number_format

from billing import ledger

register = template.Library()


@register.simple_tag
def credit_balance(user) -> int:
    """The person's balance for the navigation badge: one indexed query, 0 without an account."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return ledger.balance_of(user)


@register.filter
def signed_credits(amount: int) -> str:
    """A ledger amount with its sign, grouped like the balance next to it (`intcomma`):
    "+1,000" and "-500" in English, in the active language's style otherwise."""
    sign = "+" if amount > 0 else "-" if amount < 0 else ""
    return sign + number_format(abs(amount), force_grouping=True)
