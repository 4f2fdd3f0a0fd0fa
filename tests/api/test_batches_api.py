"""Batches over the REST API: create one (all rows charged in one go, or none), show it
with its rows, list one's own; someone else's batch is 404."""

from __future__ import annotations

import pytest

from accounts import api_keys
from batches.models import Batch
from billing import ledger
from generations.models import Generation
from tests.api.conftest import bearer

OPTIONS = {"model_name": "kling-v2-1", "aspect_ratio": "1:1", "n": 1, "resolution": "1k"}


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def _create(api, commit, prompts, **extra):
    with commit(execute=False):
        return api.post(
            "/api/v1/batches",
            {"kind": "text2image", "options": OPTIONS, "prompts": prompts, **extra},
            format="json",
        )


def test_it_creates_a_batch_and_shows_it_with_its_rows(api, rich_alice, commit, _default_prices):
    response = _create(api, commit, ["A red fox", "A blue whale", "A green parrot"])
    assert response.status_code == 201, response.json()
    body = response.json()
    batch = Batch.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/v1/batches/{batch.pk}")
    assert body["kind"] == "text2image" and body["total_cost"] == batch.total_cost > 0
    assert [item["row"] for item in body["items"]] == [1, 2, 3]
    assert [item["prompt"] for item in body["items"]] == ["A red fox", "A blue whale", "A green parrot"]
    assert {item["generation"]["status"] for item in body["items"]} == {"queued"}
    assert body["progress"] == {"done": 0, "failed": 0, "running": 3, "total": 3}
    assert ledger.balance_of(rich_alice) == 1000 - batch.total_cost
    shown = api.get(f"/api/v1/batches/{batch.pk}").json()
    assert [item["generation"]["id"] for item in shown["items"]] == [
        item["generation"]["id"] for item in body["items"]
    ]


def test_the_same_client_token_makes_one_batch(api, rich_alice, commit, _default_prices):
    first = _create(api, commit, ["A red fox"], client_token="tok-1")
    again = _create(api, commit, ["A red fox"], client_token="tok-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Generation.objects.count() == 1


def test_a_short_balance_charges_nothing(api, alice, commit, _default_prices):
    ledger.grant(alice, 1, key="test:grant:alice:one")
    response = _create(api, commit, ["A red fox", "A blue whale"])
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_credits"
    assert not Batch.objects.exists() and not Generation.objects.exists()
    assert ledger.balance_of(alice) == 1


@pytest.mark.parametrize(
    "prompts, problem",
    [([], "prompts"), (["A fox", ""], "Row 2"), (["A fox"] * 101, "prompts")],
    ids=["none", "empty-line", "too-many"],
)
def test_it_refuses_bad_rows_before_any_charge(api, rich_alice, commit, _default_prices, prompts, problem):
    response = _create(api, commit, prompts)
    assert response.status_code == 400
    assert problem in str(response.json())
    assert not Batch.objects.exists() and ledger.balance_of(rich_alice) == 1000


def test_it_refuses_a_bad_option_naming_the_row(api, rich_alice, commit, _default_prices):
    with commit(execute=False):
        response = api.post(
            "/api/v1/batches",
            {"kind": "text2image", "options": {**OPTIONS, "aspect_ratio": "5:1"}, "prompts": ["A fox"]},
            format="json",
        )
    assert response.status_code == 400
    assert "Row 1" in str(response.json())


def test_it_lists_only_one_s_own_batches(api, rich_alice, bob, commit, _default_prices):
    mine = _create(api, commit, ["A red fox"]).json()["id"]
    ledger.grant(bob, 1000, key="test:grant:bob")
    bobs_api = bearer(api_keys.create_key(bob, "bob's script")[1])
    with commit(execute=False):
        theirs = bobs_api.post(
            "/api/v1/batches", {"kind": "text2image", "options": OPTIONS, "prompts": ["A cat"]}, format="json"
        ).json()["id"]
    listed = api.get("/api/v1/batches").json()
    assert [b["id"] for b in listed["results"]] == [mine]
    assert listed["results"][0]["progress"]["total"] == 1
    assert api.get(f"/api/v1/batches/{theirs}").status_code == 404


def test_batches_are_in_the_schema(api, db):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert {"/api/v1/batches", "/api/v1/batches/{batch_id}"} <= set(schema["paths"])
    assert schema["paths"]["/api/v1/batches"]["post"]["operationId"] == "create_batch"
