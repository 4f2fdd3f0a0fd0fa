"""The OpenAPI schema (valid, 3.1), Swagger UI from our own static files, and the guide."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert text.startswith("openapi: 3.1.0")
    for path in (
        "/api/v1/models",
        "/api/v1/quote",
        "/api/v1/generations",
        "/api/v1/generations/{generation_id}",
        "/api/v1/credits",
    ):
        assert f"  {path}:" in text, path


def test_the_schema_is_served_and_describes_the_bearer_key(client, db):
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create = schema["paths"]["/api/v1/generations"]["post"]
    assert {"201", "200", "402", "409", "413"} <= set(create["responses"])
    request = schema["components"]["schemas"]["GenerationCreateRequest"]
    assert request["discriminator"]["propertyName"] == "kind"


def test_swagger_ui_comes_from_our_static_files(client, db):
    page = client.get(reverse("api:docs")).content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert any("swagger-ui" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_guide_shows_a_first_request_for_this_site(client, alice, signed_in):
    if signed_in:
        client.force_login(alice)
    page = client.get(reverse("api:guide")).content.decode()
    assert "http://testserver" + reverse("api:generations") in page
    for words in (
        "Authorization: Bearer",
        "Idempotency-Key",
        "import requests",
        "wait=",
        "webhook-signature",
        "standardwebhooks",
        "insufficient_credits",
    ):
        assert words in page, words
    assert reverse("api:docs") in page


def test_the_footer_and_the_account_page_link_the_guide(alice_client):
    assert reverse("api:guide") in alice_client.get(reverse("home")).content.decode()
    assert reverse("api:guide") in alice_client.get(reverse("accounts:profile")).content.decode()
