"""One periodic sync per Logto user and SYNC_INTERVAL, whatever the number of sessions:
two devices of one user, their sessions served by instances that share Redis (two test
clients of one process over the real Redis cache), cost the provider one refresh per
interval, and both follow a change at Logto within it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logto_auth import _tokens
from logto_auth._renewal import _published_key
from logto_auth._sessions import ADOPTED_KEY, CLAIMS_KEY, SYNCED_KEY, TOKEN_PREFIX
from logto_auth.backends import LogtoBackend
from tests.conftest import PrivateProvider, Site
from tests.test_context import context_of
from tests.test_sync import ALICE, INTERVAL, user

pytestmark = pytest.mark.urls("tests.urls")
ACME = "acme4p9x2k7z"
VOLATILE = ("iat", "exp", "auth_time", "at_hash", "sid")


@pytest.fixture
def shared_redis(redis_url: str, settings: Any) -> None:
    """Django's cache in Redis: what two instances of the site share."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }


@pytest.fixture
def syncing(
    private_provider: PrivateProvider, shared_redis: None, settings: Any
) -> PrivateProvider:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": INTERVAL}
    return private_provider


def two_devices(kind: str, provider: PrivateProvider) -> tuple[Site, Site]:
    """Alice signed in twice: two clients, two Django sessions, two Logto sessions."""
    phone, laptop = Site(kind), Site(kind)
    phone.sign_in(provider, "alice")
    laptop.sign_in(provider, "alice")
    return phone, laptop


def refreshes(provider: PrivateProvider) -> int:
    return provider.counters().get("token:refresh_token", 0)


def make_due(site: Site) -> None:
    """Make the sync of ``site``'s session due at its next request (claims that another
    session published stay where they are)."""
    session = context_of(site)._request.session
    session[SYNCED_KEY] = 0
    session.save()


def roles_seen(site: Site) -> Any:
    """The roles ``request.logto.claims`` holds for ``site``'s session."""
    return context_of(site).claims.get("roles")


@pytest.mark.parametrize("engine", ["db", "cache"])
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_two_sessions_of_one_user_cost_one_refresh_per_interval_and_both_lose_a_role(
    syncing: PrivateProvider, settings: Any, db: None, kind: str, engine: str
) -> None:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    phone, laptop = two_devices(kind, syncing)
    assert user(ALICE).is_superuser
    syncing.edit_user("alice", roles=[])
    before = refreshes(syncing)
    time.sleep(INTERVAL + 0.05)

    first, second = phone.get("/need/admin/"), laptop.get("/need/admin/")

    assert refreshes(syncing) == before + 1
    assert (first.status_code, second.status_code) == (403, 403)
    assert roles_seen(phone) == roles_seen(laptop) == []
    alice = user(ALICE)
    assert not alice.is_superuser
    assert not alice.is_staff


def test_evicted_claims_make_the_next_session_sync_itself(
    syncing: PrivateProvider, db: None
) -> None:
    phone, laptop = two_devices("wsgi", syncing)
    syncing.edit_user("alice", roles=[])
    before = refreshes(syncing)
    time.sleep(INTERVAL + 0.05)
    phone.get("/")
    cache.delete(_published_key(ALICE))  # evicted, or the cache lost it

    assert laptop.get("/need/admin/").status_code == 403

    assert refreshes(syncing) == before + 2
    assert roles_seen(laptop) == []
    assert cache.get(_published_key(ALICE))["claims"]["roles"] == []  # published again


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_session_that_meets_invalid_grant_sends_the_users_other_sessions_to_logto(
    syncing: PrivateProvider, db: None, kind: str
) -> None:
    phone, laptop = two_devices(kind, syncing)
    time.sleep(INTERVAL + 0.05)
    phone.get("/")  # synced: the claims are published for the interval
    laptop.get("/")  # adopted them
    syncing.set_user_state(ALICE, "suspend")
    # The phone asks for a token it lacks: the provider refuses the grant, the phone signs out.
    assert phone.get("/async/token/", {"organization": ACME}).status_code == 401
    make_due(laptop)  # due again while what the phone published is still fresh

    response = laptop.get("/")

    assert response.status_code == 401
    assert b"Not authenticated" in laptop.get("/").content


def test_the_adopting_session_keeps_its_own_volatile_claims_and_costs_nothing(
    syncing: PrivateProvider, settings: Any, db: None
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # no session queries
    phone, laptop = two_devices("wsgi", syncing)
    own = {name: context_of(laptop).claims.get(name) for name in VOLATILE}
    assert own["sid"] != context_of(phone).claims["sid"]
    syncing.edit_user("alice", roles=["staff"])
    time.sleep(INTERVAL + 0.05)
    phone.get("/")
    laptop_logto, calls = context_of(laptop), syncing.calls()

    with CaptureQueriesContext(connection) as captured:
        laptop_logto.refresh_from_logto()
        laptop_logto._request.session.save()

    assert syncing.calls() == calls
    assert captured.captured_queries == []
    claims = context_of(laptop).claims
    assert claims["roles"] == ["staff"]
    assert {name: claims.get(name) for name in VOLATILE} == own
    assert laptop.get("/admin/").status_code == 200  # alice is staff: the phone's sync said so


def test_an_adoption_when_nothing_changed_at_logto_writes_no_claims(
    syncing: PrivateProvider, settings: Any, db: None
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    phone, laptop = two_devices("wsgi", syncing)
    claims = context_of(laptop).claims
    time.sleep(INTERVAL + 0.05)
    phone.get("/")
    calls = syncing.calls()

    with CaptureQueriesContext(connection) as captured:
        assert laptop.get("/").status_code == 200

    assert syncing.calls() == calls
    # Django's own lookup of the session's user, and the names of the organizations the
    # page shows, read again once per sync interval; no write.
    assert [q["sql"].split(" FROM ")[1].split()[0] for q in captured.captured_queries] == [
        '"auth_user"',
        '"logto_auth_logtoorganization"',
    ]
    assert ADOPTED_KEY not in laptop.session
    assert context_of(laptop).claims == claims


def test_sessions_due_at_once_on_two_instances_make_one_refresh(
    syncing: PrivateProvider, settings: Any, db: None
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # threads share Redis
    devices = [Site("wsgi") for _ in range(4)]
    for device in devices:
        device.sign_in(syncing, "alice")
    time.sleep(INTERVAL + 0.05)
    contexts = [context_of(device) for device in devices for _ in range(2)]
    before = refreshes(syncing)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda context: context.refresh_from_logto(), contexts))

    assert refreshes(syncing) == before + 1


def id_token(**claims: Any) -> str:
    """A token the claims pipeline reads (it decodes what was validated on receipt)."""
    return jwt.encode({"sub": ALICE, **claims}, "k" * 32, algorithm="HS256")


def signed_in(**claims: Any) -> CookieSession:
    session = CookieSession()
    session[TOKEN_PREFIX + "idToken"] = id_token(**claims)
    return session


def test_adopted_claims_replace_the_stable_ones_and_keep_this_sessions_volatile_ones() -> None:
    session = signed_in(roles=["admin"], email="a@example.com", sid="mine", iat=1, exp=2)
    synced = {"sub": ALICE, "roles": [], "email": "new@example.com", "sid": "theirs", "iat": 9}

    _tokens.adopt(session, synced, LogtoBackend.volatile_claims)

    claims = _tokens.read(session)
    assert claims == {"sub": ALICE, "roles": [], "email": "new@example.com", "sid": "mine",
                      "iat": 1, "exp": 2}  # fmt: skip


def test_adopting_what_the_session_already_holds_writes_nothing() -> None:
    session = signed_in(roles=["admin"], sid="mine", iat=1)
    session.modified = False

    _tokens.adopt(session, {"sub": ALICE, "roles": ["admin"]}, LogtoBackend.volatile_claims)

    assert ADOPTED_KEY not in session
    assert not session.modified


def test_the_next_id_token_replaces_adopted_claims_and_is_completed_from_them() -> None:
    # A tenant whose ID tokens lack the roles: the adopted roles complete the next token,
    # never the older supplement of this session's own sync.
    session = signed_in(sid="mine")
    session[CLAIMS_KEY] = {"roles": ["admin"]}
    _tokens.adopt(session, {"sub": ALICE, "roles": []}, LogtoBackend.volatile_claims)
    token = id_token(sid="mine", iat=5)

    claims, supplement = _tokens.complete(token, _tokens.stored_supplement(session))
    session[TOKEN_PREFIX + "idToken"] = token
    _tokens.store(session, supplement)

    assert claims["roles"] == []
    assert ADOPTED_KEY not in session
    assert _tokens.read(session) == {"sub": ALICE, "sid": "mine", "iat": 5, "roles": []}
