"""A shared headless Chromium (Debian's) for the browser tests, and screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.devprovider import ROOT, DevProvider

SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives Chromium ``browser``: the matrix legs but the newest
    run everything else (``-m "not browser"``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: apt-get install chromium (scripts/test does)"
    # Playwright's sync API keeps an event loop in this thread, so Django would refuse the
    # test's own (synchronous) database setup. The site under test runs in the live
    # server's thread, which has no loop; the ASGI tests cover async safety.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(autouse=True)
def register_live_server(request: pytest.FixtureRequest, settings: Any) -> None:
    """A test on a live server (a random port) signs in at the shared dev provider unless it
    has a private one, and registers its callback and home page with the providers it
    uses, as one registers a site's URIs in the Logto Console."""
    if "live_server" not in request.fixturenames:
        return
    url = request.getfixturevalue("live_server").url
    if "private_provider" not in request.fixturenames:
        dev: DevProvider = request.getfixturevalue("dev_provider")
        settings.LOGTO = {**settings.LOGTO, "ENDPOINT": dev.url}
    for name in ("dev_provider", "private_provider"):
        if name in request.fixturenames:
            provider: DevProvider = request.getfixturevalue(name)
            provider.register_site(url)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS / f"{name}.png")), full_page=True)


def sign_in_at_provider(page: Page, username: str) -> None:
    """Fill in the dev provider's login page as a person would."""
    expect(page.get_by_text("Development provider")).to_be_visible()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.get_by_role("button", name="Sign in").click()
