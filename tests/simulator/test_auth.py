"""The simulator checks credentials like Kling: JWT (HS256, iss/exp/nbf) or a static API key."""

import time

import jwt
import pytest

URL = "/_sim/kling/v1/videos/text2video"


def _jwt(settings, *, iss=None, exp=1800, nbf=-5, secret=None, drop=()):
    now = int(time.time())
    claims = {"iss": iss or settings.KLING_ACCESS_KEY, "exp": now + exp, "nbf": now + nbf}
    for name in drop:
        claims.pop(name)
    return jwt.encode(claims, secret or settings.KLING_SECRET_KEY, "HS256")


@pytest.mark.parametrize(
    ("make_header", "code"),
    [
        (lambda s: "", 1001),
        (lambda s: "Basic abc", 1002),
        (lambda s: "Bearer not-a-known-key", 1002),
        (lambda s: "Bearer " + _jwt(s, secret="some-other-secret-that-is-long-enough"), 1002),
        (lambda s: "Bearer " + _jwt(s, iss="someone-else"), 1002),
        (lambda s: "Bearer " + _jwt(s, exp=-10), 1004),
        (lambda s: "Bearer " + _jwt(s, nbf=120), 1003),
        (lambda s: "Bearer " + _jwt(s, drop=("iss",)), 1000),
        (lambda s: "Bearer eyJhbGciOiJIUzI1NiJ9.garbage.garbage", 1002),
    ],
)
def test_it_answers_auth_failures_with_klings_codes(sim, client, settings, make_header, code):
    header = make_header(settings)
    headers = {"Authorization": header} if header else {}
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == code
    assert "data" not in body
    assert body["request_id"]


def test_it_accepts_a_valid_jwt(sim, client, auth):
    response = client.get(URL, headers=auth)
    assert response.status_code == 200
    assert response.json()["code"] == 0


def test_it_accepts_the_configured_api_key(sim, client, settings):
    settings.KLING_API_KEY = "sk-simulated-account-key"
    response = client.get(URL, headers={"Authorization": "Bearer sk-simulated-account-key"})
    assert response.json()["code"] == 0


def test_the_official_client_recovers_from_an_expired_cached_token(sim, settings):
    from generations.providers import kling

    client = sim.client()
    client.list_tasks("videos/text2video")  # caches a good token
    # Make the cache hand out a token the server considers expired (as after a long sleep).
    expired = _jwt(settings, exp=-30)
    key = next(iter(kling._tokens))
    _old, nbf, exp = kling._tokens[key]
    kling._tokens[key] = (expired, nbf, exp)

    page = client.list_tasks("videos/text2video")
    assert page.tasks == ()
    assert kling._tokens[key][0] != expired
