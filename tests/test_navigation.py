"""The main navigation marks the section of the page, read from its resolved URL name."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generations.models import Asset, Generation, Status

CURRENT = re.compile(r'<a href="([^"]*)"[^>]*aria-current="page"')


def current_links(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return CURRENT.findall(response.content.decode())


def make_generation(owner, images: int = 0) -> Generation:
    generation = Generation.objects.create(
        owner=owner,
        kind="text2image",
        provider="fake",
        model_name="kling-v2-1",
        prompt="A red fox",
        params={"n": max(images, 1)},
        cost=0,
        status=Status.SUCCEEDED if images else Status.FAILED,
    )
    for index in range(images):
        Asset.objects.create(
            generation=generation,
            kind=Asset.Kind.IMAGE,
            index=index,
            file=f"results/{index}.png",
            content_type="image/png",
        )
    return generation


@pytest.mark.parametrize(
    ("url", "section"),
    [
        ("generations:choose", "generations:choose"),
        ("generations:gallery", "generations:gallery"),
        ("subjects:index", "subjects:index"),
        ("billing:credits", "billing:credits"),
        ("billing:purchases", "billing:credits"),
        ("accounts:profile", "accounts:profile"),
        ("account_email", "accounts:profile"),
        ("account_change_password", "accounts:profile"),
    ],
)
def test_it_marks_the_section_of_the_page(alice_client, url, section):
    assert reverse(section) in current_links(alice_client, reverse(url))


def test_it_marks_a_generation_page_as_the_gallery_and_buying_as_nothing(alice, alice_client):
    generation = make_generation(alice)
    assert current_links(alice_client, generation.get_absolute_url()) == [reverse("generations:gallery")]
    assert current_links(alice_client, reverse("generations:create", args=["text-to-video"])) == [
        reverse("generations:choose")
    ]
    assert current_links(alice_client, reverse("billing:buy")) == []
    assert current_links(alice_client, reverse("home")) == []


def test_the_account_side_menu_marks_its_page(alice_client):
    assert current_links(alice_client, reverse("account_email")) == [
        reverse("accounts:profile"),
        reverse("account_email"),
    ]


def test_it_marks_log_in_for_a_stranger(client, db):
    assert current_links(client, reverse("account_login")) == [reverse("account_login")]
    assert current_links(client, reverse("account_signup")) == []


def test_a_page_that_matches_nothing_marks_nothing(alice_client):
    response = alice_client.get("/generate/no/such/page/")
    assert response.status_code == 404
    assert not CURRENT.findall(response.content.decode())


def test_the_file_links_cost_no_query_per_asset(alice, alice_client):
    few, many = make_generation(alice, images=1), make_generation(alice, images=6)
    counts = []
    for generation in (few, many):
        with CaptureQueriesContext(connection) as queries:
            body = alice_client.get(generation.get_absolute_url()).content.decode()
        counts.append(len(queries))
        for asset in generation.assets.all():
            assert f'href="{asset.download_url}" download="{asset.download_name}"' in body
    assert counts[0] == counts[1]


def test_it_marks_deleting_a_subject_as_the_subjects_section(alice, alice_client):
    from subjects.models import Subject

    subject = Subject.objects.create(owner=alice, name="Mia", description="Mia", status=Subject.Status.READY)
    assert current_links(alice_client, reverse("subjects:delete", args=[subject.pk])) == [
        reverse("subjects:index")
    ]
    page = alice_client.get(reverse("generations:choose")).content.decode()
    assert f'<a href="{reverse("subjects:index")}" >Subjects</a>' in page
