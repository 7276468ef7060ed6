"""Django sessions of Logto users, across processes.

A lock per session serialises token refreshes (through Django's cache, shared by every
instance when it is Redis, Memcached or the database cache); an index from Logto session
(``sid``) and user (``sub``) to Django session keys lets any instance end the sessions a
back-channel logout or a webhook names; signed-cookie sessions, which no server can
delete, are ended through a revocation list that the middleware checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import time
from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.core.cache import cache
from django.utils import timezone

from logto_auth.conf import logto_settings
from logto_auth.exceptions import ProviderUnavailable
from logto_auth.models import LogtoSession

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

LOCK_POLL = 0.05  # seconds between attempts to take a busy lock
MARKER_KEY = "_logto_session"  # [sid, sub, signed-in time] in cookie sessions


def session_store() -> type[SessionBase]:
    """Return the ``SessionStore`` class of ``settings.SESSION_ENGINE``."""
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def cache_key(kind: str, value: str | bytes) -> str:
    """A Django cache key for ``value`` (hashed: keys have a bounded length and charset)."""
    data = value.encode() if isinstance(value, str) else value
    return f"logto_auth:{kind}:{hashlib.sha256(data).hexdigest()[:40]}"


@contextlib.contextmanager
def refresh_lock(session_key: str) -> Iterator[None]:
    """Hold the refresh lock of one session, waiting for another process that holds it.

    The lock expires by itself, so a process that dies while refreshing blocks nobody
    for long; it is released only by its holder.
    """
    key = cache_key("refresh-lock", session_key)
    token = secrets.token_hex(16)
    # The holder makes at most a token request and a key fetch, each bounded by TIMEOUT;
    # a waiter gives up before the lock expires, so it never takes a held lock.
    wait = logto_settings.timeout * 2 + 1
    hold = math.ceil(wait) + 1
    deadline = time.monotonic() + wait
    while not cache.add(key, token, hold):
        if time.monotonic() > deadline:
            logger.warning("Gave up waiting for the refresh lock of a session")
            raise ProviderUnavailable("Another request is still renewing your sign-in.")
        time.sleep(LOCK_POLL)
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def remember(session: SessionBase, claims: dict[str, Any]) -> None:
    """Index ``session`` under the Logto session and user of ``claims`` (at sign-in)."""
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else ""
    sub = str(claims["sub"])
    if isinstance(session, CookieSession):
        session[MARKER_KEY] = [sid, sub, time.time()]
        return
    if session.session_key is None:
        session.save()
    assert session.session_key is not None
    oldest = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    LogtoSession.objects.filter(created_at__lt=oldest).delete()
    LogtoSession.objects.update_or_create(
        session_key=session.session_key, defaults={"sid": sid, "sub": sub}
    )


def end_sessions(*, sid: str | None = None, sub: str | None = None) -> int:
    """End every Django session of the Logto session ``sid`` (or of the user ``sub``).

    Return how many indexed sessions were ended (cookie sessions are revoked, not counted).
    """
    if not sid and not sub:
        return 0
    store = session_store()
    if issubclass(store, CookieSession):
        kind, value = ("sid", sid) if sid else ("sub", sub)
        cache.set(cache_key("revoked", f"{kind}:{value}"), time.time(), settings.SESSION_COOKIE_AGE)
        logger.info("Revoked the cookie sessions of Logto %s=%s", kind, value)
        return 0
    rows = LogtoSession.objects.all()
    if sid:
        rows = rows.filter(sid=sid)
    if sub:
        rows = rows.filter(sub=sub)
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        store(key).delete()
    LogtoSession.objects.filter(session_key__in=keys).delete()
    logger.info("Ended %s Django session(s) of Logto sid=%s sub=%s", len(keys), sid, sub)
    return len(keys)


def is_revoked(session: SessionBase) -> bool:
    """Whether a cookie session was signed in before its Logto session or user was ended."""
    if not isinstance(session, CookieSession):
        return False
    marker = session.get(MARKER_KEY)
    if not isinstance(marker, list) or len(marker) != 3:
        return False
    sid, sub, signed_in_at = marker
    keys = [cache_key("revoked", f"sid:{sid}")] if sid else []
    keys.append(cache_key("revoked", f"sub:{sub}"))
    return any(at >= signed_in_at for at in cache.get_many(keys).values())
