"""Internal: may change in any release.

``request.logto``: the signed-in user's Logto side, read lazily from the session.

Each method that may touch the session store, the cache or the provider has an
``a``-prefixed twin for async code (``await request.logto.aget_claims()``), as Django's
own ``request.auser()``. The properties (``is_authenticated``, ``claims``, ``sub``,
``id_token``) read the loaded session only: async code awaits ``ais_authenticated()`` or
``aget_claims()`` first, which load it without blocking. Refresh, revalidation and the
periodic sync run under the lock-and-reload helper of ``_renewal.SessionTokens``, which
holds the session's tokens: this class decides what to ask of it and when.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from logto_auth import _organizations, _sdk, _sessions
from logto_auth._organization_context import OrganizationContext
from logto_auth._provider import refresh_token_is_active, user_info
from logto_auth._renewal import SessionTokens
from logto_auth._tokens import unverified_claims
from logto_auth.conf import logto_settings
from logto_auth.exceptions import ProviderError

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"request.logto.{old}() is deprecated; call request.logto.{new}() instead.",
        DeprecationWarning,
        stacklevel=3,
    )


class LogtoContext(OrganizationContext):
    """``request.logto``: the signed-in user's Logto side, read lazily from the session."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request, SessionTokens(request))

    @property
    def id_token(self) -> str | None:
        """The stored ID token, or ``None`` when the user is not signed in with Logto."""
        return self._tokens.id_token

    @property
    def is_authenticated(self) -> bool:
        """Whether the session holds a Logto sign-in."""
        return self._tokens.is_authenticated

    def end(self, reason: str) -> None:
        """Forget the Logto tokens and, by default, end the Django session too."""
        self._tokens.end(reason)

    async def aend(self, reason: str) -> None:
        """Like ``end``, from async code."""
        await self._tokens.aend(reason)

    async def ais_authenticated(self) -> bool:
        """Return ``is_authenticated``, loading the session without blocking."""
        await self._tokens.aload()
        return self.is_authenticated

    async def aget_claims(self) -> dict[str, Any]:
        """Return ``claims``, loading the session without blocking."""
        await self._tokens.aload()
        return self.claims

    @method_decorator(sensitive_variables())
    def get_access_token(self, resource: str = "") -> str | None:
        """Return an access token for ``resource``, refreshing it when expired.

        ``None`` when the user is not signed in with Logto. Raises ``TokenExpired`` (and
        ends the session, see ``LOGTO['END_SESSION_WITH_REFRESH_TOKEN']``) when the
        provider no longer honours the refresh token.
        """
        if not self.is_authenticated:
            return None
        return self._stored(resource) or self._tokens.locked(
            lambda: self._stored(resource) or self._tokens.refresh(resource)
        )

    @sensitive_variables()  # on a coroutine it registers, never wraps: no method_decorator
    async def aget_access_token(self, resource: str = "") -> str | None:
        """Like ``get_access_token``, from async code."""
        if not await self.ais_authenticated():
            return None

        async def stored_or_refreshed() -> str | None:
            return self._stored(resource) or await self._tokens.arefresh(resource)

        return self._stored(resource) or await self._tokens.alocked(stored_or_refreshed)

    def _stored(self, resource: str) -> str | None:
        return _sdk.stored_access_token(self._tokens.storage, resource)

    def get_access_token_claims(self, resource: str) -> dict[str, Any]:
        """Return the claims (``scope``, ``aud``, ...) of the JWT access token for ``resource``.

        The token came straight from the provider; it is decoded, not verified again.
        """
        token = self.get_access_token(resource)
        return unverified_claims(token) if token else {}

    async def aget_access_token_claims(self, resource: str) -> dict[str, Any]:
        """Like ``get_access_token_claims``, from async code."""
        token = await self.aget_access_token(resource)
        return unverified_claims(token) if token else {}

    @method_decorator(sensitive_variables())
    def fetch_user_info(self) -> dict[str, Any]:
        """Fetch the userinfo endpoint: every claim, including Logto's extended ones.

        One provider call (two when the access token must be refreshed); not cached.
        """
        token = self.get_access_token()
        if token is None or self.sub is None:
            return {}
        return user_info(token, self.sub)

    @sensitive_variables()
    async def afetch_user_info(self) -> dict[str, Any]:
        """Like ``fetch_user_info``, from async code."""
        token = await self.aget_access_token()
        if token is None or self.sub is None:
            return {}
        # The provider's HTTP calls other than the SDK's are urllib's: off the event loop.
        return await sync_to_async(user_info)(token, self.sub)

    @method_decorator(sensitive_variables())
    def refresh_from_logto(self) -> None:
        """Bring tokens, claims and rights in line with Logto, once per ``SYNC_INTERVAL``.

        ``LogtoMiddleware`` calls it on every request; until the interval has passed since
        the last time, it does nothing (no provider call). One session of a user syncs
        per interval; the user's other sessions, on any instance sharing the cache, adopt
        the claims it got (no provider call).

        A provider that cannot be reached leaves the session and the rights as they are
        until the next interval; a grant the provider no longer honours (a user
        suspended or deleted in Logto) ends the session with ``TokenExpired``.
        """
        interval = self._interval(logto_settings.sync_interval, _sessions.SYNCED_KEY)
        if interval is None:
            return

        def sync_now() -> _organizations.Change | None:
            if not self._due(_sessions.SYNCED_KEY, interval):  # synced while this waited
                return None
            synced_at = self._tokens.follow_logto(interval)
            self._request.session[_sessions.SYNCED_KEY] = synced_at
            return self._followed()

        try:
            _organizations.send(self._tokens.locked(sync_now))
        except ProviderError as error:
            self._retry_later("sync", _sessions.SYNCED_KEY, error)

    @sensitive_variables()
    async def arefresh_from_logto(self) -> None:
        """Like ``refresh_from_logto``, from async code."""
        if logto_settings.sync_interval:  # else the session need not even be loaded
            await self._tokens.aload()
        interval = self._interval(logto_settings.sync_interval, _sessions.SYNCED_KEY)
        if interval is None:
            return

        async def sync_now() -> _organizations.Change | None:
            if not self._due(_sessions.SYNCED_KEY, interval):  # synced while this waited
                return None
            synced_at = await self._tokens.afollow_logto(interval)
            self._request.session[_sessions.SYNCED_KEY] = synced_at
            return self._followed()

        try:
            await _organizations.asend(await self._tokens.alocked(sync_now))
        except ProviderError as error:
            self._retry_later("sync", _sessions.SYNCED_KEY, error)

    def _followed(self) -> _organizations.Change | None:
        """After a sync: the organization tokens go (a permission taken away at Logto is
        gone now), and so does a current organization the user left."""
        _sdk.drop_organization_tokens(self._tokens.storage)
        return _organizations.after_sync(self._request, self.claims)

    def sync(self) -> None:
        """Deprecated alias of ``refresh_from_logto()``; goes in the next minor release."""
        _deprecated("sync", "refresh_from_logto")
        self.refresh_from_logto()

    async def async_(self) -> None:
        """Deprecated alias of ``arefresh_from_logto()``; goes in the next minor release."""
        _deprecated("async_", "arefresh_from_logto")
        await self.arefresh_from_logto()

    @method_decorator(sensitive_variables())
    def revalidate(self) -> bool:
        """Ask the provider whether the refresh token lives, once per ``REVALIDATE_INTERVAL``.

        Return ``False`` (having ended the session) when it is gone or rejected. A
        provider that cannot be reached leaves the session as it is.
        """
        interval = self._interval(logto_settings.revalidate_interval, _sessions.CHECKED_KEY)
        if interval is None:
            return True

        def check() -> bool:
            token = self._refresh_token_to_check(interval)
            return token is None or (bool(token) and refresh_token_is_active(token))

        try:
            alive = self._tokens.locked(check)
        except ProviderError as error:
            return self._retry_later("revalidate", _sessions.CHECKED_KEY, error)
        if not alive:
            self.end("the provider no longer honours the refresh token")
        return alive

    @sensitive_variables()
    async def arevalidate(self) -> bool:
        """Like ``revalidate``, from async code."""
        if logto_settings.revalidate_interval:
            await self._tokens.aload()
        interval = self._interval(logto_settings.revalidate_interval, _sessions.CHECKED_KEY)
        if interval is None:
            return True

        async def check() -> bool:
            token = self._refresh_token_to_check(interval)
            active = sync_to_async(refresh_token_is_active)
            return token is None or (bool(token) and await active(token))

        try:
            alive = await self._tokens.alocked(check)
        except ProviderError as error:
            return self._retry_later("revalidate", _sessions.CHECKED_KEY, error)
        if not alive:
            await self.aend("the provider no longer honours the refresh token")
        return alive

    def _interval(self, interval: float | None, key: str) -> float | None:
        """Return ``interval`` when the work it paces is due for this session, else ``None``."""
        if not interval or not self.is_authenticated or not self._due(key, interval):
            return None
        return interval

    def _due(self, key: str, interval: float) -> bool:
        at = self._request.session.get(key)
        return not isinstance(at, int | float) or time.time() - at >= interval

    def _refresh_token_to_check(self, interval: float) -> str | None:
        """Return the refresh token to introspect now (``""`` if there is none), or
        ``None`` when another request checked it while this one waited for the lock."""
        if not self._due(_sessions.CHECKED_KEY, interval):
            return None
        self._request.session[_sessions.CHECKED_KEY] = time.time()
        # Read after the reload: a refresh elsewhere may have rotated it.
        return self._tokens.storage.get("refreshToken") or ""

    def _retry_later(self, what: str, key: str, error: ProviderError) -> bool:
        """Leave the session as it is until the next interval: the provider is unreachable."""
        logger.warning("Could not %s Logto user %s, retrying later: %s", what, self.sub, error)
        self._request.session[key] = time.time()
        return True
