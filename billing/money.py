"""Currency amounts for display. Amounts are always integers in the currency's minor unit.

Nothing here does arithmetic a payment depends on; it only turns integers into text
without passing through a float.
"""

from __future__ import annotations

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
# https://docs.stripe.com/currencies#zero-decimal
_ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
_THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def exponent(currency: str) -> int:
    currency = currency.lower()
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    return 2


def format_minor(amount: int, currency: str) -> str:
    """`1000, "usd"` -> "$10.00"; `1000, "chf"` -> "10.00 CHF"; `500, "jpy"` -> "¥500"."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(int(amount)), 10**digits)
    number = f"{whole:,}" + (f".{fraction:0{digits}d}" if digits else "")
    symbol = _SYMBOLS.get(currency.lower())
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency.upper()}"


def per_hundred_credits(price_minor: int, credits: int) -> int:
    """The price of 100 credits in minor units, rounded half up, in integers only."""
    if credits <= 0:
        raise ValueError("A pack has at least one credit")
    return (price_minor * 100 * 2 + credits) // (2 * credits)
