from django import template

from billing import ledger

register = template.Library()


@register.simple_tag
def credit_balance(user) -> int:
    """The person's balance for the navigation badge: one indexed query, 0 without an account."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return ledger.balance_of(user)
