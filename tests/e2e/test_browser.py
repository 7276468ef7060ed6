"""Sign in, look around and sign out in a real headless Chromium (Debian's), against the
live Django server and the dev provider. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot, sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_out_in_a_browser(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading")).to_have_text("Not authenticated")
    shot(page, "01-home-signed-out")

    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page.get_by_text("Development provider")).to_be_visible()
    shot(page, "02-provider-login")
    sign_in_at_provider(page, "alice")

    expect(page.get_by_role("heading")).to_have_text("Authenticated")
    expect(page.locator("#name")).to_have_text("Alice Admin")
    shot(page, "03-home-signed-in")

    page.get_by_role("link", name="Profile and userinfo").click()
    expect(page.get_by_text("organization_data")).to_be_visible()
    shot(page, "04-profile")

    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading")).to_have_text("Not authenticated")
    shot(page, "05-signed-out")

    assert get_user_model().objects.get(username="alice").get_full_name() == "Alice Admin"


def test_continue_with_azure_ad_link(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Continue with Azure AD").click()

    expect(page.get_by_text("Continue with azuread (simulated)")).to_be_visible()
    shot(page, "06-direct-sign-in-azuread")
