"""The webhooks page: a default URL with errors next to the field, a secret shown once, a
test event, and each event's attempts, all the owner's own."""

from __future__ import annotations

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from accounts import erasure
from outbound_webhooks import subscriptions
from outbound_webhooks.models import Attempt, Delivery, Endpoint

HOOK = "https://hooks.example.com/kling"
PAGE = reverse("outbound_webhooks:endpoint")


@pytest.fixture
def receiver(cdn):
    seen = []
    cdn.add_callback(responses.POST, HOOK, callback=lambda r: (seen.append(r), (204, {}, ""))[1])
    return seen


def delivery_of(user, **extra) -> Delivery:
    fields = {
        "owner": user,
        "event_id": subscriptions.new_event_id(),
        "event_type": "webhook.test",
        "url": HOOK,
        "secret": subscriptions.new_secret(),
        "payload": {"type": "webhook.test", "data": {}},
        "status": Delivery.Status.GAVE_UP,
    } | extra
    return Delivery.objects.create(**fields)


def test_it_needs_a_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_it_shows_url_errors_next_to_the_field_and_saves_nothing(alice, alice_client):
    response = alice_client.post(PAGE, {"url": "https://169.254.169.254/latest"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "private network" in form.errors["url"][0]
    assert 'aria-invalid="true"' in response.content.decode() or "errorlist" in response.content.decode()
    assert not Endpoint.objects.filter(owner=alice).exclude(url="").exists()


def test_it_saves_and_clears_the_default_url(alice, alice_client):
    response = alice_client.post(PAGE, {"url": HOOK}, follow=True)
    assert "Your webhook URL was saved." in response.content.decode()
    assert Endpoint.objects.get(owner=alice).url == HOOK
    alice_client.post(PAGE, {"url": ""})
    assert Endpoint.objects.get(owner=alice).url == ""


def test_it_shows_a_new_secret_once(alice, alice_client):
    response = alice_client.post(reverse("outbound_webhooks:rotate_secret"))
    secret = Endpoint.objects.get(owner=alice).secret
    assert secret in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    again = alice_client.get(PAGE).content.decode()
    assert secret not in again and secret[:10] in again


def test_it_sends_a_test_event_and_lists_its_attempt(
    alice, alice_client, receiver, django_capture_on_commit_callbacks
):
    subscriptions.set_default_url(alice, HOOK)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("outbound_webhooks:send_test"), follow=True)
    assert "A test event is on its way" in response.content.decode()
    item = Delivery.objects.get(owner=alice)
    assert item.event_type == "webhook.test" and item.status == Delivery.Status.DELIVERED
    assert len(receiver) == 1
    page = alice_client.get(PAGE).content.decode()
    assert item.get_absolute_url() in page
    detail = alice_client.get(item.get_absolute_url()).content.decode()
    assert "HTTP 204" in detail


def test_a_test_event_needs_a_url(alice, alice_client):
    response = alice_client.post(reverse("outbound_webhooks:send_test"), follow=True)
    assert "Save a webhook URL first." in response.content.decode()
    assert not Delivery.objects.exists()


def test_someone_elses_event_is_not_found(alice, bob, alice_client):
    theirs = delivery_of(bob)
    assert alice_client.get(theirs.get_absolute_url()).status_code == 404
    assert alice_client.post(reverse("outbound_webhooks:send_again", args=[theirs.pk])).status_code == 404
    assert theirs.event_id not in alice_client.get(PAGE).content.decode()


def test_it_sends_an_event_that_gave_up_again(
    alice, alice_client, receiver, django_capture_on_commit_callbacks
):
    item = delivery_of(alice, attempts=8)
    Attempt.objects.create(delivery=item, status_code=500)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("outbound_webhooks:send_again", args=[item.pk]))
    item.refresh_from_db()
    assert item.status == Delivery.Status.DELIVERED and len(receiver) == 1
    assert item.attempt_log.count() == 2


def test_erasing_an_account_forgets_its_webhooks(alice):
    subscriptions.set_default_url(alice, HOOK)
    delivery_of(alice, payload={"data": {"prompt": "a private prompt"}}, delivered_at=timezone.now())
    erasure.erase_account(alice)
    assert not Endpoint.objects.filter(owner=alice).exists()
    assert not Delivery.objects.filter(owner=alice).exists()
