from allauth.account.models import EmailAddress
from django.core import mail


def test_it_remembers_the_session_when_asked(client, alice):
    response = client.post(
        "/accounts/login/",
        {"login": "alice@example.org", "password": "password-for-tests", "remember": "on"},
    )
    assert response.status_code == 302
    assert client.session.get_expire_at_browser_close() is False


def test_it_forgets_the_session_at_browser_close_by_default(client, alice):
    response = client.post(
        "/accounts/login/", {"login": "alice@example.org", "password": "password-for-tests"}
    )
    assert response.status_code == 302
    assert client.session.get_expire_at_browser_close() is True


def test_it_shows_the_remember_me_box_and_the_reset_link(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'id="field-remember"' in response.content
    assert b'href="/accounts/password/reset/"' in response.content


def test_it_shows_a_wrong_password_above_the_form(client, alice):
    response = client.post("/accounts/login/", {"login": "alice@example.org", "password": "nope"})
    assert response.status_code == 200
    assert b'class="form-errors"' in response.content
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_it_changes_the_email_address_after_confirmation(alice_client, alice, mailed_path):
    response = alice_client.post("/accounts/email/", {"action_add": "", "email": "alice.new@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice.new@example.org"]
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"  # unchanged until the new address is confirmed

    response = alice_client.post(mailed_path("/accounts/confirm-email/"))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice.new@example.org"
    assert list(EmailAddress.objects.filter(user=alice).values_list("email", "verified", "primary")) == [
        ("alice.new@example.org", True, True)
    ]


def test_it_shows_an_email_change_error_next_to_the_field(alice_client):
    response = alice_client.post("/accounts/email/", {"action_add": "", "email": "not-an-email"})
    assert response.status_code == 200
    content = response.content.decode()
    field = content[content.index('id="field-email"') :]
    field = field[: field.index("</div>")]
    assert 'class="errorlist"' in field
    assert "valid email" in field
    assert len(mail.outbox) == 0


def test_it_changes_the_password(alice_client, alice):
    response = alice_client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "password-for-tests",
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-brand-new-passphrase")


def test_it_rejects_a_wrong_current_password(alice_client, alice):
    response = alice_client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "wrong",
            "password1": "a-brand-new-passphrase",
            "password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 200
    assert b'id="field-oldpassword"' in response.content
    assert "oldpassword" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.check_password("password-for-tests")


def test_it_shows_the_account_pages_in_the_site_layout(alice_client):
    for path in ("/account/", "/accounts/email/", "/accounts/password/change/", "/accounts/logout/"):
        response = alice_client.get(path)
        assert response.status_code == 200, path
        assert b'class="site-header"' in response.content, path
        assert b'class="side-nav"' in response.content, path
        assert b'aria-current="page"' in response.content, path


def test_it_shows_the_entrance_pages_in_one_card(client, db):
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'class="card auth-card"' in response.content, path
        assert b"/static/css/site.css" in response.content, path


def test_profile_needs_a_login(client, db):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_profile_shows_whether_the_address_is_verified(alice_client, alice):
    assert b"Verified" in alice_client.get("/account/").content
    EmailAddress.objects.filter(user=alice).update(verified=False)
    assert b"Not verified" in alice_client.get("/account/").content


def test_profile_shows_the_error_next_to_the_field(alice_client, alice):
    response = alice_client.post("/account/", {"display_name": "x" * 81})
    assert response.status_code == 200
    assert b'id="field-display_name"' in response.content
    assert "display_name" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.display_name == ""


def test_navigation_shows_the_display_name_and_admin_only_for_staff(client, alice, staff):
    client.force_login(alice)
    content = client.get("/").content
    assert b'href="/admin/"' not in content
    assert b"Account" in content
    alice.display_name = "Alice A."
    alice.save()
    assert b"Alice A." in client.get("/").content

    client.force_login(staff)
    assert b'href="/admin/"' in client.get("/").content


def test_seed_demo_admin_can_log_in_to_the_admin(client, db):
    from django.core.management import call_command

    call_command("seed_demo")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin@example.com", "password": "demo-admin-password", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
