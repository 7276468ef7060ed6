"""``request.logto``'s async twins, the access helpers on async views and the async
middleware, under ASGI with database and cache sessions, against the dev provider."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth import get_user_model
from django.http import HttpResponse

from logto_auth import _locks
from logto_auth._sessions import TOKEN_PREFIX as PREFIX
from logto_auth._tokens import validate_jwt
from logto_auth.middleware import LogtoMiddleware
from tests.conftest import PrivateProvider, Site
from tests.devprovider import DevProvider
from tests.test_context import context_of, expire_access_tokens

pytestmark = pytest.mark.urls("tests.urls")
API = "http://127.0.0.1:8000/api"
ACME = "acme4p9x2k7z"
ALICE = "alice0k7x2qm"


@pytest.fixture(params=["db", "cache"])
def asgi_site(request: pytest.FixtureRequest, db: None, settings: Any) -> Site:
    """The site through its ASGI handler, with database or cache sessions."""
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    return Site("asgi")


@pytest.fixture
def alice(asgi_site: Site, dev_provider: DevProvider) -> Site:
    asgi_site.sign_in(dev_provider, "alice")
    return asgi_site


@pytest.fixture
def lazy_middleware(settings: Any) -> None:
    """Neither sync nor revalidation: nothing but the view loads the session."""
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": None, "REVALIDATE_INTERVAL": 0}


@pytest.mark.usefixtures("lazy_middleware")
def test_async_view_reads_the_claims_and_then_the_sync_properties(alice: Site) -> None:
    answer = alice.get("/async/claims/").json()

    assert answer["authenticated"] is True
    assert answer["is_authenticated"] is True
    assert answer["claims"]["username"] == "alice"
    assert answer["claims"]["roles"] == ["admin"]
    assert answer["sub"] == answer["claims"]["sub"] == ALICE


@pytest.mark.usefixtures("lazy_middleware")
def test_sync_property_on_an_unloaded_database_session_names_the_async_twin(
    dev_provider: DevProvider, db: None
) -> None:
    site = Site("asgi")  # database sessions, the settings' default
    site.sign_in(dev_provider, "alice")

    response = site.get("/async/unloaded/")

    assert response.status_code == 500
    assert b"await request.logto.aget_claims()" in response.content


def test_anonymous_async_view_has_no_claims(asgi_site: Site) -> None:
    answer = asgi_site.get("/async/claims/").json()

    assert answer == {"authenticated": False, "claims": {}, "sub": None, "is_authenticated": False}


def test_async_view_gets_the_stored_access_token_without_network(
    alice: Site, no_network: list[Any]
) -> None:
    assert alice.get("/async/token/").json()["token"]
    assert no_network == []


def test_async_view_refreshes_an_expired_access_token_once(
    alice: Site, dev_provider: DevProvider
) -> None:
    old = context_of(alice).get_access_token()
    expire_access_tokens(context_of(alice))
    before = dev_provider.counters().get("token:refresh_token", 0)

    new = alice.get("/async/token/").json()["token"]

    assert new
    assert new != old
    assert alice.get("/async/token/").json()["token"] == new  # stored by the refresh
    assert dev_provider.counters()["token:refresh_token"] == before + 1


def test_async_view_gets_a_resource_token_and_its_claims(alice: Site) -> None:
    answer = alice.get("/async/token/", {"resource": API}).json()

    assert validate_jwt(answer["token"], audience=API)["sub"] == ALICE
    assert answer["claims"]["aud"] == API
    assert answer["claims"]["sub"] == ALICE


def test_async_view_gets_an_organization_token(alice: Site) -> None:
    token = alice.get("/async/token/", {"organization": ACME}).json()["token"]

    assert validate_jwt(token, audience=f"urn:logto:organization:{ACME}")["sub"] == ALICE


def test_async_organization_token_for_a_non_member_is_403_and_keeps_the_session(
    alice: Site,
) -> None:
    assert alice.get("/async/token/", {"organization": "notamember00"}).status_code == 403
    assert alice.get("/async/claims/").json()["authenticated"] is True


def test_async_view_fetches_user_info(alice: Site) -> None:
    info = alice.get("/async/userinfo/").json()

    assert info["sub"] == ALICE
    assert {org["name"] for org in info["organization_data"]} == {"Acme", "Globex"}


def test_provider_down_during_an_async_refresh_is_a_503_that_keeps_the_session(
    asgi_site: Site, private_provider: PrivateProvider
) -> None:
    asgi_site.sign_in(private_provider, "alice")
    expire_access_tokens(context_of(asgi_site))
    private_provider.stop()

    response = asgi_site.get("/async/token/")

    assert response.status_code == 503
    assert asgi_site.get("/async/claims/").json()["authenticated"] is True


def test_rejected_refresh_in_an_async_view_shows_401_page_and_signs_out(alice: Site) -> None:
    logto = context_of(alice)
    logto._tokens.storage.set("refreshToken", "revoked-or-reused")
    logto._tokens.storage.set("accessTokenMap", json.dumps({"x": {}}))
    logto._request.session.save()

    response = alice.get("/async/token/")

    assert response.status_code == 401
    assert b"sign in again" in response.content.lower()
    assert b"Not authenticated" in alice.get("/").content


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("alice", "/async/need/admin/", 200),
        ("bob", "/async/need/admin/", 403),
        ("alice", "/async/need/acme-admin/", 200),
        ("bob", "/async/need/acme-admin/", 403),
    ],
)
def test_role_decorator_and_mixin_on_async_views(
    asgi_site: Site, dev_provider: DevProvider, user: str, path: str, status: int
) -> None:
    asgi_site.sign_in(dev_provider, user)

    assert asgi_site.get(path).status_code == status


@pytest.mark.parametrize("path", ["/async/need/admin/", "/async/need/acme-admin/"])
def test_anonymous_is_sent_to_sign_in_from_async_views(asgi_site: Site, path: str) -> None:
    response = asgi_site.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/logto/sign-in/?next={path}"


def test_scopes_on_async_views(asgi_site: Site, dev_provider: DevProvider, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "SCOPES": [*settings.LOGTO["SCOPES"], "read:profile"]}
    asgi_site.sign_in(dev_provider, "bob")

    assert asgi_site.get("/async/need/read/").status_code == 200
    assert asgi_site.get("/async/need/write/").status_code == 403


def test_concurrent_async_refreshes_reach_the_provider_once(
    rotating_provider: DevProvider, settings: Any, db: None
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    alice = Site("asgi")
    alice.sign_in(rotating_provider, "alice")
    expire_access_tokens(context_of(alice))
    contexts = [context_of(alice) for _ in range(6)]
    before = rotating_provider.counters().get("token:refresh_token", 0)

    async def all_at_once() -> list[str | None]:
        return await asyncio.gather(*(context.aget_access_token() for context in contexts))

    tokens = async_to_sync(all_at_once)()

    assert len(set(tokens)) == 1
    assert None not in tokens
    assert rotating_provider.counters()["token:refresh_token"] == before + 1


def test_async_lock_waits_for_its_holder(settings: Any) -> None:
    order: list[str] = []

    async def hold(name: str) -> None:
        async with _locks.arefresh_lock("some-session"):
            order.append(f"{name} in")
            await asyncio.sleep(0.2)
            order.append(f"{name} out")

    async def both() -> None:
        await asyncio.gather(hold("first"), hold("second"))

    async_to_sync(both)()

    assert order == ["first in", "first out", "second in", "second out"]


def test_middleware_is_sync_and_async_capable() -> None:
    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse()

    assert LogtoMiddleware.sync_capable
    assert LogtoMiddleware.async_capable
    assert iscoroutinefunction(LogtoMiddleware(get_response))
    assert not iscoroutinefunction(LogtoMiddleware(lambda request: HttpResponse()))


@pytest.fixture
def syncing(private_provider: PrivateProvider, settings: Any) -> PrivateProvider:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 1.0}
    return private_provider


def test_async_view_sees_a_demotion_within_the_sync_interval(
    asgi_site: Site, syncing: PrivateProvider
) -> None:
    asgi_site.sign_in(syncing, "alice")
    syncing.edit_user("alice", roles=[])
    time.sleep(1.05)

    answer = asgi_site.get("/async/claims/").json()

    assert answer["claims"]["roles"] == []
    user = get_user_model().objects.get(logto_identity__sub=ALICE)
    assert not user.is_superuser
    assert asgi_site.get("/async/need/admin/").status_code == 403


def test_async_view_of_a_user_suspended_in_logto_is_a_401_within_the_interval(
    asgi_site: Site, syncing: PrivateProvider
) -> None:
    asgi_site.sign_in(syncing, "alice")
    syncing.set_user_state(ALICE, "suspend")
    time.sleep(1.05)

    response = asgi_site.get("/async/claims/")

    assert response.status_code == 401
    assert not any(key.startswith(PREFIX) for key in asgi_site.session.keys())  # noqa: SIM118
