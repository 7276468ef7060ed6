"""The pages this change touched, in a real headless Chromium, with a screenshot each:
the error pages that name the fix, the profile page, No access, the dev provider's login."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Page, expect

from tests.devprovider import DevProvider
from tests.e2e.conftest import shot, sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_provider_login_page_shows_the_demo_passwords(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/logto/sign-in/")
    expect(page.get_by_text("Development provider")).to_be_visible()
    for password in ("alice-password", "bob-password", "carol-password"):
        expect(page.get_by_text(password, exact=True)).to_be_visible()
    shot(page, "20-provider-login-with-passwords")


def test_profile_page_shows_claims_as_json_with_readable_dates(
    page: Page, live_server: Any
) -> None:
    page.goto(f"{live_server.url}/profile/")
    sign_in_at_provider(page, "alice")
    page.wait_for_url(f"{live_server.url}/profile/")

    claims = page.locator("#claims").inner_text()
    assert json.loads(claims)["sub"] == "alice0k7x2qm"
    assert " UTC (" in json.loads(claims)["exp"]
    expect(page.locator("#api")).to_contain_text("answered 200")
    shot(page, "21-profile-json")


def test_no_access_page_links_home(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/admin/")
    sign_in_at_provider(page, "carol")
    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    shot(page, "22-no-access-with-way-home")

    page.get_by_role("link", name="Back to the site").click()
    expect(page.get_by_role("heading")).to_have_text("Authenticated")


def test_a_cancelled_sign_in_is_calm(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/logto/sign-in/")
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("heading", name="Sign-in cancelled")).to_be_visible()
    expect(page.get_by_text("For the site's administrator")).to_have_count(0)
    shot(page, "23-error-sign-in-cancelled")
    page.get_by_role("link", name="Back to the site").click()
    expect(page.get_by_role("heading")).to_have_text("Not authenticated")


def test_a_resource_the_tenant_lacks_shows_the_fix(
    page: Page, live_server: Any, tenant_without_api: DevProvider, settings: Any
) -> None:
    tenant_without_api.register_site(live_server.url)
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": tenant_without_api.url}
    page.goto(f"{live_server.url}/logto/sign-in/")

    # A visitor (DEBUG off, not staff) reads a reference to quote, not the configuration.
    expect(page.get_by_role("heading", name="This site's sign-in is misconfigured")).to_be_visible()
    expect(page.get_by_text("For the site's administrator")).to_have_count(0)
    expect(page.get_by_text("Reference")).to_be_visible()
    shot(page, "24-error-invalid-target-for-a-visitor")

    # The demo runs with DEBUG on (DJANGO_DEBUG defaults to true): the page names the fix.
    settings.DEBUG = True
    page.goto(f"{live_server.url}/logto/sign-in/")
    expect(page.get_by_role("heading", name="This site's sign-in is misconfigured")).to_be_visible()
    page.get_by_text("For the site's administrator").click()
    expect(page.locator("#admin-hint")).to_contain_text("Create it in the Logto Console")
    expect(page.locator("#admin-hint")).to_contain_text("manage.py logto_check")
    shot(page, "24-error-invalid-target-with-fix")
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    ("locale", "number", "sign_out", "failed"),
    [
        ("de-DE", 30, "Abmelden?", "Anmeldung fehlgeschlagen"),
        ("ja-JP", 31, "サインアウトしますか？", "サインインに失敗しました"),  # noqa: RUF001
    ],
)
def test_pages_follow_the_browsers_language(
    browser: Browser, live_server: Any, locale: str, number: int, sign_out: str, failed: str
) -> None:
    context = browser.new_context(locale=locale)  # sends Accept-Language
    page = context.new_page()
    language = locale.split("-")[0]

    page.goto(f"{live_server.url}/logto/sign-out/")
    expect(page.get_by_role("heading", name=sign_out)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)
    shot(page, f"{number}-sign-out-{language}")

    # A callback without a pending sign-in: the 400 page.
    page.goto(f"{live_server.url}/logto/callback/?state=x&code=y")
    expect(page.get_by_role("heading", name=failed)).to_be_visible()
    expect(page.get_by_text("Sign-in failed")).to_have_count(0)
    shot(page, f"{number}-error-{language}")
    context.close()
