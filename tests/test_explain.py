"""Error pages that name the fix: what Logto reports at the callback, explained."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model

from tests.conftest import Site
from tests.devprovider import DevProvider

API = "http://127.0.0.1:8000/api"
ADMIN = b"For the site's administrator"
CALLBACK = "http://testserver/logto/callback/"


@pytest.fixture
def debug(settings: Any) -> None:
    """DEBUG on: the page shows the administrator's part to anyone, as in development."""
    settings.DEBUG = True


def callback_with(site: Site, **params: str) -> Any:
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)["state"][0]
    return site.get("/logto/callback/", {"state": state, **params})


def test_a_resource_the_tenant_lacks_is_explained_after_a_real_sign_in(
    wsgi_site: Site, tenant_without_api: DevProvider, settings: Any, debug: None
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
    wsgi_site: Site, dev_provider: DevProvider, settings: Any, debug: None
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
    wsgi_site: Site, dev_provider: DevProvider, debug: None
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
    wsgi_site: Site, dev_provider: DevProvider, debug: None, code: str, title: bytes, fix: bytes
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


def reference_on(page: str) -> str:
    found = re.search(r"Reference <code>([0-9a-f]+)</code>", page)
    assert found, page
    return found.group(1)


def test_an_anonymous_visitor_sees_a_reference_and_not_the_sites_configuration(
    site: Site, dev_provider: DevProvider, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DEBUG = False
    response = callback_with(
        site, error="invalid_redirect_uri", error_description="redirect_uri is not registered"
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "This site&#x27;s sign-in is misconfigured" in page
    assert ADMIN not in response.content
    assert settings.LOGTO["APP_ID"] not in page
    assert CALLBACK not in page
    assert "not registered" not in page
    reference = reference_on(page)
    # The administrator finds the whole explanation in the log by the reference.
    logged = [record.getMessage() for record in caplog.records]
    assert any(
        reference in line
        and settings.LOGTO["APP_ID"] in line
        and CALLBACK in line
        and "redirect_uri is not registered" in line
        for line in logged
    ), logged


def test_each_error_page_has_its_own_reference(wsgi_site: Site, dev_provider: DevProvider) -> None:
    first = callback_with(wsgi_site, error="invalid_target").content.decode()
    second = callback_with(wsgi_site, error="invalid_target").content.decode()

    assert reference_on(first) != reference_on(second)


def test_staff_see_the_administrators_part(
    site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    settings.DEBUG = False
    site.sign_in(dev_provider, "alice")  # the demo maps alice's role admin to staff
    assert get_user_model().objects.get().is_staff

    response = callback_with(site, error="invalid_redirect_uri", error_description="said by Logto")

    page = response.content.decode()
    assert ADMIN in response.content
    assert f"Add {CALLBACK} to the Redirect URIs" in page
    assert settings.LOGTO["APP_ID"] in page
    assert "said by Logto" in page
    assert reference_on(page)


@pytest.mark.parametrize("is_active", [True, False])
def test_a_signed_in_user_who_is_not_active_staff_sees_no_configuration(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any, is_active: bool
) -> None:
    settings.DEBUG = False
    wsgi_site.sign_in(dev_provider, "bob")
    user = get_user_model().objects.get()
    # bob is staff through his role staff: as a plain user, or as inactive staff.
    user.is_staff, user.is_active = not is_active, is_active
    user.save()

    response = callback_with(wsgi_site, error="invalid_redirect_uri")

    assert ADMIN not in response.content
    assert CALLBACK not in response.content.decode()


def test_with_debug_on_anyone_sees_the_administrators_part(
    wsgi_site: Site, dev_provider: DevProvider, debug: None
) -> None:
    response = callback_with(wsgi_site, error="invalid_redirect_uri", error_description="said")

    page = response.content.decode()
    assert ADMIN in response.content
    assert f"Add {CALLBACK} to the Redirect URIs" in page
    assert "Logto said: said." in page
