"""English and Simplified Chinese: chosen from the browser, the footer switcher or the profile."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_browser_language_picks_chinese_without_a_url_prefix(client):
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "注册" in page and ">Sign up<" not in page


def test_an_unknown_browser_language_falls_back_to_english(client):
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    assert '<html lang="en">' in page and ">Sign up<" in page


def test_the_footer_switcher_sets_the_cookie_and_returns_to_the_page(client):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/buy/"})
    assert response.status_code == 302 and response["Location"] == "/buy/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in page


def test_a_signed_in_choice_is_saved_on_the_profile_and_wins_over_the_browser(alice_client, alice):
    alice_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    alice.refresh_from_db()
    assert alice.language == "zh-hans"
    alice_client.cookies.clear()
    alice_client.force_login(alice)
    page = alice_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert '<html lang="zh-hans">' in page and "退出登录" in page


def test_an_unknown_language_is_not_saved(alice_client, alice):
    alice_client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    alice.refresh_from_db()
    assert alice.language == ""


def test_the_profile_form_offers_the_languages(alice_client, alice):
    page = alice_client.get(reverse("accounts:profile")).content.decode()
    assert "简体中文" in page
    alice_client.post(
        reverse("accounts:profile"), {"display_name": "", "language": "zh-hans", "notify_on_finish": "on"}
    )
    alice.refresh_from_db()
    assert alice.language == "zh-hans"
