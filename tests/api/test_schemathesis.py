"""schemathesis against /api/schema/, in-process through WSGI: every operation, a fixed
seed and a bounded number of examples; no answer may be a server error or differ from the
schema (status codes, content types, headers, bodies)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import api_keys
from billing import ledger
from tests.api.test_endpoints import finished

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi(reverse("api:schema"), get_wsgi_application())


@pytest.fixture
def fuzz_key(db, monkeypatch, settings):
    """Alice with credits, a finished generation, and her key; no throttles, no long
    waits (every generation it might wait for is in the queue for good) and no fetches
    (a generated picture URL is refused as unreachable instead of being looked up)."""
    from django.contrib.auth import get_user_model

    from api import inputs

    # The WSGI handler closes the connection after each request, as it should in a server;
    # here that is the test's own transaction, so keep it open (as django.test.Client does).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    settings.API_RATE_PER_MINUTE = 0
    settings.API_CREATE_RATE_PER_MINUTE = 0
    monkeypatch.setattr("api.views.WAIT_CAP", 0)

    def unreachable(url, max_bytes, **kwargs):
        raise inputs.FetchRefused("The host could not be reached.")

    monkeypatch.setattr(inputs, "fetch", unreachable)
    alice, _ = get_user_model().objects.get_or_create(email="fuzz@example.org")
    ledger.grant(alice, 100_000, key="fuzz:grant")
    finished(alice)
    yield api_keys.create_key(alice, "fuzz")[1]
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_api_matches_its_schema(case, fuzz_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=CHECKS)
