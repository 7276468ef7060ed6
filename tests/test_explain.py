"""Error pages that name the fix: what Logto reports at the callback, explained."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests

from tests.conftest import Site
from tests.devprovider import DevProvider

API = "http://127.0.0.1:8000/api"
ADMIN = b"For the site's administrator"


def callback_with(site: Site, **params: str) -> Any:
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)["state"][0]
    return site.get("/logto/callback/", {"state": state, **params})


def test_a_resource_the_tenant_lacks_is_explained_after_a_real_sign_in(
    wsgi_site: Site, tenant_without_api: DevProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": tenant_without_api.url}
    # Logto refuses the authorization request at once and redirects back with the error.
    sign_in = wsgi_site.sign_in_url()
    redirect = requests.get(sign_in, allow_redirects=False, timeout=10).headers["Location"]
    assert "error=invalid_target" in redirect
    response = wsgi_site.callback(redirect)

    assert response.status_code == 400
    page = response.content.decode()
    assert "This site&#x27;s sign-in is misconfigured" in page
    assert "invalid_target" in page
    assert API in page
    assert "API resources" in page
    assert "manage.py logto_check" in page
    assert ADMIN in response.content


def test_a_wrong_app_secret_after_the_password_names_the_setting(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "APP_SECRET": "wrong"}

    response = wsgi_site.sign_in(dev_provider, "alice")

    assert response.status_code == 502
    page = response.content.decode()
    assert "does not recognise this site" in page
    assert "LOGTO[&#x27;APP_SECRET&#x27;]" in page
    assert "manage.py logto_check" in page
    assert "_auth_user_id" not in wsgi_site.session


def test_a_redirect_uri_mismatch_names_the_callback_to_register(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    response = callback_with(wsgi_site, error="invalid_redirect_uri")
    assert response.status_code == 400
    assert b"Add http://testserver/logto/callback/ to the Redirect URIs" in response.content


def test_a_cancelled_sign_in_is_a_calm_page_with_a_way_back(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    response = callback_with(wsgi_site, error="access_denied")

    assert response.status_code == 400
    assert b"Sign-in cancelled" in response.content
    assert b"Back to the site" in response.content
    assert b"Try again" in response.content
    assert ADMIN not in response.content
    assert b"Error 400" not in response.content


@pytest.mark.parametrize(
    ("code", "title", "fix"),
    [
        ("consent_required", b"Your consent is needed", b"PROMPT"),
        ("login_required", b"Please sign in", b"prompt=none"),
        ("invalid_scope", b"misconfigured", b"LOGTO[&#x27;SCOPES&#x27;]"),
        ("server_error", b"misconfigured", b"logto_check"),
    ],
)
def test_each_provider_error_has_its_title_and_fix(
    wsgi_site: Site, dev_provider: DevProvider, code: str, title: bytes, fix: bytes
) -> None:
    response = callback_with(wsgi_site, error=code, error_description="said by Logto")

    assert response.status_code == 400
    assert title in response.content
    assert fix in response.content
    assert b"said by Logto" in response.content


def test_the_fix_is_logged_for_the_administrator(
    wsgi_site: Site, dev_provider: DevProvider, caplog: pytest.LogCaptureFixture
) -> None:
    callback_with(wsgi_site, error="invalid_target")
    assert any(
        "To fix:" in record.getMessage() and API in record.getMessage() for record in caplog.records
    )
