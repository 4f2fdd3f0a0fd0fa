"""What a page of GET /api/v1/generations costs: the same number of queries and of URL
reversals whatever its size, and links built once per route still equal reverse()'s."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.urls.resolvers import URLResolver

from api import files
from generations.models import Asset
from tests.api.test_endpoints import finished


def page_costs(api, size: int, monkeypatch) -> tuple[int, int]:
    """(queries, URL reversals) for one page of this size."""
    calls = []
    real = URLResolver._reverse_with_prefix
    monkeypatch.setattr(
        URLResolver, "_reverse_with_prefix", lambda *a, **k: calls.append(a[1]) or real(*a, **k)
    )
    with CaptureQueriesContext(connection) as captured:
        response = api.get(reverse("api:generations"), {"page_size": size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == size
    return len(captured), len(calls)


def test_a_bigger_page_costs_no_more_queries_or_reversals(api, alice, monkeypatch):
    for _ in range(12):
        finished(alice, images=2)
    api.get(reverse("api:generations"))  # the key's first use records when: not a steady request
    small, big = page_costs(api, 2, monkeypatch), page_costs(api, 12, monkeypatch)
    assert small == big
    assert big[1] <= 4  # once per route, not per item


def test_links_built_once_per_route_equal_the_reversed_ones(api, alice):
    generation = finished(alice, images=2)
    Asset.objects.filter(generation=generation).update(thumbnail="thumbs/x.jpg")
    body = api.get(reverse("api:generations")).json()["results"][0]
    assert body["web_url"] == f"http://testserver{generation.get_absolute_url()}"
    for output in body["outputs"]:
        for key, which in (("url", "file"), ("thumbnail_url", "thumbnail")):
            path = output[key].removeprefix("http://testserver")
            match = resolve(path)
            assert match.view_name == "api:file"
            asset, named = files.resolve(match.kwargs["token"])
            assert (asset.generation_id, asset.index, named) == (generation.pk, output["index"], which)
            assert path == reverse("api:file", args=[match.kwargs["token"]])
