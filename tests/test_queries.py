"""What a sign-in, a signed-in page, a periodic sync and a first API token cost the database
and the cache, counted against the real dev provider. Sessions live in the cache, as in the
production configuration (Redis), so every query counted is the app's own or Django's
user lookup."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logto_auth._context import LogtoContext
from tests.conftest import PrivateProvider, Site
from tests.test_context import context_of
from tests.test_sync import INTERVAL, after_interval

pytestmark = pytest.mark.urls("tests.urls")
API = "http://127.0.0.1:8000/api"
CACHE_CALLS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "touch")


@pytest.fixture(params=["wsgi", "asgi"])
def site(request: pytest.FixtureRequest, db: None, settings: Any) -> Site:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    return Site(request.param)


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The SQL run, without the savepoints of the test's own transaction."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def writes(captured: CaptureQueriesContext) -> list[str]:
    return [sql for sql in statements(captured) if not sql.startswith("SELECT")]


@pytest.fixture
def cache_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cache operations made (async ones run through these too)."""
    calls: list[str] = []
    for name in CACHE_CALLS:
        original = getattr(LocMemCache, name)

        def counted(self: LocMemCache, *args: Any, _name: str = name, _f: Any = original,
                    **kwargs: Any) -> Any:  # fmt: skip
            calls.append(_name)
            return _f(self, *args, **kwargs)

        monkeypatch.setattr(LocMemCache, name, counted)
    return calls


def sign_in(site: Site, provider: PrivateProvider, username: str) -> CaptureQueriesContext:
    redirect = provider.authorize(site.sign_in_url(), username)
    with CaptureQueriesContext(connection) as captured:
        assert site.callback(redirect).status_code == 302
    return captured


def test_a_returning_users_sign_in_costs_at_most_six_queries_and_writes_only_the_login(
    site: Site, private_provider: PrivateProvider
) -> None:
    sign_in(site, private_provider, "alice")
    site.post("/logto/sign-out/")

    captured = sign_in(site, private_provider, "alice")

    assert len(statements(captured)) <= 6, statements(captured)
    # What Logto says of alice did not change: only Django's login and the session index.
    assert [sql.split('"')[1] for sql in writes(captured)] == [
        "auth_user",  # last_login
        "logto_auth_logtosession",
    ], writes(captured)


def test_a_sign_in_soon_after_another_checks_no_organization(
    site: Site, private_provider: PrivateProvider
) -> None:
    for _ in range(2):  # created, then found its organizations fresh
        sign_in(site, private_provider, "alice")
        site.post("/logto/sign-out/")

    captured = sign_in(site, private_provider, "alice")

    # Django's login and the session index: the organizations were found fresh lately.
    tables = [sql.split('"')[1] for sql in statements(captured)]
    assert tables == ["logto_auth_logtoidentity", "auth_user", "logto_auth_logtosession"]


def test_a_first_sign_in_costs_at_most_ten_queries(
    site: Site, private_provider: PrivateProvider
) -> None:
    sign_in(site, private_provider, "carol")  # a warm process
    site.post("/logto/sign-out/")

    captured = sign_in(site, private_provider, "bob")  # created, a group and a membership

    assert len(statements(captured)) <= 10, statements(captured)


def test_a_signed_in_page_costs_what_djangos_own_stack_costs(
    site: Site, private_provider: PrivateProvider, cache_calls: list[str]
) -> None:
    sign_in(site, private_provider, "alice")
    # The first page after a sign-in (or a sync) that shows an organization reads the
    # names of the user's organizations once (a query) and keeps them in the session.
    site.get("/")
    cache_calls.clear()

    with CaptureQueriesContext(connection) as captured:
        response = site.get("/")

    assert b"Authenticated" in response.content
    # Django's: the user of the session. The session itself: one cache read.
    assert [sql.split(" FROM ")[1].split()[0] for sql in statements(captured)] == ['"auth_user"']
    assert cache_calls == ["get"]


def test_a_sync_when_nothing_changed_at_logto_is_one_refresh_and_writes_nothing(
    site: Site, private_provider: PrivateProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": INTERVAL}
    sign_in(site, private_provider, "alice")
    before = private_provider.counters()

    with CaptureQueriesContext(connection) as captured:
        assert after_interval(site).status_code == 200

    after = private_provider.counters()
    assert after.get("token:refresh_token", 0) == before.get("token:refresh_token", 0) + 1
    assert (
        private_provider.calls() - sum(n for path, n in before.items() if path.startswith("/oidc"))
        == 1
    )
    assert writes(captured) == []


def test_the_first_api_token_costs_one_provider_call_and_at_most_two_queries(
    site: Site, private_provider: PrivateProvider
) -> None:
    sign_in(site, private_provider, "alice")
    logto: LogtoContext = context_of(site)
    calls = private_provider.calls()

    with CaptureQueriesContext(connection) as captured:
        assert logto.get_access_token(API)

    assert private_provider.calls() == calls + 1
    assert len(statements(captured)) <= 2, statements(captured)


def test_a_burst_of_api_calls_with_a_real_token_reads_the_user_once(
    site: Site, private_provider: PrivateProvider
) -> None:
    sign_in(site, private_provider, "alice")
    bearer = {"Authorization": f"Bearer {site.access_token(API)}"}
    client = Site(site.kind)  # an API client: the token, no cookie
    calls = private_provider.calls()

    counted = []
    for _ in range(3):
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/drf/me/", headers=bearer)
        assert response.json()["username"] == "alice"
        counted.append(len(statements(captured)))

    assert counted == [1, 0, 0]  # the token's user, then LOGTO['API_USER_MAX_AGE'] holds it
    assert private_provider.calls() == calls


def test_an_organization_page_costs_one_provider_call_per_switch_then_none(
    site: Site, private_provider: PrivateProvider, settings: Any, cache_calls: list[str]
) -> None:
    # The demo's organization page shows the permissions from the organization token.
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": ["invite:member", "read:data"]}
    sign_in(site, private_provider, "alice")
    site.get("/")  # the organizations' names, read once after the sign-in
    acme, globex = "acme4p9x2k7z", "globex8m3q5t"

    for organization_id, permissions in ((acme, "invite:member, read:data"), (globex, "read:data")):
        calls = private_provider.calls()
        switched = site.post("/logto/organization/", {"organization_id": organization_id})
        assert switched.status_code == 302
        first = site.get(f"/orgs/{organization_id}/")
        assert f"Permissions: {permissions}" in first.content.decode()
        assert private_provider.calls() == calls + 1  # its organization token, once
        cache_calls.clear()

        with CaptureQueriesContext(connection) as captured:
            again = site.get(f"/orgs/{organization_id}/")

        assert f"Permissions: {permissions}" in again.content.decode()
        assert private_provider.calls() == calls + 1  # held: no call
        # Django's user lookup only; the session (the token in it): one cache read.
        assert [sql.split(" FROM ")[1].split()[0] for sql in statements(captured)] == [
            '"auth_user"'
        ]
        assert cache_calls == ["get"]
