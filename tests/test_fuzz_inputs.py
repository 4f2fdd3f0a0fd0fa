"""Every URL the site routes, fed odd ids, methods, headers and query strings, answers with a
4xx or a page, never a server error. The routes are read from the resolver, so a page added
later is fuzzed without anyone remembering to list it here."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch
from django.urls.resolvers import RoutePattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generations.models import Asset, Generation

# Larger than any 64-bit key: SQLite raises OverflowError and PostgreSQL "out of range"
# for it unless the URL refuses it first.
HUGE = "9" * 25
ODD_VALUES = {
    "int": ["0", "1", HUGE],
    "id": ["0", "1", HUGE],
    "str": ["x", "..", "%00", "a" * 300, "\uff11"],
    "slug": ["x", "-", "a" * 300],
    "path": ["x", "x/../y", HUGE, "%ff"],
}
REGEX_VALUES = ["1", HUGE, "x", "A_-"]


def _routes(patterns, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern), entry


def _candidates(entry: URLPattern) -> dict[str, list[str]]:
    if isinstance(entry.pattern, RoutePattern):
        return {
            arg: ODD_VALUES.get(type(conv).__name__.removesuffix("Converter").lower(), ["x"])
            for arg, conv in entry.pattern.converters.items()
        }
    return {arg: REGEX_VALUES for arg in entry.pattern.regex.groupindex}


def concrete_urls(*, admin: bool) -> list[str]:
    """Each named route with every combination of odd values its arguments accept."""
    urls = set()
    for name, _route, entry in _routes(get_resolver().url_patterns):
        if name.startswith("admin:") != admin:
            continue
        options = _candidates(entry)
        for combo in itertools.product(*options.values()):
            try:
                urls.add(reverse(name, kwargs=dict(zip(options, combo, strict=True))))
            except NoReverseMatch:
                continue
    return sorted(urls)


SITE_URLS = concrete_urls(admin=False)
ADMIN_URLS = concrete_urls(admin=True)


def test_it_finds_the_routes_it_fuzzes():
    assert any("/generations/" in url and HUGE in url for url in SITE_URLS)
    assert any(url.startswith("/admin/") and HUGE in url for url in ADMIN_URLS)
    assert len(SITE_URLS) > 40


@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_it_never_answers_a_site_url_with_a_server_error(client, alice, method):
    errors = []
    for url in SITE_URLS:
        for signed_in in (False, True):
            client.logout()
            if signed_in:
                client.force_login(alice)
            status = getattr(client, method)(url).status_code
            if status >= 500:
                errors.append((method, url, signed_in, status))
    assert errors == []


def test_it_never_answers_an_admin_url_with_a_server_error(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    errors = [(url, s) for url in ADMIN_URLS if (s := client.get(url).status_code) >= 500]
    assert errors == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=abc-",
        "bytes=5-2",
        "bytes=0-1,3-4",
        "items=0-1",
        f"bytes={HUGE}-",
        f"bytes=-{HUGE}",
        f"bytes=0-{HUGE}",
        "bytes=0-0",
        "bytes=\x00-1",
    ],
)
def test_it_answers_any_range_header_with_the_file_a_part_or_416(alice_client, alice, value):
    generation = Generation.objects.create(
        owner=alice, kind="text2image", provider="fake", model_name="kling-v2-1", prompt="p", cost=0
    )
    asset = Asset(generation=generation, kind=Asset.Kind.IMAGE, content_type="image/png", size=6)
    asset.file.save("fuzz.png", ContentFile(b"abcdef"), save=True)
    response = alice_client.get(asset.get_absolute_url(), HTTP_RANGE=value)
    assert response.status_code in (200, 206, 416)
    if response.status_code == 206:
        assert len(b"".join(response.streaming_content)) == int(response["Content-Length"])


QUERY_PAGES = ["generations:gallery", "billing:credits", "billing:purchases", "generations:live_cards"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    page=st.sampled_from(QUERY_PAGES),
    query=st.dictionaries(
        st.sampled_from(["page", "kind", "status", "ids", "id", "q", "sort", "x"]),
        st.one_of(st.text(max_size=30), st.just(HUGE), st.integers().map(str)),
        max_size=4,
    ),
)
def test_it_answers_garbage_query_strings_on_list_pages(alice_client, page, query):
    assert alice_client.get(reverse(page), query).status_code < 500


def test_it_tells_a_stripe_webhook_prober_nothing_about_its_checks(client, db):
    for signature in ["", "t=1,v1=abc", "garbage", "t=notanumber,v1=" + "0" * 64]:
        response = client.post(
            reverse("billing:stripe_webhook"),
            b'{"id": "evt_1"}',
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_signature"}
