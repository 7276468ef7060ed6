"""``request.logto``: the signed-in user's Logto side, read lazily from the session.

Token refresh, revalidation and the periodic sync all run under one lock-and-reload
helper (``_locked``): the per-session lock is taken, the session's Logto keys are read
again (another process may have refreshed or synced meanwhile, and rotated the refresh
token), the work runs, and the result is saved before the lock is released.
"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth import logout
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from logto_auth import claims, sdk, sessions
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.endpoints import refresh_token_is_active, user_info
from logto_auth.exceptions import InvalidGrant, InvalidToken, ProviderError, TokenExpired
from logto_auth.storage import SessionStorage
from logto_auth.tokens import unverified_claims

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LogtoContext:
    """``request.logto``: the signed-in user's Logto side, read lazily from the session."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._decoded: tuple[object, object, dict[str, Any]] = (None, None, {})

    @cached_property
    def _storage(self) -> SessionStorage:
        return SessionStorage(self._request.session)

    @property
    def id_token(self) -> str | None:
        return self._storage.get("idToken")

    @property
    def is_authenticated(self) -> bool:
        return self.id_token is not None

    @property
    def claims(self) -> dict[str, Any]:
        """The merged claims: the stored ID token's, completed from userinfo; ``{}`` if none."""
        token, supplement = self.id_token, self._request.session.get(sessions.CLAIMS_KEY)
        if self._decoded[:2] != (token, supplement):  # decoded once, also after a refresh
            self._decoded = (token, supplement, claims.read(self._request.session))
        return self._decoded[2]

    @property
    def sub(self) -> str | None:
        return self.claims.get("sub")

    @method_decorator(sensitive_variables())
    def get_access_token(self, resource: str = "") -> str | None:
        """Return an access token for ``resource``, refreshing it when expired.

        ``None`` when the user is not signed in with Logto. Raises ``TokenExpired`` (and
        ends the session, see ``LOGTO['END_SESSION_WITH_REFRESH_TOKEN']``) when the
        provider no longer honours the refresh token.
        """
        if not self.is_authenticated:
            return None
        token = sdk.stored_access_token(self._storage, resource)
        if token is not None:
            return token
        return self._locked(
            lambda: sdk.stored_access_token(self._storage, resource) or self._refresh(resource)
        )

    def get_access_token_claims(self, resource: str) -> dict[str, Any]:
        """Return the claims (``scope``, ``aud``, ...) of the JWT access token for ``resource``.

        The token came straight from the provider; it is decoded, not verified again.
        """
        token = self.get_access_token(resource)
        return unverified_claims(token) if token else {}

    def get_organization_token(self, organization_id: str) -> str | None:
        """Return an access token for a Logto organization, refreshing it when expired.

        A user who is not a member gets ``AccessDenied`` (403); the session goes on.
        """
        return self.get_access_token(sdk.organization_resource(organization_id))

    @method_decorator(sensitive_variables())
    def fetch_user_info(self) -> dict[str, Any]:
        """Fetch the userinfo endpoint: every claim, including Logto's extended ones.

        One provider call (two when the access token must be refreshed); not cached.
        """
        token = self.get_access_token()
        if token is None or self.sub is None:
            return {}
        return user_info(token, self.sub)

    def sync(self) -> None:
        """Bring tokens, claims and rights in line with Logto, once per ``SYNC_INTERVAL``.

        A provider that cannot be reached leaves the session and the rights as they are
        until the next interval; a grant the provider no longer honours (a user
        suspended or deleted in Logto) ends the session with ``TokenExpired``.
        """
        interval = logto_settings.sync_interval
        if (
            interval is None
            or not self.is_authenticated
            or not self._due(sessions.SYNCED_KEY, interval)
        ):
            return
        try:
            self._locked(lambda: self._sync_now(interval))
        except ProviderError as error:
            logger.warning(
                "Could not sync Logto user %s, retrying in %ss: %s", self.sub, interval, error
            )
            self._request.session[sessions.SYNCED_KEY] = time.time()

    def _sync_now(self, interval: float) -> None:
        if not self._due(sessions.SYNCED_KEY, interval):
            return  # another request synced while this one waited
        self._refresh("", user_info_too=True)
        self._request.session[sessions.SYNCED_KEY] = time.time()

    def revalidate(self) -> bool:
        """Ask the provider whether the refresh token lives, once per ``REVALIDATE_INTERVAL``.

        Return ``False`` (having ended the session) when it is gone or rejected. A
        provider that cannot be reached leaves the session as it is.
        """
        interval = logto_settings.revalidate_interval
        if (
            not interval
            or not self.is_authenticated
            or not self._due(sessions.CHECKED_KEY, interval)
        ):
            return True

        def check() -> bool:
            if not self._due(sessions.CHECKED_KEY, interval):
                return True  # another request checked while this one waited
            self._request.session[sessions.CHECKED_KEY] = time.time()
            # Read after the reload: a refresh elsewhere may have rotated it.
            refresh_token = self._storage.get("refreshToken")
            return refresh_token is not None and refresh_token_is_active(refresh_token)

        try:
            alive = self._locked(check)
        except ProviderError as error:
            logger.warning("Could not revalidate the Logto session: %s", error)
            self._request.session[sessions.CHECKED_KEY] = time.time()
            return True
        if not alive:
            self.end("the provider no longer honours the refresh token")
        return alive

    def end(self, reason: str) -> None:
        """Forget the Logto tokens and, by default, end the Django session too."""
        logger.info("Logto session ended for %s: %s", self.sub, reason)
        sessions.forget(self._request.session)
        if logto_settings.end_session_with_refresh_token:
            logout(self._request)

    def _due(self, key: str, interval: float) -> bool:
        at = self._request.session.get(key)
        return not isinstance(at, int | float) or time.time() - at >= interval

    def _locked(self, work: Callable[[], T]) -> T:
        """Run ``work`` under the session's refresh lock, on freshly read Logto keys."""
        session = self._request.session
        if session.session_key is None or isinstance(session, CookieSession):
            # A cookie is its own store: there is nothing to re-read or to lock.
            return work()
        with sessions.refresh_lock(session.session_key):
            sessions.reload(session)
            if not self.is_authenticated:
                self.end("the session was ended by another request")
                raise TokenExpired("Your session has ended. Please sign in again.")
            result = work()
            # Stored before the lock is released, so the next holder sees it.
            session.save()
        return result

    def _refresh(self, resource: str, *, user_info_too: bool = False) -> str | None:
        """Refresh the access token for ``resource``; apply a new ID token to the user.

        Only a grant the provider no longer honours ends the session: other refusals
        (not a member of an organization, an unknown resource) concern this request.
        """
        before = self.id_token
        try:
            token = sdk.refresh(self._storage, resource)
        except (InvalidGrant, InvalidToken) as error:
            self.end(str(error))
            raise TokenExpired("Your sign-in has expired. Please sign in again.") from error
        if self.id_token != before or user_info_too:
            self._apply_claims(user_info_too)
        return token

    def _apply_claims(self, fetch: bool) -> None:
        """Complete the new ID token's claims and bring the Django user in line with them."""
        id_token, session = self.id_token, self._request.session
        if id_token is None:
            return

        def fetch_user_info() -> dict[str, Any]:
            # The sync has just refreshed it (a refresh of another resource does not ask).
            token = sdk.stored_access_token(self._storage, "")
            return user_info(token, str(self.sub)) if token else {}

        merged, supplement = claims.complete(
            id_token, claims.stored_supplement(session), fetch_user_info if fetch else None
        )
        claims.store(session, supplement)
        user = getattr(self._request, "user", None)
        if user is None or not user.is_authenticated:
            return
        identity = getattr(user, "logto_identity", None)
        if getattr(identity, "sub", None) == merged["sub"]:
            logto_backend().sync_user(self._request, user, merged)
