import time

import jwt
import pytest


@pytest.fixture
def sim(kling_simulator):
    """The in-process simulator with fast timings: 1 s queued, 2 s processing."""
    kling_simulator.set_timings(1, 2)
    return kling_simulator


@pytest.fixture
def auth(sim, settings):
    """Headers for raw requests to the simulator with a valid JWT."""
    now = int(time.time())
    token = jwt.encode(
        {"iss": settings.KLING_ACCESS_KEY, "exp": now + 1800, "nbf": now - 5},
        settings.KLING_SECRET_KEY,
        "HS256",
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def post(client, auth):
    """POST JSON to a simulator path; returns (status, body)."""

    def send(path, body, headers=None):
        response = client.post(path, body, content_type="application/json", headers=headers or auth)
        return response.status_code, response.json()

    return send


@pytest.fixture
def funded_pipeline(kling_simulator, monkeypatch, alice):
    """The simulator with fast timings, django-q running tasks inline, and 2000 credits for alice."""
    import django_q.conf

    from billing import ledger

    monkeypatch.setattr(django_q.conf.Conf, "SYNC", True)
    kling_simulator.set_timings(1, 2)
    ledger.grant(alice, 2000, key="pipeline:grant")
    return kling_simulator
