"""What logto_auth answers when something fails: readable pages for people, JSON for Logto."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from logto_auth import explain
from logto_auth.exceptions import InvalidSignature, LogtoError, ProviderError

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


def shows_admin_hint(request: HttpRequest) -> bool:
    """Return whether this visitor may read the administrator's part of an error page.

    It names the site's configuration (the application, its resources, its callback), so
    only in development or to active staff; everyone else gets a reference to quote.
    """
    if settings.DEBUG:
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def error_response(request: HttpRequest, error: LogtoError) -> HttpResponse:
    """Render the readable error page for ``error`` with its HTTP status."""
    reference = secrets.token_hex(4)
    admin_hint = error.admin_hint.replace(
        explain.CALLBACK, request.build_absolute_uri(reverse("logto_auth:callback"))
    )
    # One line holds the reference and the whole explanation: the reference finds the fix.
    logger.warning(
        "%s %s: %s (%s) [reference %s]%s",
        request.method,
        request.path,
        error,
        type(error).__name__,
        reference,
        f" To fix: {admin_hint}" if admin_hint else "",
    )
    context = {
        "title": error.title,
        "message": str(error),
        "status": error.status,
        "code": error.code,
        "reference": reference,
        "admin_hint": admin_hint if shows_admin_hint(request) else "",
        # A cancelled sign-in is the user's choice: no alarm, a way back.
        "cancelled": error.code == "access_denied",
    }
    return render(request, "logto_auth/error.html", context, status=error.status)


def notification_response(
    request: HttpRequest, outcome: str | None, error: LogtoError | None, error_code: str
) -> JsonResponse:
    """Answer a server-to-server notification from Logto: its outcome, or why it was refused.

    Back-channel logout answers 400 to any bad token (OpenID BCL 1.0 section 2.8); a bad
    webhook signature answers 401, and an unreachable provider a 5xx, so that the sender
    retries.
    """
    if error is None:
        response = JsonResponse({"result": outcome})
    else:
        logger.warning("%s %s refused: %s", request.method, request.path, error)
        response = JsonResponse({"error": error_code, "error_description": str(error)})
        retry = isinstance(error, InvalidSignature | ProviderError)
        response.status_code = error.status if retry else 400
    response["Cache-Control"] = "no-store"
    return response
