"""The admin: login through Logto, a clear page without staff rights, the Logto side of
users."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import Site
from tests.devprovider import DevProvider


def sign_in_target(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302
    url = urllib.parse.urlsplit(response["Location"])
    assert url.path == "/logto/sign-in/"
    return urllib.parse.parse_qs(url.query)


def test_admin_login_sends_the_browser_to_logto_keeping_next(wsgi_site: Site) -> None:
    response = wsgi_site.get("/admin/auth/user/")
    assert response.status_code == 302
    login = wsgi_site.get(response["Location"])

    assert sign_in_target(login) == {"next": ["/admin/auth/user/"]}
    assert b"password" not in login.content


def test_admin_direct_sign_in_reaches_the_provider(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ADMIN_DIRECT_SIGN_IN": "social:azuread"}
    params = sign_in_target(wsgi_site.get("/admin/login/"))
    assert params["direct_sign_in"] == ["social:azuread"]

    response = wsgi_site.sign_in(dev_provider, "alice", **{k: v[0] for k, v in params.items()})

    assert dev_provider.auth_requests()[-1]["direct_sign_in"] == "social:azuread"
    assert response["Location"] == "/admin/"
    assert wsgi_site.get("/admin/").status_code == 200


def test_user_without_staff_rights_sees_no_access_not_a_loop(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "carol")

    response = wsgi_site.get("/admin/", follow=True)

    assert response.status_code == 403
    assert len(response.redirect_chain) == 1
    page = response.content.decode()
    assert "No access" in page
    assert 'action="/logto/sign-out/"' in page


def test_staff_are_sent_on_from_the_login_page(wsgi_site: Site, dev_provider: DevProvider) -> None:
    wsgi_site.sign_in(dev_provider, "bob")

    assert wsgi_site.get("/admin/login/")["Location"] == "/admin/"


def test_password_login_only_when_the_site_opts_in(settings: Any, wsgi_site: Site) -> None:
    get_user_model().objects.create_superuser("root", password="pw-for-root")
    settings.LOGTO = {**settings.LOGTO, "ADMIN_PASSWORD_LOGIN": True}

    page = wsgi_site.get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    assert b"Sign in with Logto" in page.content
    response = wsgi_site.post(
        "/admin/login/?next=/admin/", {"username": "root", "password": "pw-for-root"}
    )
    assert response["Location"] == "/admin/"


def test_admin_logout_ends_the_logto_session_too(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "alice")

    response = wsgi_site.post("/admin/logout/")

    assert response["Location"].startswith(f"{dev_provider.issuer}/session/end?")
    assert wsgi_site.get("/admin/")["Location"].startswith("/admin/login/")


@pytest.fixture
def signed_in_team(dev_provider: DevProvider, db: None) -> Site:
    for user in ("bob", "carol"):
        Site("wsgi").sign_in(dev_provider, user)
    alice = Site("wsgi")
    alice.sign_in(dev_provider, "alice")
    return alice


def test_user_list_shows_logto_sub_and_roles(signed_in_team: Site) -> None:
    page = signed_in_team.get("/admin/auth/user/").content.decode()

    assert "Logto sub" in page
    assert "Logto roles" in page
    assert "bob00f3n8wzt" in page
    assert "carol0p5d1hs" in page
    assert "staff" in page


def test_user_list_searches_by_sub(signed_in_team: Site) -> None:
    page = signed_in_team.get("/admin/auth/user/", {"q": "bob00f3n8wzt"}).content.decode()

    assert "bob00f3n8wzt" in page
    assert "carol0p5d1hs" not in page


def test_user_page_shows_the_logto_side_read_only(signed_in_team: Site, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "CONSOLE_URL": "https://cloud.logto.io/tenant1/"}
    bob = get_user_model().objects.get(username="bob")

    page = signed_in_team.get(f"/admin/auth/user/{bob.pk}/change/").content.decode()

    assert "bob00f3n8wzt" in page
    assert "acme4p9x2k7z (member)" in page
    assert 'href="https://cloud.logto.io/tenant1/users/bob00f3n8wzt"' in page
    assert 'name="logto_identity-0-sub"' not in page  # shown, not editable
    assert "the password is managed there" in page  # Logto users have no password here


def test_staff_group_gives_bob_view_rights_only(dev_provider: DevProvider, db: None) -> None:
    bob = Site("wsgi")
    bob.sign_in(dev_provider, "bob")

    assert bob.get("/admin/auth/user/").status_code == 200
    assert bob.get("/admin/auth/user/add/").status_code == 403
    assert b"Add user" not in bob.get("/admin/auth/user/").content


def test_flags_the_mapping_manages_are_read_only_for_logto_users(signed_in_team: Site) -> None:
    bob = get_user_model().objects.get(username="bob")
    local = get_user_model().objects.create_user("local-user")

    bob_page = signed_in_team.get(f"/admin/auth/user/{bob.pk}/change/").content.decode()
    local_page = signed_in_team.get(f"/admin/auth/user/{local.pk}/change/").content.decode()

    assert 'name="is_staff"' not in bob_page
    assert 'name="is_superuser"' not in bob_page
    assert 'name="is_staff"' in local_page


def test_no_access_page_links_back_to_the_site(wsgi_site: Site, dev_provider: DevProvider) -> None:
    wsgi_site.sign_in(dev_provider, "carol")
    page = wsgi_site.get("/admin/", follow=True).content.decode()
    assert '<a class="button" href="/">Back to the site</a>' in page


def test_view_only_staff_are_not_offered_set_password(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    other = wsgi_site.__class__("wsgi")
    other.sign_in(dev_provider, "alice")
    wsgi_site.sign_in(dev_provider, "bob")  # staff with view permissions only
    alice = get_user_model().objects.get(logto_identity__sub="alice0k7x2qm")

    page = wsgi_site.get(f"/admin/auth/user/{alice.pk}/change/")

    assert page.status_code == 200
    assert b"Set password" not in page.content
    assert b"../password/" not in page.content


def test_superusers_keep_set_password_for_users_without_logto(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    local = get_user_model().objects.create_user("local", password=None)
    wsgi_site.sign_in(dev_provider, "alice")

    page = wsgi_site.get(f"/admin/auth/user/{local.pk}/change/")

    assert page.status_code == 200
    assert b"Set password" in page.content
