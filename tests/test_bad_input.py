"""Bad input from a person or a stranger gets a clear answer, never a server error."""

import pytest

from billing import ledger

BODIES = [
    {},
    {"prompt": "x" * 9000},
    {"model_name": "nope", "prompt": "a"},
    {"n": "abc", "prompt": "a"},
    {"duration": "-5", "mode": "4k", "prompt": "a", "cfg_scale": "NaN"},
    {"image_url": "file:///etc/passwd", "prompt": "a"},
    {"image_url": "http://169.254.169.254/x", "prompt": "a", "client_token": "t" * 500},
]


@pytest.mark.parametrize(
    "url", ["/generate/text-to-image/", "/generate/text-to-video/", "/generate/image-to-video/"]
)
@pytest.mark.parametrize("body", BODIES)
def test_it_answers_malformed_create_forms_without_a_server_error(alice_client, alice, url, body):
    ledger.grant(alice, 500, key="bad-input:grant")
    assert alice_client.post(url, body).status_code < 500
    assert alice_client.get(url, body).status_code < 500


@pytest.mark.parametrize(
    "path",
    [
        "/credits/buy/",
        "/credits/?page=abc",
        "/credits/?page=99999",
        "/generations/?kind=zzz&status=qq&page=-1",
        "/credits/buy/success/?session_id=nope",
        "/generations/999999/",
    ],
)
def test_it_answers_odd_query_strings_without_a_server_error(alice_client, path):
    assert alice_client.get(path).status_code < 500


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"type": 5}'])
def test_it_refuses_unsigned_webhooks_and_forged_callbacks(client, db, body):
    r = client.post(
        "/billing/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=abc"
    )
    assert r.status_code == 400
    assert (
        client.post("/callbacks/kling/1/badtoken/", body, content_type="application/json").status_code == 404
    )


def test_it_refuses_unknown_packs_without_a_server_error(alice_client):
    for pack in ["", "abc", "999999", "-1"]:
        assert alice_client.post("/credits/buy/", {"pack": pack}).status_code < 500
