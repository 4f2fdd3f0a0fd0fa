"""HTTP to addresses someone else chose (a developer's webhook URL), refusing our own network.

Checking a URL's host when it is saved is not enough: the name can later resolve to
127.0.0.1 or 169.254.169.254 (DNS rebinding). So the check also runs on the socket itself,
after it connects and before a byte is sent: whatever the name resolved to at that moment
is the address judged. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class PrivateAddress(Exception):
    """The host is, or resolved to, an address inside a private or reserved network.

    Not an OSError on purpose: urllib3 would wrap one into a generic connection error (and
    retry it); this passes through requests unchanged, so callers can say what happened."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is one the public internet routes (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def public_addresses(host: str, port: int | None = None) -> list[str]:
    """Every address `host` resolves to; raises PrivateAddress if any is not public, and
    OSError if it does not resolve."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        if not is_public_address(address):
            raise PrivateAddress(f"{host} resolves to {address}, a private or reserved address")
    return addresses


class TooLarge(Exception):
    """The body is over the cap: `declared` is its Content-Length when that said so."""

    def __init__(self, declared: int | None = None) -> None:
        super().__init__(declared)
        self.declared = declared


class TooSlow(Exception):
    """The body did not arrive before the deadline."""


def copy_capped(
    response: requests.Response, out, max_bytes: int, deadline: float, chunk: int = 64 * 1024
) -> int:
    """Stream a response's body into `out`, refusing more than `max_bytes` (by its
    Content-Length before reading, and by what arrives) or past `deadline` (a
    time.monotonic() value). Returns the size; network errors propagate as requests'."""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise TooLarge(int(length))
    size = 0
    for piece in response.iter_content(chunk):
        size += len(piece)
        if size > max_bytes:
            raise TooLarge()
        if time.monotonic() > deadline:
            raise TooSlow()
        out.write(piece)
    return size


class TooManyRedirects(Exception):
    """More redirects than the caller allows."""


def get_checking_each_hop(
    url: str, get: Callable[[str], requests.Response], check: Callable[[str], None], most: int
) -> tuple[requests.Response, str]:
    """GET `url`, following at most `most` redirects by hand so that `check` (which raises)
    vets every address before anything is sent to it. Returns the final response and URL."""
    for _ in range(most + 1):
        check(url)
        response = get(url)
        if not response.is_redirect:
            return response, url
        location = response.headers.get("Location", "")
        response.close()
        url = urljoin(url, location)
    raise TooManyRedirects(most)


def resolves_privately(host: str) -> bool:
    """Whether any address `host` resolves to is not public. A name that does not resolve
    counts as not private: the request then fails on its own."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(not is_public_address(info[4][0]) for info in infos)


class _CheckedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        peer = sock.getpeername()[0]
        if not is_public_address(peer):
            sock.close()
            raise PrivateAddress(f"{self.host} connected to {peer}, a private or reserved address")  # type: ignore[attr-defined]
        return sock


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def session(*, allow_private: bool = False) -> requests.Session:
    """A requests session whose connections refuse private and reserved peers (unless
    `allow_private`, for a developer's own machine in demo mode) and ignore proxies set in
    the environment, which would otherwise be the peer checked."""
    s = requests.Session()
    s.trust_env = False
    if not allow_private:
        s.mount("http://", _CheckedAdapter())
        s.mount("https://", _CheckedAdapter())
    return s
