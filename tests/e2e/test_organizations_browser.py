"""Organizations in the demo, in a real headless Chromium: the header's current organization
and switcher, an organization the user is not in, permissions that differ between two
organizations, and a membership ended at the provider (by its webhook, or at the next sync).

alice is admin in Acme (invite:member, manage:billing, read:data) and member in Globex
(read:data); Initech has no alice. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import DEAD_BACKCHANNEL_URI
from tests.devprovider import WEBHOOK_SIGNING_KEY, DevProvider
from tests.e2e.conftest import shot, sign_in_at_provider

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALICE = "alice0k7x2qm"
ACME, GLOBEX, INITECH = "acme4p9x2k7z", "globex8m3q5t", "initech0w2v6"
PERMISSIONS = ["invite:member", "manage:billing", "read:data"]


def sign_in(page: Page, site: str, path: str = "/", username: str = "alice") -> None:
    """Open ``path``, sign in at the provider's login page, and land on ``path`` again."""
    page.goto(f"{site}/logto/sign-in/?next={path}")
    sign_in_at_provider(page, username)
    page.wait_for_url(f"{site}{path}")


def switcher(page: Page) -> Locator:
    return page.locator("#organization-bar select[name=organization_id]")


def switch_to(page: Page, name: str) -> None:
    """Pick ``name`` in the header's switcher and submit it, as a person would."""
    switcher(page).select_option(label=name)
    with page.expect_navigation():
        page.locator("#organization-bar").get_by_role("button", name="Switch").click()


def current_in_header(page: Page) -> Locator:
    return page.locator("#current-organization")


def test_alice_switches_in_the_header_stays_on_her_page_and_finds_her_last_choice_again(
    page: Page, live_server: Any
) -> None:
    site = live_server.url
    sign_in(page, site)
    # Two organizations and none chosen before: none is current, and the switcher says so.
    expect(page.locator("#organization")).to_have_text("Current organization: none")
    expect(current_in_header(page)).to_have_text("No organization chosen")
    expect(switcher(page)).to_have_value("")
    expect(switcher(page).locator("option")).to_have_text(["—", "Acme", "Globex"])
    shot(page, "40-organizations-none-chosen")

    page.goto(f"{site}/profile/")
    switch_to(page, "Acme")

    assert page.url == f"{site}/profile/"  # back where she was (the form's next)
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(current_in_header(page)).to_have_text("Acme")
    expect(switcher(page)).to_have_value(ACME)
    shot(page, "41-organizations-acme-on-profile")

    page.goto(f"{site}/")
    expect(page.locator("#organization")).to_have_text("Current organization: Acme")
    switch_to(page, "Globex")
    assert page.url == f"{site}/"
    expect(page.locator("#organization")).to_have_text("Current organization: Globex")
    expect(current_in_header(page)).to_have_text("Globex")
    page.locator("#organization").get_by_role("link", name="Globex").click()
    expect(page.get_by_role("heading", name="Organization: Globex")).to_be_visible()

    page.goto(f"{site}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site}/")
    expect(page.get_by_role("heading")).to_have_text("Not authenticated")
    expect(page.locator("#organization-bar")).to_have_count(0)

    sign_in(page, site)
    # The last one she used in this browser, not none.
    expect(page.locator("#organization")).to_have_text("Current organization: Globex")
    expect(current_in_header(page)).to_have_text("Globex")
    shot(page, "42-organizations-last-choice-after-sign-in")


def test_an_organization_alice_is_not_in_is_403_and_a_tampered_switch_changes_nothing(
    page: Page, live_server: Any
) -> None:
    site = live_server.url
    sign_in(page, site)
    switch_to(page, "Acme")

    response = page.goto(f"{site}/orgs/{INITECH}/")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.get_by_text("You are not a member of this organization.")).to_be_visible()
    expect(page.get_by_text("Initech")).to_have_count(0)
    shot(page, "43-organizations-not-a-member")

    # The switcher offers only her organizations; a page edited to offer Initech is refused.
    page.goto(f"{site}/")
    expect(switcher(page).locator(f"option[value='{INITECH}']")).to_have_count(0)
    switcher(page).locator(f"option[value='{GLOBEX}']").evaluate(
        f"option => {{ option.value = '{INITECH}'; }}"
    )
    switcher(page).select_option(value=INITECH)
    with page.expect_response(lambda answer: answer.url.endswith("/logto/organization/")) as sent:
        page.locator("#organization-bar").get_by_role("button", name="Switch").click()

    assert sent.value.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.get_by_text("Initech")).to_have_count(0)
    page.goto(f"{site}/")
    expect(page.locator("#organization")).to_have_text("Current organization: Acme")
    expect(current_in_header(page)).to_have_text("Acme")


def test_invite_and_billing_show_in_acme_where_alice_is_admin_not_in_globex(
    page: Page, live_server: Any, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": PERMISSIONS}
    site = live_server.url
    sign_in(page, site, f"/orgs/{ACME}/")

    expect(page.get_by_role("heading", name="Organization: Acme")).to_be_visible()
    expect(page.locator("#roles")).to_have_text("Roles: admin")
    expect(page.locator("#permissions")).to_have_text(
        "Permissions: invite:member, manage:billing, read:data"
    )
    expect(page.get_by_role("heading", name="Invite a member")).to_be_visible()
    expect(page.get_by_role("heading", name="Billing")).to_be_visible()
    expect(page.locator("#cannot")).to_have_count(0)
    expect(page.locator("#no-permissions-asked")).to_have_count(0)
    shot(page, "44-organizations-acme-admin")

    page.goto(f"{site}/orgs/{GLOBEX}/")

    expect(page.get_by_role("heading", name="Organization: Globex")).to_be_visible()
    expect(page.locator("#roles")).to_have_text("Roles: member")
    expect(page.locator("#permissions")).to_have_text("Permissions: read:data")
    expect(page.get_by_role("heading", name="Invite a member")).to_have_count(0)
    expect(page.get_by_role("heading", name="Billing")).to_have_count(0)
    expect(page.locator("#cannot")).to_have_text(
        "You cannot invite members to Globex or manage its billing."
    )
    shot(page, "45-organizations-globex-member")


def test_without_organization_permissions_asked_at_sign_in_acme_shows_none_and_says_why(
    page: Page, live_server: Any
) -> None:
    site = live_server.url
    sign_in(page, site, f"/orgs/{ACME}/")

    expect(page.locator("#roles")).to_have_text("Roles: admin")
    expect(page.locator("#permissions")).to_have_text("Permissions: none")
    expect(page.get_by_role("heading", name="Invite a member")).to_have_count(0)
    expect(page.locator("#no-permissions-asked")).to_contain_text("LOGTO_ORGANIZATION_PERMISSIONS")


# A membership ended at the provider


@pytest.fixture
def hooked_provider(live_server: Any, settings: Any) -> Iterator[DevProvider]:
    """A provider of this test's own whose webhooks reach the live site, signed with the key
    the site checks; the site's sync is too far off to be what notices anything."""
    started = DevProvider(
        DEV_PROVIDER_WEBHOOK_URL=f"{live_server.url}/logto/webhooks/",
        DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI=DEAD_BACKCHANNEL_URI,
    ).start()
    started.register_site(live_server.url)
    settings.LOGTO = {
        **settings.LOGTO,
        "ENDPOINT": started.url,
        "WEBHOOK_SIGNING_KEY": WEBHOOK_SIGNING_KEY,
        "SYNC_INTERVAL": 3600,
    }
    yield started
    started.stop()


@pytest.fixture
def shared_organizations(dev_provider: DevProvider) -> Iterator[DevProvider]:
    """The shared dev provider, its organizations put back as they were afterwards."""
    yield dev_provider
    dev_provider.reset_organizations()


def alice_in_acme(page: Page, site: str) -> None:
    sign_in(page, site)
    switch_to(page, "Acme")
    expect(page.locator("#organization")).to_have_text("Current organization: Acme")


def test_removed_from_acme_at_the_provider_the_webhook_ends_it_at_the_next_page(
    page: Page, live_server: Any, hooked_provider: DevProvider
) -> None:
    site = live_server.url
    alice_in_acme(page, site)

    hooked_provider.remove_member(ACME, ALICE)

    [delivery] = hooked_provider.webhooks("Organization.Membership.Updated")
    assert delivery["status"] == 200, delivery  # the site accepted it
    page.reload()
    expect(page.locator("#organization")).to_have_text("Current organization: none")
    expect(current_in_header(page)).to_have_text("No organization chosen")
    expect(switcher(page).locator("option")).to_have_text(["—", "Globex"])
    shot(page, "46-organizations-removed-by-webhook")
    response = page.goto(f"{site}/orgs/{ACME}/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()


def test_removed_from_acme_at_the_provider_without_a_webhook_ends_it_at_the_sync(
    page: Page, live_server: Any, shared_organizations: DevProvider, settings: Any
) -> None:
    # The shared provider sends no webhook: only the periodic sync can notice.
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 3600}
    site = live_server.url
    alice_in_acme(page, site)

    shared_organizations.remove_member(ACME, ALICE)
    page.reload()
    expect(page.locator("#organization")).to_have_text("Current organization: Acme")  # held

    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 1.0}
    time.sleep(1.1)
    page.reload()

    expect(page.locator("#organization")).to_have_text("Current organization: none")
    expect(switcher(page).locator("option")).to_have_text(["—", "Globex"])
    shot(page, "47-organizations-removed-at-the-sync")
    response = page.goto(f"{site}/orgs/{ACME}/")
    assert response is not None
    assert response.status == 403
