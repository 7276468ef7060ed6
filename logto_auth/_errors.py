"""Internal: may change in any release.

What logto_auth answers when something fails: readable pages for people, JSON for Logto;
and what each error Logto reports means: a sentence for the user, the fix for the site
owner.

Most errors Logto sends back come from a misconfiguration (an API resource the tenant
lacks, a wrong secret, an unregistered URI), not from the user: the user gets a calm page
and a reference, and the site's administrator the setting to change, in the log line with
that reference (and on the page with DEBUG on or to staff: it names the configuration).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from logto_auth.conf import logto_settings
from logto_auth.exceptions import (
    AccessDenied,
    InvalidGrant,
    InvalidSignature,
    LogtoError,
    ProviderError,
    SignInError,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse
    from django.utils.functional import _StrOrPromise as StrOrPromise

    from logto_auth.exceptions import LogtoError

logger = logging.getLogger(__name__)


# The administrator's explanations are translated too (staff read them on the page); the
# log line that carries one is written in English (``error_response``).
CHECK = _("Run `python manage.py logto_check` to check every setting against the tenant.")
# The URL of this site's callback, filled in by the error page (below).
CALLBACK = "{callback}"


def _resources() -> str:
    found = list(dict.fromkeys(logto_settings.resources))
    return ", ".join(found) if found else str(_("(none)"))


def _hint(code: str, description: str) -> str:
    app = logto_settings.app_id
    hints = {
        "invalid_target": _(
            "Logto does not know an API resource this site asks for (LOGTO['RESOURCES']: "
            "%(resources)s). Create it in the Logto Console under API resources, with "
            "exactly that identifier, or remove it from LOGTO['RESOURCES']."
        ),
        "invalid_client": _(
            "Logto refused this site's application credentials: check that LOGTO['APP_ID'] "
            "(%(app)s) is a Traditional web application and copy its App secret from the "
            "Console into LOGTO['APP_SECRET']."
        ),
        "invalid_redirect_uri": _(
            "Add %(callback)s to the Redirect URIs of application %(app)s in the Logto "
            "Console (matched exactly: scheme, host, port and trailing slash)."
        ),
        "access_denied": _(
            "Logto answered access_denied: the user cancelled, or Logto does not let this "
            "user use the application (e.g. an organization or MFA requirement)."
        ),
        "consent_required": _(
            "Logto needs the user's consent but was asked to show no page (prompt=none). "
            "Keep LOGTO['PROMPT'] = 'consent' and sign in without prompt=none."
        ),
        "login_required": _(
            "Logto has no signed-in session for a silent sign-in (prompt=none): send the "
            "user to the sign-in view without prompt=none."
        ),
        "invalid_scope": _(
            "Logto does not know a scope this site asks for: check LOGTO['SCOPES'] "
            "(%(scopes)s) and the API resources' permissions."
        ),
    }
    params = {
        "resources": _resources(),
        "app": app,
        "callback": CALLBACK,
        "scopes": " ".join(logto_settings.scopes),
        "code": repr(code),
    }
    found = str(hints.get(code, _("Logto reported %(code)s."))) % params
    hint = f"{found} {CHECK}"
    if description:
        hint = _("Logto said: %(description)s. %(hint)s") % {
            "description": description,
            "hint": hint,
        }
    return hint


# Translated when shown, in the language then active (the page's, or English in the log).
_lazy_hint = lazy(_hint, str)


# Error code -> (exception class, title, what the user reads).
PAGES: dict[str, tuple[type[LogtoError], StrOrPromise, StrOrPromise]] = {
    "access_denied": (
        SignInError,
        _("Sign-in cancelled"),
        _(
            "Sign-in was cancelled, so nothing has changed. You can go back to the site or "
            "try again."
        ),
    ),
    "consent_required": (
        SignInError,
        _("Your consent is needed"),
        _(
            "The sign-in service needs you to confirm what this site may access. Please sign "
            "in again."
        ),
    ),
    "login_required": (
        SignInError,
        _("Please sign in"),
        _("You are not signed in at the sign-in service any more. Please sign in again."),
    ),
    "invalid_client": (
        ProviderError,
        _("This site's sign-in is misconfigured"),
        _(
            "The sign-in service does not recognise this site. The site's administrator has "
            "been told how to fix it; please try again later."
        ),
    ),
}
MISCONFIGURED = (
    SignInError,
    _("This site's sign-in is misconfigured"),
    _(
        "The sign-in service refused this site's request, so you could not be signed in. It "
        "is not something you did: the site's administrator has to fix a setting."
    ),
)


def provider_error(code: str, description: str = "") -> LogtoError:
    """Return the error to show for ``code``, reported by Logto at the callback or a token
    request; its ``admin_hint`` names the fix."""
    cls, title, message = PAGES.get(code, MISCONFIGURED)
    if code in PAGES:
        error = cls(message)
    else:
        error = cls(_("%(message)s (error: %(code)s)"), message=message, code=code)
    error.title = title
    error.code = code
    error.admin_hint = _lazy_hint(code, description)
    return error


# OAuth errors of the token endpoint that concern this user's request, not our setup.
REQUEST_ERRORS = ("invalid_request", "invalid_target")


def refusal_error(body: str) -> LogtoError:
    """Return the error for the provider's refusal of a token request, by the OAuth
    ``error`` code of its JSON ``body``."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    code = answer.get("error") if isinstance(answer, dict) else None
    if code == "invalid_grant":
        return InvalidGrant(_("The sign-in service no longer honours this sign-in."))
    if code == "access_denied":
        return AccessDenied(_("The sign-in service refused access (%(code)s)."), code=code)
    if code in REQUEST_ERRORS or code == "invalid_client":
        # A setting to fix (a resource the tenant lacks, a wrong secret): say which.
        return provider_error(code)
    return ProviderError(_("The sign-in service refused the request."))


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
    callback = request.build_absolute_uri(reverse("logto_auth:callback"))

    def admin_hint() -> str:
        return str(error.admin_hint).replace(CALLBACK, callback)

    # One line holds the reference and the whole explanation: the reference finds the fix.
    # Log lines are in English whatever the visitor's language: the lazy messages are
    # rendered here under English (LogtoError fills its placeholders only when read).
    with translation.override("en"):
        english_hint = admin_hint()
        logger.warning(
            "%s %s: %s (%s) [reference %s]%s",
            request.method,
            request.path,
            error,
            type(error).__name__,
            reference,
            f" To fix: {english_hint}" if english_hint else "",
        )
    context = {
        "title": error.title,
        "message": str(error),
        "status": error.status,
        "code": error.code,
        "reference": reference,
        "admin_hint": admin_hint() if shows_admin_hint(request) else "",
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
        # Logto reads these, not a person: the log line and the answer are in English.
        with translation.override("en"):
            logger.warning("%s %s refused: %s", request.method, request.path, error)
            response = JsonResponse({"error": error_code, "error_description": str(error)})
        retry = isinstance(error, InvalidSignature | ProviderError)
        response.status_code = error.status if retry else 400
    response["Cache-Control"] = "no-store"
    return response
