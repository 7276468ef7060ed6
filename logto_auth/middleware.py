"""``LogtoMiddleware``: ``request.logto`` on every request, the session kept in step with Logto."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.contrib.auth import alogout, logout
from django.core.exceptions import ImproperlyConfigured
from django.utils.deprecation import MiddlewareMixin

from logto_auth import _sessions
from logto_auth._context import LogtoContext
from logto_auth._errors import error_response
from logto_auth._organization_permissions import serving
from logto_auth.exceptions import LogtoError

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

__all__ = ["LogtoMiddleware"]

logger = logging.getLogger(__name__)

REVOKED = "Ending a cookie session whose Logto session was logged out"


class LogtoMiddleware(MiddlewareMixin):
    """Attach ``request.logto`` (read lazily: no work unless a view uses it).

    It also keeps the session in step with Logto: it ends a cookie session revoked by a
    back-channel logout (database and cache sessions are simply deleted by it), one whose
    refresh token the provider no longer honours when ``LOGTO['REVALIDATE_INTERVAL']`` is
    set, and once per ``LOGTO['SYNC_INTERVAL']`` brings the user's tokens, claims and
    rights in line with Logto. Every other request makes no provider call.

    A ``LogtoError`` raised by a view (say, a refresh token the provider no longer
    honours) becomes a readable error page with the right status instead of a 500.

    Sync and async capable: under ASGI it awaits the session, the cache, the refresh lock
    and the provider (``aprocess_request``) instead of taking a thread for them.

    While it serves a request, ``LogtoBackend.has_perm`` can answer organization
    permissions for that request's user (``user.has_perm("invite:member", organization)``).
    """

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if self.async_mode:
            return self.__acall__(request)  # type: ignore[return-value]
        with serving(request):
            return super().__call__(request)  # type: ignore[return-value]

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        logto = self._attach(request)
        if _sessions.is_revoked(request.session):
            logger.info(REVOKED)
            logout(request)
            return None
        try:
            if logto.revalidate():
                logto.refresh_from_logto()
        except LogtoError as error:
            return error_response(request, error)
        return None

    async def aprocess_request(self, request: HttpRequest) -> HttpResponse | None:
        """Like ``process_request``, under ASGI: the session, cache and lock awaited."""
        logto = self._attach(request)
        if await _sessions.ais_revoked(request.session):
            logger.info(REVOKED)
            await alogout(request)
            return None
        try:
            if await logto.arevalidate():
                await logto.arefresh_from_logto()
        except LogtoError as error:
            # Templates may read request.user (the ORM): rendered off the event loop.
            return await sync_to_async(error_response)(request, error)
        return None

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # MiddlewareMixin would run process_request in a thread; this awaits instead.
        with serving(request):
            response = await self.aprocess_request(request)
            return response or await self.get_response(request)  # type: ignore[misc]

    def _attach(self, request: HttpRequest) -> LogtoContext:
        if not hasattr(request, "session"):
            raise ImproperlyConfigured(
                "LogtoMiddleware needs request.session: put "
                "'django.contrib.sessions.middleware.SessionMiddleware' before "
                "'logto_auth.middleware.LogtoMiddleware' in MIDDLEWARE."
            )
        logto = request.logto = LogtoContext(request)  # type: ignore[attr-defined]
        return logto

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LogtoError):
            return error_response(request, exception)
        return None
