"""The site against a dev provider that fails where Logto fails (devprovider/README.md,
"Fidelity"): unregistered redirect URIs, role-based API scopes, organization-level API
tokens and refresh tokens that are not rotated. Only HTTP: the site's views and the
provider's endpoints."""

from __future__ import annotations

import urllib.parse
from typing import Any

import jwt
import pytest
import requests

from tests.conftest import Site
from tests.devprovider import APP_ID, DevProvider

pytestmark = pytest.mark.usefixtures("dev_provider")
API = "http://127.0.0.1:8000/api"
ACME = "acme4p9x2k7z"
REFRESH_TOKEN = "_logto_refreshToken"


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def refresh(dev: DevProvider, refresh_token: str, **extra: str) -> requests.Response:
    return requests.post(
        f"{dev.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
        auth=(APP_ID, "django-demo-secret"),
        timeout=10,
    )


def test_a_callback_url_not_registered_gets_the_providers_400(site: Site) -> None:
    url = urllib.parse.urlsplit(site.sign_in_url())
    query = dict(urllib.parse.parse_qsl(url.query))
    query["redirect_uri"] = "http://testserver:8080/logto/callback/"
    wrong = url._replace(query=urllib.parse.urlencode(query)).geturl()

    response = requests.get(wrong, allow_redirects=False, timeout=10)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.json()["error"] == "invalid_redirect_uri"


def test_an_unregistered_post_logout_uri_gets_the_providers_400(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    wsgi_site.sign_in(dev_provider, "bob")
    settings.LOGOUT_REDIRECT_URL = "/signed-out-elsewhere/"

    response = wsgi_site.post("/logto/sign-out/")

    assert response.status_code == 302
    end_session = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert end_session.status_code == 400
    assert end_session.json()["error_description"] == "post_logout_redirect_uri not registered"


def test_a_role_less_users_api_token_has_no_scope(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "carol")

    token = claims(wsgi_site.access_token(API))

    assert token["aud"] == API
    assert "scope" not in token


def test_an_admins_api_token_has_the_roles_scope(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "alice")

    # The demo asks for read:profile only; her role would grant write:profile as well.
    assert claims(wsgi_site.access_token(API))["scope"] == "read:profile"


def test_an_organization_level_api_token_from_the_provider(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "alice")

    response = refresh(
        dev_provider, wsgi_site.session[REFRESH_TOKEN], organization_id=ACME, resource=API
    )

    assert response.status_code == 200, response.text
    token = claims(response.json()["access_token"])
    assert token["aud"] == API
    assert token["organization_id"] == ACME
    assert token["scope"] == "read:profile"


def test_a_refresh_token_that_is_not_rotated_stays_in_the_session_and_works(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    before = site.session[REFRESH_TOKEN]
    refreshes = dev_provider.counters().get("token:refresh_token", 0)

    site.access_token(API)  # not fetched yet: one refresh

    assert dev_provider.counters()["token:refresh_token"] == refreshes + 1
    assert site.session[REFRESH_TOKEN] == before
    assert refresh(dev_provider, before).status_code == 200
    assert site.get("/profile/").status_code == 200
