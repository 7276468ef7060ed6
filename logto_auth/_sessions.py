"""Internal: may change in any release.

Django sessions of Logto users, across processes.

The keys logto_auth keeps in a session. An index from Logto session (``sid``) and user
(``sub``) to Django session keys lets any instance end the sessions a back-channel logout
or a webhook names, or change them (a webhook makes their next sync due, or ends their
current organization); signed-cookie sessions, which no server can delete, are ended
through a revocation list that the middleware checks (a sign-out puts its own sign-in on
it; a sign-in checks it, once indexed, for what ended while it ran). The refresh locks
are ``_locks``'.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.core.cache import cache, caches
from django.utils import timezone

from logto_auth.conf import logto_settings
from logto_auth.models import LogtoSession

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

# Every key logto_auth keeps in request.session.
TOKEN_PREFIX = "_logto_"  # + one of TOKEN_KEYS, the SDK's storage keys
TOKEN_KEYS = ("idToken", "accessTokenMap", "refreshToken", "signInSession")
PENDING_KEY = "_logto_pending"  # sign-ins under way, by state
CLAIMS_KEY = "_logto_claims"  # claims the ID token lacks, from userinfo
CHECKED_KEY = "_logto_checked_at"  # when the refresh token was last known to be honoured
SYNCED_KEY = "_logto_synced_at"  # when tokens, claims and rights were last synced
ADOPTED_KEY = "_logto_adopted"  # claims another session of the user synced, in place of ours
# The ID of the session's current organization (chosen by the switch view): a webhook that
# ends the organization, or the user's membership of it, removes it (``make_sync_due``).
ORGANIZATION_KEY = "_logto_organization"
# The names of the user's organizations as the site recorded them, read at their first use
# after a sign-in or a sync (a rename reaches a session within SYNC_INTERVAL).
NAMES_KEY = "_logto_organization_names"
MARKER_KEY = "_logto_session"  # [sid, sub, signed-in time, sign-in id] in cookie sessions
# What a sign-in leaves in the session, and another process may change.
LOGTO_KEYS = (
    *(TOKEN_PREFIX + name for name in TOKEN_KEYS),
    CLAIMS_KEY,
    ADOPTED_KEY,
    CHECKED_KEY,
    SYNCED_KEY,
    ORGANIZATION_KEY,
    NAMES_KEY,
)


def session_store() -> type[SessionBase]:
    """Return the ``SessionStore`` class of ``settings.SESSION_ENGINE``."""
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def cache_key(kind: str, value: str | bytes) -> str:
    """A Django cache key for ``value`` (hashed: keys have a bounded length and charset)."""
    data = value.encode() if isinstance(value, str) else value
    return f"logto_auth:{kind}:{hashlib.sha256(data).hexdigest()[:40]}"


def reload(session: SessionBase) -> None:
    """Replace the Logto keys of ``session`` with those its store holds now.

    Another process may have refreshed the tokens (and rotated the refresh token) or
    synced the user since this request loaded its session.
    """
    if session.session_key is not None and not isinstance(session, CookieSession):
        _replace_logto_keys(session, dict(type(session)(session.session_key).items()))


async def areload(session: SessionBase) -> None:
    """Like ``reload``, from async code."""
    if session.session_key is not None and not isinstance(session, CookieSession):
        stored = type(session)(session.session_key)
        _replace_logto_keys(session, dict(await stored.aitems()))


def _replace_logto_keys(session: SessionBase, stored: dict[str, Any]) -> None:
    for key in LOGTO_KEYS:
        if key not in stored:
            session.pop(key, None)
        elif session.get(key) != stored[key]:
            session[key] = stored[key]


def forget(session: SessionBase) -> None:
    """Remove every Logto key from ``session``, keeping the site's own data."""
    for key in LOGTO_KEYS:
        session.pop(key, None)


def remember(
    session: SessionBase, claims: dict[str, Any], signed_in_at: float | None = None
) -> None:
    """Index ``session`` under the Logto session and user of ``claims`` (at sign-in).

    A cookie session is revoked by any revocation at ``signed_in_at`` (default: now) or later.
    """
    sid, sub = _sid(claims), str(claims["sub"])
    if isinstance(session, CookieSession):
        at = time.time() if signed_in_at is None else signed_in_at
        session[MARKER_KEY] = [sid, sub, at, secrets.token_urlsafe(16)]
        return
    if session.session_key is None:
        session.save()
    assert session.session_key is not None
    _prune_index()
    # One statement (INSERT ... ON CONFLICT): a key indexed before takes the new sign-in.
    LogtoSession.objects.bulk_create(
        [LogtoSession(session_key=session.session_key, sid=sid, sub=sub)],
        update_conflicts=True,
        unique_fields=["session_key"],
        update_fields=["sid", "sub", "created_at"],
    )


# Index rows older than any session are pruned at a sign-in, at most once per PRUNE_EVERY
# seconds in each process: a sign-in usually pays no query for it.
PRUNE_EVERY = 300.0
_pruned_at = float("-inf")


def _prune_index() -> None:
    global _pruned_at
    if time.monotonic() - _pruned_at < PRUNE_EVERY:
        return
    _pruned_at = time.monotonic()
    oldest = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    LogtoSession.objects.filter(created_at__lt=oldest).delete()


def end_sessions(*, sid: str | None = None, sub: str | None = None) -> int:
    """End every Django session of the Logto session ``sid`` (or of the user ``sub``).

    Return how many indexed sessions were ended (cookie sessions are revoked, not counted).
    """
    if not sid and not sub:
        return 0
    # Revoked before the index is read, whatever the engine: a sign-in indexed after that
    # read sees the revocation when it checks (``ended_since``), so none escapes both.
    kind, value = ("sid", sid) if sid else ("sub", sub)
    cache.set(cache_key("revoked", f"{kind}:{value}"), time.time(), settings.SESSION_COOKIE_AGE)
    store = session_store()
    if issubclass(store, CookieSession):
        logger.info("Revoked the cookie sessions of Logto %s=%s", kind, value)
        return 0
    rows = LogtoSession.objects.all()
    if sid:
        rows = rows.filter(sid=sid)
    if sub:
        rows = rows.filter(sub=sub)
    keys = list(rows.values_list("session_key", flat=True))
    _delete_sessions(store, keys)
    LogtoSession.objects.filter(session_key__in=keys).delete()
    logger.info("Ended %s Django session(s) of Logto sid=%s sub=%s", len(keys), sid, sub)
    return len(keys)


def _delete_sessions(store: type[SessionBase], keys: list[str]) -> None:
    """Delete the sessions ``keys`` in bulk where the engine allows: one query and one
    cache call for any number (a user may have a thousand), else one by one."""
    if not keys:
        return
    get_model_class = getattr(store, "get_model_class", None)  # db and cached_db
    cached: list[str] = []
    if hasattr(store, "cache_key"):  # cache and cached_db
        cached = [store(key).cache_key for key in keys]  # type: ignore[attr-defined]
    if get_model_class is not None:
        get_model_class().objects.filter(session_key__in=keys).delete()
    if cached:
        caches[settings.SESSION_CACHE_ALIAS].delete_many(cached)
    if get_model_class is None and not cached:
        for key in keys:
            store(key).delete()


def revoke(session: SessionBase) -> None:
    """Put the sign-in of a cookie session on the revocation list (at sign-out).

    No server can delete a cookie, and one can come back: a request that was refreshing
    the tokens answers after the sign-out with the signed-in cookie. Other sessions are
    deleted from their store by ``logout()``.
    """
    marker = session.get(MARKER_KEY) if isinstance(session, CookieSession) else None
    if isinstance(marker, list) and len(marker) == 4:
        key = cache_key("revoked", f"sign-in:{marker[3]}")
        cache.set(key, time.time(), settings.SESSION_COOKIE_AGE)


def ended_since(claims: dict[str, Any], since: float) -> bool:
    """Whether the Logto session or user of ``claims`` was ended at ``since`` or later."""
    keys = _revocation_keys(_sid(claims), str(claims["sub"]))
    return any(at >= since for at in cache.get_many(keys).values())


def is_revoked(session: SessionBase) -> bool:
    """Whether a cookie session was signed in before its Logto session or user was ended."""
    keys, signed_in_at = _revocations(session)
    return bool(keys) and any(at >= signed_in_at for at in cache.get_many(keys).values())


async def ais_revoked(session: SessionBase) -> bool:
    """Like ``is_revoked``, from async code."""
    keys, signed_in_at = _revocations(session)
    return bool(keys) and any(at >= signed_in_at for at in (await cache.aget_many(keys)).values())


def _revocations(session: SessionBase) -> tuple[list[str], float]:
    """Return the revocation keys that would end a cookie session, and when it signed in."""
    if not isinstance(session, CookieSession):
        return [], 0
    marker = session.get(MARKER_KEY)  # a cookie session loads from the cookie: no I/O
    # Markers written before sign-ins had an id have three items.
    if not isinstance(marker, list) or len(marker) not in (3, 4):
        return [], 0
    sid, sub, signed_in_at, *sign_in = marker
    keys = _revocation_keys(sid, sub)
    keys.extend(cache_key("revoked", f"sign-in:{value}") for value in sign_in)
    return keys, signed_in_at


def _revocation_keys(sid: str, sub: str) -> list[str]:
    keys = [cache_key("revoked", f"sid:{sid}")] if sid else []
    keys.append(cache_key("revoked", f"sub:{sub}"))
    return keys


def _sid(claims: dict[str, Any]) -> str:
    return claims["sid"] if isinstance(claims.get("sid"), str) else ""


def published_key(sub: str) -> str:
    """The cache key of the claims last synced for the Logto user ``sub``; the key of the
    user's sync lock too (``refresh_lock``).

    Claims are shared only by sessions of the same application asking the same scopes:
    another site on the cache, or an instance of a release that asks other scopes, has
    claims of its own.
    """
    scopes = " ".join(sorted(logto_settings.scopes))
    application = f"{logto_settings.endpoint} {logto_settings.app_id} {scopes}"
    return cache_key("synced-claims", f"{application} {sub}")


def amend_sessions(subs: Iterable[str], change: Callable[[SessionBase], bool]) -> int:
    """Apply ``change`` to every indexed session of the Logto users ``subs``; save those it
    changed (it returns whether it did); return how many were changed.

    Database and cache sessions only: no server can change a cookie session (each syncs
    within ``SYNC_INTERVAL`` anyway). A request of the session that saves it meanwhile,
    having changed it too, may overwrite the change: its sync then comes at its interval.
    """
    store = session_store()
    subs = list(subs)
    if issubclass(store, CookieSession) or not subs:
        return 0
    keys = LogtoSession.objects.filter(sub__in=subs).values_list("session_key", flat=True)
    changed = 0
    for key in keys:
        session = store(key)
        # A session gone from its store loads empty and without a key: never recreate it.
        if not session.keys() or session.session_key != key or not change(session):
            continue
        try:
            session.save(must_create=False)
        except UpdateError:  # deleted meanwhile (a sign-out)
            continue
        changed += 1
    return changed


def make_sync_due(subs: Iterable[str], *, leaving: str | None = None) -> int:
    """Make the next request of every session of the Logto users ``subs`` sync them with
    Logto (``SYNC_INTERVAL`` set), asking the provider: the claims a sync published for
    them are withdrawn, so that no session adopts those instead.

    ``leaving``: an organization they no longer belong to (deleted, or their membership
    ended), removed as the current organization of the sessions that had it.

    Return how many sessions were changed (with ``leaving``: how many had it).
    """
    subs = list(subs)
    if not subs:
        return 0
    cache.delete_many([published_key(sub) for sub in subs])

    left = []

    def change(session: SessionBase) -> bool:
        if leaving is not None and session.get(ORGANIZATION_KEY) == leaving:
            del session[ORGANIZATION_KEY]
            left.append(session.session_key)
        due = session.pop(SYNCED_KEY, None) is not None
        return due or session.session_key in left

    changed = amend_sessions(subs, change)
    return len(left) if leaving is not None else changed
