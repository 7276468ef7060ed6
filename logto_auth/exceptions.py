"""Errors raised by logto_auth, each knowing the HTTP status it deserves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

__all__ = [
    "AccessDenied",
    "InvalidGrant",
    "InvalidSignature",
    "InvalidToken",
    "LogtoError",
    "ProviderError",
    "ProviderUnavailable",
    "SignInError",
    "TokenExpired",
]


class LogtoError(Exception):
    """Base class: ``str(error)`` is safe to show to the user, in the active language.

    The message may be a lazy translation with ``%(name)s`` placeholders, filled from
    ``params`` each time it is read: the page shows it in the visitor's language, and the
    log line, written under English, in English.
    """

    status = 400
    """The HTTP status of the error page or JSON answer."""
    title: StrOrPromise = _("Sign-in failed")
    """The heading of the error page."""
    code = ""
    """The OAuth error code the provider reported, if any."""
    admin_hint: StrOrPromise = ""
    """The fix, for the site's administrator: always logged, shown only to staff or with DEBUG."""

    def __init__(self, message: StrOrPromise = "", /, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def __str__(self) -> str:
        message = str(self.message)
        return message % self.params if self.params else message


class SignInError(LogtoError):
    """The browser brought back a callback we cannot accept (state, error, replay)."""


class InvalidGrant(SignInError):
    """The provider no longer honours the grant: a used code, or a refresh token that was
    revoked, expired, or belongs to a suspended or deleted user."""


class ProviderError(LogtoError):
    """The provider answered, but not with something we can accept."""

    status = 502
    title = _("The sign-in service gave an unexpected answer")


class ProviderUnavailable(ProviderError):
    """The provider could not be reached in time."""

    status = 503
    title = _("The sign-in service is unavailable")


class InvalidToken(LogtoError):
    """A JWT failed validation (signature, issuer, audience, times, claims)."""

    status = 401
    title = _("Invalid token")


class TokenExpired(LogtoError):
    """The Logto session can no longer be refreshed; the user must sign in again."""

    status = 401
    title = _("Your sign-in has expired")


class AccessDenied(LogtoError):
    """The Logto user is known to the provider but may not sign in to this site."""

    status = 403
    title = _("Access denied")


class InvalidSignature(LogtoError):
    """A webhook whose signature is missing or wrong."""

    status = 401
    title = _("Invalid signature")
