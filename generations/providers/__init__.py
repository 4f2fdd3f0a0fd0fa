"""Provider clients. `get_provider()` returns the one configured by KLING_PROVIDER."""

from __future__ import annotations

from django.conf import settings

from generations.providers.base import Provider


def get_provider() -> Provider:
    """The configured provider client (a fresh, cheap object; HTTP sessions are pooled per process).

    - `simulator`: the official Kling client pointed at the built-in simulator (KLING_API_BASE).
    - `kling`: the official Kling client (also any Kling-compatible proxy, by KLING_API_BASE + KLING_API_KEY).
    - `gateway`: the unified `/v1/video/generations` gateway (GATEWAY_API_BASE + GATEWAY_API_KEY).
    """
    if settings.KLING_PROVIDER == "gateway":
        from generations.providers.gateway import GatewayClient

        return GatewayClient.from_settings()
    from generations.providers.kling import KlingClient

    return KlingClient.from_settings()


def offers(product: str) -> bool:
    """Whether the configured provider can make `product` at all: pages do not offer a kind
    it cannot make (the gateway makes text and image to video only)."""
    if settings.KLING_PROVIDER == "gateway":
        from generations.providers.gateway import VIDEO_PRODUCTS

        return product in VIDEO_PRODUCTS
    return True
