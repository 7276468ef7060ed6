from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.utils.deprecation import MiddlewareMixin

from logto_auth.client import LogtoContext
from logto_auth.exceptions import LogtoError
from logto_auth.views import error_response

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


class LogtoMiddleware(MiddlewareMixin):
    """Attach ``request.logto`` (read lazily: no work unless a view uses it).

    A ``LogtoError`` raised by a view (say, a refresh token the provider no longer
    honours) becomes a readable error page with the right status instead of a 500.
    """

    def process_request(self, request: HttpRequest) -> None:
        if not hasattr(request, "session"):
            raise ImproperlyConfigured(
                "LogtoMiddleware needs request.session: put "
                "'django.contrib.sessions.middleware.SessionMiddleware' before "
                "'logto_auth.middleware.LogtoMiddleware' in MIDDLEWARE."
            )
        request.logto = LogtoContext(request)  # type: ignore[attr-defined]

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LogtoError):
            return error_response(request, exception)
        return None
