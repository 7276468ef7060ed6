"""The per-session refresh lock and the index of Django sessions by Logto session/user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
import redis
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.core.management import call_command

from logto_auth._locks import refresh_lock
from logto_auth._sessions import cache_key, end_sessions, remember
from logto_auth.exceptions import ProviderUnavailable
from logto_auth.models import LogtoSession


def test_refresh_lock_held_elsewhere_gives_up_with_503(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 0.05}

    with (
        refresh_lock("session-1"),
        pytest.raises(ProviderUnavailable) as raised,
        refresh_lock("session-1"),
    ):
        pass

    assert raised.value.status == 503


def test_refresh_lock_is_per_session_and_released_after_use() -> None:
    with refresh_lock("session-1") as first, refresh_lock("session-2") as second:
        assert first()
        assert second()
    with refresh_lock("session-1") as again:
        assert again()


def indexed(sid: str, sub: str) -> str:
    session = SessionStore()
    session["_auth_user_id"] = "1"
    remember(session, {"sid": sid, "sub": sub})
    assert session.session_key is not None
    return session.session_key


@pytest.mark.django_db
def test_ending_a_logto_session_ends_only_its_django_sessions() -> None:
    first, second, other = indexed("s1", "alice"), indexed("s2", "alice"), indexed("s3", "bob")

    assert end_sessions(sid="s1") == 1

    assert [SessionStore().exists(key) for key in (first, second, other)] == [False, True, True]


@pytest.mark.django_db
def test_ending_a_logto_user_ends_all_their_django_sessions() -> None:
    first, second, other = indexed("s1", "alice"), indexed("s2", "alice"), indexed("s3", "bob")

    assert end_sessions(sub="alice") == 2

    assert [SessionStore().exists(key) for key in (first, second, other)] == [False, False, True]
    assert list(LogtoSession.objects.values_list("sub", flat=True)) == ["bob"]


@pytest.mark.django_db
def test_a_sid_of_another_user_ends_nothing() -> None:
    key = indexed("s1", "alice")

    assert end_sessions(sid="s1", sub="mallory") == 0
    assert end_sessions() == 0

    assert SessionStore().exists(key)


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }


@pytest.mark.usefixtures("redis_cache")
def test_releasing_a_lock_that_expired_never_frees_the_next_holders_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = cache_key("refresh-lock", "session-1")
    backend = caches["default"]
    read = backend.get
    retaken: list[str] = []

    def read_then_lose_the_lock(name: str, *args: Any, **kwargs: Any) -> Any:
        value = read(name, *args, **kwargs)
        if name == key:
            # Between a read and a delete, our lock expires and another process takes it.
            backend.set(key, "next-holder", 30)
            retaken.append(name)
        return value

    with refresh_lock("session-1"):
        monkeypatch.setattr(backend, "get", read_then_lose_the_lock)

    assert not retaken or read(key) == "next-holder"
    assert read(key) is None  # our own lock was released


@pytest.mark.usefixtures("redis_cache")
def test_the_refresh_lock_waits_out_every_call_its_holder_may_make(
    settings: Any, redis_url: str
) -> None:
    # A holder's token request, key fetch, userinfo and introspection may each take TIMEOUT.
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 2}
    key = cache_key("refresh-lock", "session-1")

    with refresh_lock("session-1"):
        ttl = redis.Redis.from_url(redis_url).ttl(caches["default"].make_and_validate_key(key))
        assert ttl >= 4 * 2


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ["db", "cache", "cached_db"])
def test_ending_a_thousand_sessions_of_a_user_costs_a_fixed_number_of_queries(
    settings: Any, engine: str, django_assert_max_num_queries: Any
) -> None:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for n in range(1000):
        session = store()
        session["_auth_user_id"] = "1"
        remember(session, {"sid": f"s{n}", "sub": "alice"})
        keys.append(session.session_key)

    with django_assert_max_num_queries(3):  # the index, the sessions, the index rows
        assert end_sessions(sub="alice") == 1000

    assert not any(store().exists(key) for key in keys)
    assert not LogtoSession.objects.exists()


@pytest.fixture(params=["locmem", "database"])
def lock_cache(request: pytest.FixtureRequest, settings: Any, db: None) -> Iterator[None]:
    """A cache without compare-and-delete: Django's in-memory one, or its database cache."""
    if request.param == "locmem":
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    else:
        backend = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "locks"}
    settings.CACHES = {"default": backend}
    if request.param == "database":
        call_command("createcachetable", verbosity=0)
    yield
    caches["default"].clear()  # a lock left to expire must not block the next test


@pytest.mark.usefixtures("lock_cache")
def test_a_holder_that_outlived_its_lock_frees_no_other_holders_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = cache_key("refresh-lock", "session-1")
    backend = caches["default"]
    read = backend.get

    def read_then_lose_the_lock(name: str, *args: Any, **kwargs: Any) -> Any:
        value = read(name, *args, **kwargs)
        if name == key:
            # Between a read and a delete, our lock expires and another process takes it.
            backend.set(key, "next-holder", 30)
        return value

    with refresh_lock("session-1") as held:
        assert held()
        later = time.monotonic() + 3600  # the holder's work outlived the lock
        monkeypatch.setattr(time, "monotonic", lambda: later)
        monkeypatch.setattr(backend, "get", read_then_lose_the_lock)
        assert not held()

    assert read(key) is not None  # left to expire: whoever holds it by now keeps it
