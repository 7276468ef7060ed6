"""Internal: may change in any release.

The refresh locks, across processes: one per session serialises its token refreshes, one
per user the periodic sync of their sessions (``_renewal``). Through Django's cache, shared
by every instance when it is Redis, Memcached or the database cache; ``arefresh_lock``
takes the same lock from async code, through the cache's async API. A lock expires by
itself and is released only by its holder (on Redis by a compare-and-delete script).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.translation import gettext_lazy as _

from logto_auth._sessions import cache_key
from logto_auth.conf import logto_settings
from logto_auth.exceptions import ProviderUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

logger = logging.getLogger(__name__)

LOCK_POLL = 0.05  # seconds between attempts to take a busy lock
# Provider calls a lock holder makes at most, each bounded by TIMEOUT: a token request, a
# key fetch (a rotated kid), userinfo (claims the ID token lacks) and introspection.
LOCK_CALLS = 4
# Seconds before its lock expires after which a holder neither writes nor releases it.
LOCK_MARGIN = 1.0
# Compare-and-delete in one step, so a holder whose lock expired never frees another's.
RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""


def _lock_terms(name: str) -> tuple[str, str, int, float]:
    """Return the lock's cache key, this holder's token, how long it holds, when to give up."""
    # A waiter gives up before the lock expires, so it never takes a lock still held.
    wait = logto_settings.timeout * LOCK_CALLS + 1
    return (
        cache_key("refresh-lock", name),
        secrets.token_hex(16),
        math.ceil(wait) + 1,
        time.monotonic() + wait,
    )


def _gave_up() -> ProviderUnavailable:
    logger.warning("Gave up waiting for the refresh lock of a session")
    return ProviderUnavailable(_("Another request is still renewing your sign-in."))


@contextlib.contextmanager
def refresh_lock(name: str) -> Iterator[Callable[[], bool]]:
    """Hold the refresh lock ``name`` (a session key, or the sync of one user), waiting for
    another process that holds it.

    The lock expires by itself, so a process that dies while refreshing blocks nobody
    for long; it is released only by its holder. It yields ``held()``: whether the lock
    is still this holder's, to ask before writing what was done under it.
    """
    key, token, hold, deadline = _lock_terms(name)
    while not cache.add(key, token, hold):
        if time.monotonic() > deadline:
            raise _gave_up()
        time.sleep(LOCK_POLL)
    safe_until = time.monotonic() + hold - LOCK_MARGIN

    def held() -> bool:
        # A slow holder (urllib's timeout is per socket operation; the backend's database
        # work is not counted) may outlive its lock; a cache may also evict it early.
        return time.monotonic() < safe_until and cache.get(key) == token

    try:
        yield held
    finally:
        _release(key, token, safe_until)


@contextlib.asynccontextmanager
async def arefresh_lock(name: str) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
    """Like ``refresh_lock``, from async code: the event loop runs on while it waits."""
    key, token, hold, deadline = _lock_terms(name)
    while not await cache.aadd(key, token, hold):
        if time.monotonic() > deadline:
            raise _gave_up()
        await asyncio.sleep(LOCK_POLL)
    safe_until = time.monotonic() + hold - LOCK_MARGIN

    async def held() -> bool:
        return time.monotonic() < safe_until and await cache.aget(key) == token

    try:
        yield held
    finally:
        # One release for both (Redis has no async script client); a refresh is rare.
        await sync_to_async(_release)(key, token, safe_until)


def _release(key: str, token: str, safe_until: float) -> None:
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        redis: Any = backend._cache  # Django's RedisCacheClient: a client and a serializer
        client = redis.get_client(key, write=True)
        serialized = redis._serializer.dumps(token)
        client.eval(RELEASE_SCRIPT, 1, backend.make_and_validate_key(key), serialized)
        return
    # Other caches (LocMem, the database cache, Memcached) have no compare-and-delete.
    # Before ``safe_until`` the lock cannot have expired, so nobody else can have added it
    # between the read and the delete; after it, another process may hold it: let it expire.
    if time.monotonic() < safe_until and cache.get(key) == token:
        cache.delete(key)
