"""The admin in a real headless Chromium: alice (Logto role admin) manages, bob (staff)
views, carol (no role) gets a clear "No access" page, and a role removed in the provider's
data file is gone at the next sign-in. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import PrivateProvider
from tests.devprovider import DevProvider
from tests.e2e.conftest import shot, sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


AdminAs = Callable[[str], Page]


@pytest.fixture
def admin_as(browser: Browser, live_server: Any) -> Iterator[AdminAs]:
    """Open /admin/ in a fresh browser context, signed in at the provider as a user."""
    contexts: list[BrowserContext] = []

    def open_as(username: str) -> Page:
        contexts.append(browser.new_context())
        page = contexts[-1].new_page()
        page.goto(f"{live_server.url}/admin/")
        sign_in_at_provider(page, username)
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_alice_manages_users_with_their_logto_data(
    admin_as: AdminAs, live_server: Any, dev_provider: DevProvider
) -> None:
    for username in ("bob", "carol"):
        dev_provider.sign_in_over_http(live_server.url, username, requests.Session())

    page = admin_as("alice")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    shot(page, "10-admin-alice-index")

    page.get_by_role("link", name="Users").first.click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("row", name="bob")).to_contain_text("bob00f3n8wzt")
    expect(page.get_by_role("row", name="bob")).to_contain_text("staff")
    expect(page.get_by_role("row", name="carol")).to_contain_text("carol0p5d1hs")
    shot(page, "11-admin-users-with-logto-data")

    page.get_by_role("link", name="bob", exact=True).click()
    expect(page.get_by_text("acme4p9x2k7z (member)")).to_be_visible()
    shot(page, "12-admin-bob-logto-side")


def test_bob_sees_only_what_his_group_allows(admin_as: AdminAs, live_server: Any) -> None:
    page = admin_as("bob")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Users").first.click()

    expect(page.get_by_role("row", name="bob")).to_be_visible()
    expect(page.get_by_role("link", name="Add user")).to_have_count(0)
    shot(page, "13-admin-bob-view-only")


def test_carol_gets_no_access_and_can_sign_out(admin_as: AdminAs, live_server: Any) -> None:
    page = admin_as("carol")

    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    shot(page, "14-admin-carol-no-access")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Not authenticated")).to_be_visible()


def test_role_removed_at_the_provider_is_gone_after_the_next_sign_in(
    admin_as: AdminAs, private_provider: PrivateProvider
) -> None:
    page = admin_as("bob")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    private_provider.edit_user("bob", roles=[])
    page = admin_as("bob")

    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    shot(page, "15-admin-bob-after-role-removed")
