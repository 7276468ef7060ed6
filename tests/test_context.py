"""``request.logto``: claims, access tokens, refresh, organization tokens, userinfo."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import Any

import jwt
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.test import RequestFactory
from logto.models.response import TokenResponse

from logto_auth import _sdk
from logto_auth._context import LogtoContext
from logto_auth._provider import provider
from logto_auth._renewal import SessionTokens
from logto_auth._sdk import _Client
from logto_auth._sessions import CHECKED_KEY, cache_key
from logto_auth._sessions import TOKEN_PREFIX as PREFIX
from logto_auth._tokens import validate_jwt
from logto_auth.exceptions import AccessDenied, InvalidToken, SignInError, TokenExpired
from logto_auth.models import LogtoIdentity
from logto_auth.storage import DictStorage
from tests.conftest import PrivateProvider, Site
from tests.devprovider import DevProvider
from tests.forged import sign

API = "http://127.0.0.1:8000/api"


def context_of(site: Site) -> LogtoContext:
    """``request.logto`` for a new request carrying ``site``'s session."""
    request = RequestFactory().get("/")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    request.session = store(site.session.session_key)
    return LogtoContext(request)


def save(context: LogtoContext) -> None:
    context._request.session.save()


@pytest.fixture
def alice(site: Site, dev_provider: DevProvider) -> Site:
    site.sign_in(dev_provider, "alice")
    return site


@pytest.fixture
def rotating_alice(site: Site, rotating_provider: DevProvider) -> Site:
    """Alice signed in at a provider that rotates refresh tokens on every use and revokes
    the grant when a used one comes back."""
    site.sign_in(rotating_provider, "alice")
    return site


def test_claims_come_from_the_id_token(alice: Site) -> None:
    logto = context_of(alice)

    assert logto.is_authenticated
    assert logto.claims["username"] == "alice"
    assert logto.claims["roles"] == ["admin"]
    assert "acme4p9x2k7z" in logto.claims["organizations"]
    assert "acme4p9x2k7z:admin" in logto.claims["organization_roles"]
    assert logto.sub == logto.claims["sub"]


def test_unset_profile_claims_are_none(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "carol")

    claims = context_of(site).claims

    assert claims["name"] is None
    assert claims["email"] is None
    assert claims["roles"] == []


def test_anonymous_context_is_empty(db: None, no_network: list[Any]) -> None:
    logto = context_of(Site("wsgi"))

    assert not logto.is_authenticated
    assert logto.claims == {}
    assert logto.sub is None
    assert logto.get_access_token() is None
    assert logto.fetch_user_info() == {}


def test_access_token_from_sign_in_needs_no_network(alice: Site, no_network: list[Any]) -> None:
    token = context_of(alice).get_access_token()

    assert token
    assert no_network == []


def test_resource_token_is_a_jwt_for_the_resource(
    rotating_alice: Site, rotating_provider: DevProvider
) -> None:
    alice = rotating_alice
    logto = context_of(alice)
    refresh_before = alice.session["_logto_refreshToken"]
    before = rotating_provider.counters().get("token:refresh_token", 0)

    token = logto.get_access_token(API)
    save(logto)

    assert token is not None
    claims = validate_jwt(token, audience=API)
    assert claims["sub"] == logto.sub
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert rotating_provider.counters()["token:refresh_token"] == before + 1
    # Refresh tokens rotate: the new one is stored before it is needed again.
    assert alice.session["_logto_refreshToken"] != refresh_before
    assert context_of(alice).get_access_token(API) == token


def expire_access_tokens(context: LogtoContext) -> None:
    """Mark every stored access token expired, in the session's store."""
    session = context._request.session
    tokens = json.loads(session[f"{PREFIX}accessTokenMap"])
    for token in tokens["x"].values():
        token["expiresAt"] = 0
    session[f"{PREFIX}accessTokenMap"] = json.dumps(tokens)
    session.save()


def test_expired_access_token_is_refreshed(alice: Site, dev_provider: DevProvider) -> None:
    logto = context_of(alice)
    old = logto.get_access_token()
    expire_access_tokens(logto)
    before = dev_provider.counters().get("token:refresh_token", 0)

    new = logto.get_access_token()

    assert new
    assert new != old
    assert dev_provider.counters()["token:refresh_token"] == before + 1


def test_organization_token(alice: Site) -> None:
    logto = context_of(alice)
    organization = "acme4p9x2k7z"

    token = logto.get_organization_token(organization)

    assert token is not None
    assert (
        validate_jwt(token, audience=f"urn:logto:organization:{organization}")["sub"] == logto.sub
    )


def test_user_info_has_logto_extended_claims(alice: Site) -> None:
    info = context_of(alice).fetch_user_info()

    assert info["roles"] == ["admin"]
    assert {org["name"] for org in info["organization_data"]} == {"Acme", "Globex"}
    assert "custom_data" in info
    assert "azuread" in info["identities"]


def test_rejected_refresh_token_signs_out_of_logto(alice: Site) -> None:
    logto = context_of(alice)
    logto._tokens.storage.set("refreshToken", "revoked-or-reused")
    save(logto)

    with pytest.raises(TokenExpired):
        logto.get_access_token(API)

    assert not logto.is_authenticated
    assert not any(key.startswith(PREFIX) for key in logto._request.session.keys())  # noqa: SIM118


def test_rejected_refresh_in_a_view_shows_401_page_and_signs_out(alice: Site) -> None:
    logto = context_of(alice)
    logto._tokens.storage.set("refreshToken", "revoked-or-reused")
    logto._tokens.storage.set("accessTokenMap", json.dumps({"x": {}}))
    save(logto)

    response = alice.get("/profile/")

    assert response.status_code == 401
    assert b"sign in again" in response.content.lower()
    assert b"Not authenticated" in alice.get("/").content


def test_rejected_refresh_keeps_the_django_user_when_configured(alice: Site, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "END_SESSION_WITH_REFRESH_TOKEN": False}
    logto = context_of(alice)
    logto._tokens.storage.set("refreshToken", "revoked-or-reused")
    logto._tokens.storage.set("accessTokenMap", json.dumps({"x": {}}))
    save(logto)

    assert alice.get("/profile/").status_code == 401

    home = alice.get("/").content
    assert b"Authenticated" in home
    assert b"not signed in with Logto" in home


def test_refresh_stores_the_rotated_refresh_token(rotating_alice: Site) -> None:
    logto = context_of(rotating_alice)
    expire_access_tokens(logto)
    old = logto._tokens.storage.get("refreshToken")

    logto.get_access_token()

    new = logto._tokens.storage.get("refreshToken")
    assert new != old  # this provider rotates on every use
    stored = type(logto._request.session)(rotating_alice.session.session_key)
    assert stored[f"{PREFIX}refreshToken"] == new


def test_stale_request_uses_the_token_another_request_refreshed(
    rotating_alice: Site, rotating_provider: DevProvider
) -> None:
    alice = rotating_alice
    expire_access_tokens(context_of(alice))
    # Both requests loaded the session while its access token was expired; the second's
    # refresh token is the used one, which would revoke the grant if sent again.
    first, second = context_of(alice), context_of(alice)
    before = rotating_provider.counters().get("token:refresh_token", 0)

    token = first.get_access_token()

    assert second.get_access_token() == token
    assert second.fetch_user_info()["sub"] == second.sub
    assert rotating_provider.counters()["token:refresh_token"] == before + 1


def test_refresh_of_a_session_ended_elsewhere_is_a_401(alice: Site) -> None:
    expire_access_tokens(context_of(alice))
    logto = context_of(alice)
    assert logto.is_authenticated  # loaded before a back-channel logout deletes it
    type(logto._request.session)(alice.session.session_key).delete()

    with pytest.raises(TokenExpired):
        logto.get_access_token()
    assert not logto.is_authenticated


def test_concurrent_refreshes_in_threads_reach_the_provider_once(
    rotating_provider: DevProvider, settings: Any, db: None
) -> None:
    # Cache sessions: threads do not share the in-memory test database (the two-instance
    # tests cover database sessions across processes).
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    alice = Site("wsgi")
    alice.sign_in(rotating_provider, "alice")
    expire_access_tokens(context_of(alice))
    contexts = [context_of(alice) for _ in range(8)]
    before = rotating_provider.counters().get("token:refresh_token", 0)

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda context: context.get_access_token(), contexts))

    assert len(set(tokens)) == 1
    assert rotating_provider.counters()["token:refresh_token"] == before + 1


def test_signed_in_page_makes_no_network_call_and_only_django_queries(
    alice: Site, no_network: list[Any], django_assert_num_queries: Any, settings: Any
) -> None:
    # The first page after the sign-in reads the names of alice's organizations once.
    alice.get("/")
    # Django's own queries: the session row (unless sessions are cached), the user row.
    expected = 2 if settings.SESSION_ENGINE.endswith(".db") else 1
    with django_assert_num_queries(expected):
        response = alice.get("/")

    assert b"Authenticated" in response.content
    assert no_network == []


@pytest.fixture
def sdk_hostile_provider(hostile_provider: None) -> None:
    """The test issuer of tests/forged.py, with what the SDK's metadata model needs."""
    sdk_fields = {"response_types_supported": ["code"], "subject_types_supported": ["public"]}
    provider().share("metadata", {**provider().metadata(), **sdk_fields})
    provider()._entries.clear()


@pytest.mark.usefixtures("sdk_hostile_provider")
@pytest.mark.parametrize("claim", ["sub", "iss", "aud"])
def test_refreshed_id_token_must_keep_iss_sub_and_aud(claim: str, no_network: list[Any]) -> None:
    # The new token is valid for this application; the stored one says otherwise.
    previous = sign(**{claim: "someone-else"})
    storage = DictStorage({"idToken": previous})
    response = TokenResponse(
        access_token="at", token_type="Bearer", expires_in=3600, id_token=sign()
    )

    with pytest.raises(InvalidToken, match=claim):
        async_to_sync(_Client(storage)._handleTokenResponse)("", response)
    assert storage.get("idToken") == previous


@pytest.mark.usefixtures("sdk_hostile_provider")
def test_refreshed_id_token_of_the_same_user_is_stored(no_network: list[Any]) -> None:
    storage = DictStorage({"idToken": sign()})
    new = sign(iat=int(time.time()) + 1)
    response = TokenResponse(access_token="at", token_type="Bearer", expires_in=3600, id_token=new)

    async_to_sync(_Client(storage)._handleTokenResponse)("", response)

    assert storage.get("idToken") == new


def test_revalidating_a_request_that_loaded_the_session_before_a_refresh_keeps_the_user(
    rotating_alice: Site, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "REVALIDATE_INTERVAL": 1}
    stale = context_of(rotating_alice)
    stale._request.session.keys()  # loaded now, before another request rotates the token
    fresh = context_of(rotating_alice)
    expire_access_tokens(fresh)
    fresh.get_access_token()  # rotates the refresh token and stores the new one
    stale._request.session[CHECKED_KEY] = 0

    assert stale.revalidate()

    assert stale.is_authenticated
    assert context_of(rotating_alice).is_authenticated
    assert b"Authenticated" in rotating_alice.get("/").content


def test_organization_token_for_a_non_member_is_403_and_keeps_the_session(alice: Site) -> None:
    logto = context_of(alice)

    with pytest.raises(AccessDenied) as refused:
        logto.get_organization_token("notamember00")

    assert refused.value.status == 403
    assert logto.is_authenticated
    assert context_of(alice).get_organization_token("acme4p9x2k7z")
    assert b"Authenticated" in alice.get("/").content


def test_unknown_resource_is_a_400_that_keeps_the_session_and_its_refresh_token(
    alice: Site,
) -> None:
    logto = context_of(alice)

    with pytest.raises(SignInError) as refused:
        logto.get_access_token("https://unknown.example.com/api")

    assert refused.value.status == 400
    assert "invalid_target" in str(refused.value)
    assert logto.get_access_token(API)
    assert b"Authenticated" in alice.get("/").content


@pytest.fixture
def userinfo_alice(site: Site, userinfo_only_tenant: PrivateProvider) -> Site:
    """Alice, signed in to a tenant that leaves roles out of ID tokens (userinfo has them)."""
    site.sign_in(userinfo_only_tenant, "alice")
    return site


@pytest.mark.urls("tests.urls")
def test_api_token_refresh_in_a_userinfo_only_tenant_keeps_roles_everywhere(
    userinfo_alice: Site,
) -> None:
    logto = context_of(userinfo_alice)
    id_token = logto.id_token
    expire_access_tokens(logto)

    assert logto.get_access_token(API)
    save(logto)

    refreshed = context_of(userinfo_alice)
    assert refreshed.id_token != id_token
    assert "roles" not in jwt.decode(refreshed.id_token or "", options={"verify_signature": False})
    assert refreshed.claims["roles"] == ["admin"]
    assert LogtoIdentity.objects.get(sub=refreshed.sub).roles == ["admin"]
    assert userinfo_alice.get("/need/admin/").status_code == 200


def another_request_refreshes(site: Site) -> str:
    """Refresh ``site``'s session in another request, as the provider rotates it; return the
    refresh token that request stored."""
    other = context_of(site)
    expire_access_tokens(other)
    assert other.get_access_token()
    return str(other._tokens.storage.get("refreshToken"))


@pytest.mark.urls("tests.urls")
@pytest.mark.parametrize("path", ["/need/read/", "/async/need/read/"])
def test_a_refresh_is_not_written_back_over_a_newer_one_at_the_end_of_the_request(
    rotating_alice: Site, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    alice = rotating_alice
    expire_access_tokens(context_of(alice))
    newer: list[str] = []
    locked, alocked = SessionTokens.locked, SessionTokens.alocked

    def then_another_request() -> None:
        # After this request's lock is released, before its view returns.
        if not newer:
            newer.append("")
            newer[0] = another_request_refreshes(alice)

    def locked_then(self: SessionTokens, work: Any) -> Any:
        result = locked(self, work)
        then_another_request()
        return result

    async def alocked_then(self: SessionTokens, work: Any) -> Any:
        result = await alocked(self, work)
        await sync_to_async(then_another_request)()
        return result

    monkeypatch.setattr(SessionTokens, "locked", locked_then)
    monkeypatch.setattr(SessionTokens, "alocked", alocked_then)

    assert alice.get(path).status_code == 200

    assert context_of(alice)._tokens.storage.get("refreshToken") == newer[0]
    monkeypatch.undo()
    expire_access_tokens(context_of(alice))
    assert alice.get(path).status_code == 200  # the stored refresh token is still honoured
    assert b"Authenticated" in alice.get("/").content


def test_a_holder_that_outlived_its_lock_leaves_the_next_holders_tokens(
    alice: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    expire_access_tokens(context_of(alice))
    holder, next_holder = context_of(alice), context_of(alice)
    lock = cache_key("refresh-lock", str(alice.session.session_key))
    refresh, arefresh = _sdk.refresh, _sdk.arefresh
    taken_over: list[str] = []

    def lock_taken_over() -> None:
        # The holder's refresh outlived its lock: the lock expired, and the next request
        # took it and stored a token of its own.
        if not taken_over:
            taken_over.append("")
            cache.delete(lock)
            taken_over[0] = str(next_holder.get_access_token(API))

    def slow_refresh(storage: Any, resource: str) -> str | None:
        token = refresh(storage, resource)
        lock_taken_over()
        return token

    async def aslow_refresh(storage: Any, resource: str) -> str | None:
        token = await arefresh(storage, resource)
        await sync_to_async(lock_taken_over)()
        return token

    monkeypatch.setattr(_sdk, "refresh", slow_refresh)
    monkeypatch.setattr(_sdk, "arefresh", aslow_refresh)

    if alice.kind == "wsgi":
        token = holder.get_access_token()
    else:
        token = async_to_sync(holder.aget_access_token)()

    assert token  # the holder's request still gets its answer
    assert context_of(alice).get_access_token(API) == taken_over[0]
    assert holder._stored(API) == taken_over[0]  # it re-read the session, as a waiter does
    assert cache.get(lock) is None  # and freed no lock that was not its own
