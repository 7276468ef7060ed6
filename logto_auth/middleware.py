from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib.auth import logout
from django.core.exceptions import ImproperlyConfigured
from django.utils.deprecation import MiddlewareMixin

from logto_auth import sessions
from logto_auth.context import LogtoContext
from logto_auth.exceptions import LogtoError
from logto_auth.responses import error_response

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


class LogtoMiddleware(MiddlewareMixin):
    """Attach ``request.logto`` (read lazily: no work unless a view uses it).

    It also keeps the session in step with Logto: it ends a cookie session revoked by a
    back-channel logout (database and cache sessions are simply deleted by it), one whose
    refresh token the provider no longer honours when ``LOGTO['REVALIDATE_INTERVAL']`` is
    set, and once per ``LOGTO['SYNC_INTERVAL']`` brings the user's tokens, claims and
    rights in line with Logto. Every other request makes no provider call.

    A ``LogtoError`` raised by a view (say, a refresh token the provider no longer
    honours) becomes a readable error page with the right status instead of a 500.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not hasattr(request, "session"):
            raise ImproperlyConfigured(
                "LogtoMiddleware needs request.session: put "
                "'django.contrib.sessions.middleware.SessionMiddleware' before "
                "'logto_auth.middleware.LogtoMiddleware' in MIDDLEWARE."
            )
        logto = request.logto = LogtoContext(request)  # type: ignore[attr-defined]
        if sessions.is_revoked(request.session):
            logger.info("Ending a cookie session whose Logto session was logged out")
            logout(request)
            return None
        try:
            if logto.revalidate():
                logto.sync()
        except LogtoError as error:
            return error_response(request, error)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LogtoError):
            return error_response(request, exception)
        return None
