"""Name resolution for webhook tests, which must not depend on the network's DNS."""

from __future__ import annotations

import socket

# Addresses from the documentation ranges are not global; these are (example.com's own).
PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def fake_public_dns(monkeypatch, names: dict[str, list[str]] | None = None) -> None:
    """Names under example.com resolve to a public address; `names` adds or overrides."""
    real = socket.getaddrinfo
    table = dict(names or {})

    def getaddrinfo(host, port, *args, **kwargs):
        host = host.decode() if isinstance(host, bytes) else host
        addresses = table.get(host)
        if addresses is None and (host == "example.com" or str(host).endswith(".example.com")):
            addresses = [PUBLIC_V4]
        if addresses is None:
            return real(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port or 0, 0, 0) if ":" in a else (a, port or 0),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
