from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Hooks for account side effects. Welcome credits are granted in billing (see billing.signup)."""
