"""Internal: may change in any release.

``SessionTokens``: the Logto tokens one Django session holds, and their renewal under the
session's lock. ``request.logto`` (``_context.LogtoContext``) has one and asks it.

Every change that another process could make at the same time (a token refresh, the
periodic sync, revalidation) runs under one lock-and-reload helper, ``locked`` (or
``alocked`` from async code): the per-session lock is taken, the session's Logto keys are
read again (another process may have refreshed or synced meanwhile, and rotated the
refresh token), the work runs, and the result is saved before the lock is released.

The periodic sync is coalesced per user (``follow_logto``): one session of a ``sub``
refreshes at the provider, under a lock of the user's, and publishes the claims it got in
the cache for ``SYNC_INTERVAL``; the user's other sessions, on any instance, adopt them
instead of asking the provider. A session that ends (say, ``invalid_grant``) withdraws
them, so that every other session asks the provider itself at its next sync.

Sync and async code make the same decisions in the same methods; only the I/O has twins
(``end``/``aend``, ``locked``/``alocked``, ``refresh``/``arefresh``,
``follow_logto``/``afollow_logto``).
"""

from __future__ import annotations

import logging
import math
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth import alogout, logout
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.core.cache import cache
from django.core.exceptions import SynchronousOnlyOperation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth import _locks, _sdk, _sessions, _tokens
from logto_auth._provider import user_info
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidGrant, InvalidToken, TokenExpired
from logto_auth.storage import SessionStorage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from django.http import HttpRequest

logger = logging.getLogger(__name__)

T = TypeVar("T")
ENDED_ELSEWHERE = "the session was ended by another request"
SUPERSEDED = "A token refresh outlived its session lock; its tokens were not stored"
SESSION_ENDED = _("Your session has ended. Please sign in again.")
SIGN_IN_EXPIRED = _("Your sign-in has expired. Please sign in again.")


class SessionTokens:
    """The Logto keys of ``request.session``, read lazily, renewed under the session lock."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._decoded: tuple[object, dict[str, Any]] = (None, {})

    @cached_property
    def storage(self) -> SessionStorage:
        try:
            return SessionStorage(self._request.session)
        except SynchronousOnlyOperation as error:
            raise SynchronousOnlyOperation(
                "request.logto read an unloaded session in async code: await "
                "request.logto.aget_claims() or ais_authenticated() first."
            ) from error

    async def aload(self) -> None:
        """Load the session with Django's async API: the sync readers then need no I/O."""
        await self._request.session.akeys()

    @property
    def id_token(self) -> str | None:
        return self.storage.get("idToken")

    @property
    def is_authenticated(self) -> bool:
        return self.id_token is not None

    @property
    def claims(self) -> dict[str, Any]:
        """The merged claims: the stored ID token's, completed from userinfo; ``{}`` if none."""
        session = self._request.session
        held = (
            self.id_token,
            session.get(_sessions.CLAIMS_KEY),
            session.get(_sessions.ADOPTED_KEY),
        )
        if self._decoded[0] != held:  # decoded once, also after a refresh or an adoption
            self._decoded = (held, _tokens.read(session))
        return self._decoded[1]

    @property
    def sub(self) -> str | None:
        return self.claims.get("sub")

    def end(self, reason: str) -> None:
        """Forget the Logto tokens and, by default, end the Django session too."""
        published, end_session = self._forget(reason)
        cache.delete(published)
        if end_session:
            logout(self._request)

    async def aend(self, reason: str) -> None:
        """Like ``end``, from async code."""
        published, end_session = self._forget(reason)
        await cache.adelete(published)
        if end_session:
            await alogout(self._request)

    def _forget(self, reason: str) -> tuple[str, bool]:
        """Forget the Logto tokens; return the key of the claims published for the user,
        which the caller withdraws (the user's other sessions then ask Logto themselves at
        their next sync), and whether the Django session must end too."""
        logger.info("Logto session ended for %s: %s", self.sub, reason)
        published = _published_key(str(self.sub))
        _sessions.forget(self._request.session)
        return published, logto_settings.end_session_with_refresh_token

    def sync_soon(self) -> None:
        """Make the next request sync with Logto, adopting no claims published before."""
        self._request.session[_sessions.SYNCED_KEY] = 0
        cache.delete(_published_key(str(self.sub)))

    async def async_soon(self) -> None:
        """Like ``sync_soon``, from async code."""
        self._request.session[_sessions.SYNCED_KEY] = 0
        await cache.adelete(_published_key(str(self.sub)))

    @method_decorator(sensitive_variables())
    def follow_logto(self, interval: float) -> float:
        """Bring claims and rights in line with Logto; return when what it holds was synced.

        Once per user and ``interval``, whatever the sessions and instances: claims that
        another session of the user published less than ``interval`` ago are adopted (no
        provider call, no write of the user: that session updated it).
        Otherwise, under the user's sync lock, this session refreshes its tokens and
        userinfo at the provider and publishes the claims for the user's other sessions.
        """
        key = _published_key(str(self.sub))
        synced_at = self._adopt(cache.get(key), interval)
        if synced_at is not None:
            return synced_at
        with _locks.refresh_lock(key):
            synced_at = self._adopt(cache.get(key), interval)  # published while this waited?
            if synced_at is None:
                synced_at = time.time()  # when Logto was asked: the claims' age
                self.refresh("", user_info_too=True)
                cache.set(key, self._publication(synced_at), math.ceil(interval))
        return synced_at

    @sensitive_variables()
    async def afollow_logto(self, interval: float) -> float:
        """Like ``follow_logto``, from async code."""
        key = _published_key(str(self.sub))
        synced_at = self._adopt(await cache.aget(key), interval)
        if synced_at is not None:
            return synced_at
        async with _locks.arefresh_lock(key):
            synced_at = self._adopt(await cache.aget(key), interval)
            if synced_at is None:
                synced_at = time.time()  # when Logto was asked: the claims' age
                await self.arefresh("", user_info_too=True)
                await cache.aset(key, self._publication(synced_at), math.ceil(interval))
        return synced_at

    def _adopt(self, published: object, interval: float) -> float | None:
        """Adopt claims of this user ``published`` less than ``interval`` ago; return when
        they were synced, or ``None`` when there are none to adopt (this session syncs)."""
        if not isinstance(published, dict):
            return None
        at, claims, now = published.get("at"), published.get("claims"), time.time()
        if not isinstance(at, float) or not isinstance(claims, dict) or now - at >= interval:
            return None
        if claims.get("sub") != self.sub:
            return None
        _tokens.adopt(self._request.session, claims, logto_backend().volatile_claims)
        # The next sync is due when the claims are ``interval`` old, not later: they are
        # never older than that, and another instance's clock ahead of ours delays nothing.
        return min(at, now)

    def _publication(self, synced_at: float) -> dict[str, Any]:
        """What a sync publishes for the user's other sessions: its claims but the volatile."""
        volatile = logto_backend().volatile_claims
        claims = {name: value for name, value in self.claims.items() if name not in volatile}
        return {"at": synced_at, "claims": claims}

    def _lock_key(self) -> str | None:
        """The session key to lock, or ``None`` when there is no store to re-read."""
        session = self._request.session
        if session.session_key is None or isinstance(session, CookieSession):
            # A cookie is its own store: there is nothing to re-read or to lock.
            return None
        return session.session_key

    @method_decorator(sensitive_variables())
    def locked(self, work: Callable[[], T]) -> T:
        """Run ``work`` under the session's refresh lock, on freshly read Logto keys."""
        key = self._lock_key()
        if key is None:
            return work()
        session = self._request.session
        with _locks.refresh_lock(key) as held:
            modified = session.modified
            _sessions.reload(session)
            if not self.is_authenticated:
                self.end(ENDED_ELSEWHERE)
                raise TokenExpired(SESSION_ENDED)
            result = work()
            if not held():
                # Another request holds the lock now and may store newer tokens: ours
                # must not overwrite them, now or at the end of this request.
                logger.warning(SUPERSEDED)
                _sessions.reload(session)
                session.modified = modified
                return result
            # Stored before the lock is released, so the next holder sees it.
            self._save()
        return result

    @sensitive_variables()  # on a coroutine it registers, never wraps: no method_decorator
    async def alocked(self, work: Callable[[], Awaitable[T]]) -> T:
        """Like ``locked``, from async code: waiting for the lock never blocks the loop."""
        key = self._lock_key()
        if key is None:
            return await work()
        session = self._request.session
        async with _locks.arefresh_lock(key) as held:
            modified = session.modified
            await _sessions.areload(session)
            if not self.is_authenticated:
                await self.aend(ENDED_ELSEWHERE)
                raise TokenExpired(SESSION_ENDED)
            result = await work()
            if not await held():
                logger.warning(SUPERSEDED)
                await _sessions.areload(session)
                session.modified = modified
                return result
            # Django's asave would hold the session's data (the tokens) in a coroutine
            # frame that error reports show; _save hides its frames.
            await sync_to_async(self._save)()
        return result

    @method_decorator(sensitive_variables())
    def _save(self) -> None:
        """Store the session; one deleted meanwhile (signed out elsewhere) ends this request's."""
        session = self._request.session
        try:
            session.save()
        except UpdateError:
            logger.info("Logto session ended for %s: %s", self.sub, ENDED_ELSEWHERE)
            logout(self._request)  # its store is gone: nothing of it may be saved again
            raise TokenExpired(SESSION_ENDED) from None
        # All stored: else SessionMiddleware would save this copy again after the view,
        # over the tokens another request may have refreshed and stored by then.
        session.modified = False

    @method_decorator(sensitive_variables())
    def refresh(self, resource: str, *, user_info_too: bool = False) -> str | None:
        """Refresh the access token for ``resource``; apply a new ID token to the user.

        Only a grant the provider no longer honours ends the session: other refusals
        (not a member of an organization, an unknown resource) concern this request.
        """
        before = self.id_token
        try:
            token = _sdk.refresh(self.storage, resource)
        except (InvalidGrant, InvalidToken) as error:
            self.end(str(error))
            raise TokenExpired(SIGN_IN_EXPIRED) from error
        if self.id_token != before or user_info_too:
            self._apply_claims(user_info_too)
        return token

    @sensitive_variables()
    async def arefresh(self, resource: str, *, user_info_too: bool = False) -> str | None:
        """Like ``refresh``, from async code: the SDK's token request is awaited."""
        before = self.id_token
        try:
            token = await _sdk.arefresh(self.storage, resource)
        except (InvalidGrant, InvalidToken) as error:
            await self.aend(str(error))
            raise TokenExpired(SIGN_IN_EXPIRED) from error
        if self.id_token != before or user_info_too:
            # Userinfo (urllib) and the backend's hooks (the ORM) have no async API.
            await sync_to_async(self._apply_claims)(user_info_too)
        return token

    @method_decorator(sensitive_variables())
    def _apply_claims(self, fetch: bool) -> None:
        """Complete the new ID token's claims and bring the Django user in line with them."""
        id_token, session = self.id_token, self._request.session
        if id_token is None:
            return

        def fetch_user_info() -> dict[str, Any]:
            # The sync has just refreshed it (a refresh of another resource does not ask).
            token = _sdk.stored_access_token(self.storage, "")
            return user_info(token, str(self.sub)) if token else {}

        merged, supplement = _tokens.complete(
            id_token, _tokens.stored_supplement(session), fetch_user_info if fetch else None
        )
        _tokens.store(session, supplement)
        user = getattr(self._request, "user", None)
        if user is None or not user.is_authenticated:
            return
        identity = getattr(user, "logto_identity", None)
        if getattr(identity, "sub", None) == merged["sub"]:
            logto_backend().sync_user(self._request, user, merged)


def _published_key(sub: str) -> str:
    """The cache key of the claims last synced for the Logto user ``sub`` (``_sessions``)."""
    return _sessions.published_key(sub)
