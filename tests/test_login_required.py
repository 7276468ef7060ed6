"""Django's ``LoginRequiredMiddleware`` on: signing in, the provider's notifications, the
admin login and bearer-protected APIs still work, each answering for itself."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from django.urls import resolve, reverse

from logto_auth import urls as logto_urls
from tests.conftest import Site
from tests.devprovider import DevProvider
from tests.test_backchannel import deliver, end_at_provider, sign_in_with_provider_session
from tests.test_webhooks import ALICE, KEY, event, post

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


@pytest.fixture
def guarded(site: Site, settings: Any) -> Site:
    """The site with every view behind a Django login unless it says otherwise."""
    middleware = list(settings.MIDDLEWARE)
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [*middleware[: auth + 1], LOGIN_REQUIRED, *middleware[auth + 1 :]]
    return site


def anonymous(site: Site) -> Site:
    return Site(site.kind)


@pytest.mark.parametrize("name", [pattern.name for pattern in logto_urls.urlpatterns])
def test_every_endpoint_of_the_app_is_login_not_required(name: str | None) -> None:
    view = resolve(reverse(f"logto_auth:{name}")).func

    assert view.login_required is False  # type: ignore[attr-defined]


def test_admin_login_is_login_not_required() -> None:
    assert resolve(reverse("admin:login")).func.login_required is False  # type: ignore[attr-defined]


def test_a_private_page_sends_to_sign_in_which_goes_to_the_provider(
    guarded: Site, dev_provider: DevProvider
) -> None:
    response = guarded.get("/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/logto/sign-in/?next=/profile/"

    provider_url = guarded.sign_in_url(next="/profile/")

    assert provider_url.startswith(dev_provider.url)


def test_sign_in_and_callback_sign_the_user_in(guarded: Site, dev_provider: DevProvider) -> None:
    response = guarded.sign_in(dev_provider, "alice", next="/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert b"Authenticated" in guarded.get("/").content


def test_sign_up_goes_to_the_provider(guarded: Site, dev_provider: DevProvider) -> None:
    assert guarded.sign_in_url("/logto/sign-up/").startswith(dev_provider.url)


def test_sign_out_confirmation_and_post(guarded: Site, dev_provider: DevProvider) -> None:
    assert anonymous(guarded).get("/logto/sign-out/").status_code == 200
    guarded.sign_in(dev_provider, "alice")

    response = guarded.post("/logto/sign-out/")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{dev_provider.issuer}/session/end")
    assert guarded.get("/").status_code == 302  # signed out: the page wants a login again


def test_back_channel_logout_from_the_provider_ends_the_session(
    guarded: Site, dev_provider: DevProvider
) -> None:
    browser = sign_in_with_provider_session(guarded, dev_provider)
    token = end_at_provider(dev_provider, browser)

    response = deliver(anonymous(guarded), token)

    assert response.status_code == 200
    assert response.json() == {"result": "1 session(s) ended"}
    assert guarded.get("/").status_code == 302


def test_webhook_reaches_its_view(guarded: Site, dev_provider: DevProvider, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "WEBHOOK_SIGNING_KEY": KEY}
    guarded.sign_in(dev_provider, "alice")

    response = post(anonymous(guarded), event("User.Data.Updated", name="Alice Renamed"))

    assert response.status_code == 200
    assert response.json() == {"result": "user updated"}
    assert ALICE in guarded.get("/").content.decode()


def test_admin_login_goes_through_logto_and_signs_in_staff(
    guarded: Site, dev_provider: DevProvider
) -> None:
    response = guarded.get("/admin/login/", {"next": "/admin/"})
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response["Location"])
    assert location.path == "/logto/sign-in/"
    assert urllib.parse.parse_qs(location.query)["next"] == ["/admin/"]

    guarded.callback(dev_provider.authorize(guarded.sign_in_url(next="/admin/"), "alice"))

    assert guarded.get("/admin/").status_code == 200


def test_admin_login_of_a_user_without_staff_rights_is_the_no_access_page(
    guarded: Site, dev_provider: DevProvider
) -> None:
    guarded.sign_in(dev_provider, "carol")

    response = guarded.get("/admin/login/")

    assert response.status_code == 403


@pytest.mark.urls("tests.api_urls")
@pytest.mark.parametrize(
    "path",
    ["/api/me/", "/api/drf/me/", "/t/mixin/", "/t/async/", "/t/async-mixin/", "/t/drf/"],
)
def test_api_call_without_a_token_is_a_401_not_a_redirect(guarded: Site, path: str) -> None:
    response = guarded.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
