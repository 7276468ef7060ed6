"""Internal: may change in any release.

The sign-in and sign-out steps that the views call.

Pending sign-ins are keyed by ``state`` (several tabs may sign in at once; each state
works once, for ``PENDING_TTL``). The SDK works on a buffer, never on the session, until
a sign-in has succeeded: its ``signIn()`` would wipe the current tokens, and a failed
callback must leave the session as it was.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from django.shortcuts import resolve_url
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth import _errors, _organizations, _sdk, _sessions, _tokens
from logto_auth._provider import provider, revoke, user_info
from logto_auth._tokens import unverified_claims
from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, SignInError
from logto_auth.storage import DictStorage, SessionStorage

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

PENDING_TTL = 600  # seconds a sign-in may take at the provider
PENDING_MAX = 8  # sign-ins pending at once in one session (tabs)
COOKIE_LIMIT = 4000  # bytes of a session cookie's value that every browser keeps


@dataclass
class SignInResult:
    claims: dict[str, Any]
    tokens: dict[str, str] = field(repr=False)
    supplement: dict[str, Any]
    next_url: str
    started_at: float  # a revocation from this time on ends the sign-in


def begin_sign_in(
    session: SessionBase,
    redirect_uri: str,
    next_url: str,
    *,
    interaction_mode: str | None = None,
    extra_params: dict[str, str] | None = None,
) -> str:
    """Record a pending sign-in keyed by its ``state`` and return the authorization URL."""
    buffer = DictStorage()
    url = _sdk.authorization_url(buffer, redirect_uri, interaction_mode)
    sdk_session = buffer.get("signInSession")
    assert sdk_session is not None
    nonce = secrets.token_urlsafe(24)
    state = json.loads(sdk_session)["state"]
    pending = _live_pending(session)
    pending[state] = {"sdk": sdk_session, "nonce": nonce, "next": next_url, "at": time.time()}
    # Keep the newest few so that a bot cannot grow the session without bound.
    newest = sorted(pending.items(), key=lambda kv: kv[1]["at"])[-PENDING_MAX:]
    session[_sessions.PENDING_KEY] = dict(newest)
    return f"{url}&{urllib.parse.urlencode({'nonce': nonce, **(extra_params or {})})}"


def _live_pending(session: SessionBase) -> dict[str, dict[str, Any]]:
    pending = session.get(_sessions.PENDING_KEY)
    if not isinstance(pending, dict):
        return {}
    oldest = time.time() - PENDING_TTL
    return {
        state: entry
        for state, entry in pending.items()
        if isinstance(entry, dict) and entry.get("at", 0) > oldest
    }


@sensitive_variables()
def finish_sign_in(session: SessionBase, callback_url: str) -> SignInResult:
    """Exchange the callback's code for tokens; nothing is stored in the session here.

    The pending sign-in is consumed first, so a callback can never be replayed.
    """
    started_at = time.time()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback_url).query)
    state = query.get("state", [""])[0]
    pending = _live_pending(session)
    entry = pending.pop(state, None) if state else None
    if entry is None:
        raise SignInError(
            _("This sign-in link has expired or was already used. Please sign in again.")
        )
    if pending:
        session[_sessions.PENDING_KEY] = pending
    else:
        session.pop(_sessions.PENDING_KEY, None)

    if "error" in query:
        error = query["error"][0]
        logger.info("Sign-in ended at the provider with error %r", error)
        raise _errors.provider_error(error, query.get("error_description", [""])[0])
    _check_issuer(query.get("iss", [None])[0])
    if not query.get("code"):
        # A broken or forged callback URL: the SDK would report it as the provider's fault.
        raise SignInError(
            _("This sign-in response carries no authorization code. Please sign in again.")
        )

    buffer = DictStorage({"signInSession": entry["sdk"]})
    _sdk.exchange_code(buffer, callback_url, entry["nonce"])
    id_token = buffer.get("idToken")
    assert id_token is not None

    def fetch() -> dict[str, Any]:
        access_token = _sdk.stored_access_token(buffer, "")
        return user_info(access_token, sub) if access_token else {}

    sub = str(unverified_claims(id_token)["sub"])
    merged, supplement = _tokens.complete(id_token, fetch_user_info=fetch)
    return SignInResult(merged, buffer.values, supplement, entry["next"], started_at)


def _check_issuer(iss: str | None) -> None:
    """Apply RFC 9207: the authorization response names the issuer that sent it."""
    supported = provider().metadata().get("authorization_response_iss_parameter_supported")
    if iss is None and not supported:
        return
    if iss != logto_settings.issuer:
        logger.warning("Callback issuer %r is not %r", iss, logto_settings.issuer)
        raise SignInError(
            _("This sign-in response does not come from the configured sign-in service.")
        )


def store_sign_in(request: HttpRequest, result: SignInResult) -> None:
    """Put a completed sign-in into the session (after ``login()`` rotated its key).

    The session is indexed under its Logto session and user, for back-channel logout, and
    gets its current organization (``_organizations.at_sign_in``). A
    back-channel logout or a webhook that ended them while the callback ran found nothing
    indexed to end: the sign-in is then undone, with a ``SignInError``.
    """
    session = request.session
    SessionStorage(session).update(result.tokens)
    _tokens.store(session, result.supplement)
    session[_sessions.CHECKED_KEY] = session[_sessions.SYNCED_KEY] = time.time()
    _sessions.remember(session, result.claims, result.started_at)
    # Checked after indexing, as end_sessions revokes before it reads the index: of the two,
    # whichever comes second sees the other.
    if _sessions.ended_since(result.claims, result.started_at):
        logger.info("A sign-in of Logto sub=%s was ended while it completed", result.claims["sub"])
        logout(request)
        raise SignInError(
            _("Your Logto session was ended while you signed in. Please sign in again.")
        )
    # The last organization the user chose in this browser, else their only one, else none.
    _organizations.send(_organizations.at_sign_in(request, result.claims))
    if isinstance(session, CookieSession):
        size = len(session.encode(dict(session.items())))
        if size > COOKIE_LIMIT:
            # Browsers drop such a cookie: the user would be signed out at once.
            logger.error(
                "The session cookie is %s bytes, over the %s that browsers keep: use "
                "database or cache sessions (SESSION_ENGINE).",
                size,
                COOKIE_LIMIT,
            )


@sensitive_variables()
def sign_out_url(session: SessionBase, post_logout_redirect_uri: str) -> str:
    """Forget the Logto tokens and return the provider's end-session URL.

    Without Logto tokens in the session there is no Logto session to end: return
    ``post_logout_redirect_uri`` itself, without a provider call.
    """
    storage = SessionStorage(session)
    id_token = storage.get("idToken")
    if id_token is None:
        return post_logout_redirect_uri
    refresh_token = storage.get("refreshToken")
    url = _sdk.end_session_url(storage, post_logout_redirect_uri)
    _sessions.forget(session)
    if refresh_token is not None:
        # It would outlive the end-session redirect (Logto keeps the grant).
        revoke(refresh_token)
    return f"{url}&{urllib.parse.urlencode({'id_token_hint': id_token})}"


def sign_out(request: HttpRequest) -> str:
    """End the Django session and the Logto one; return where to send the browser.

    The Django session ends even when the provider cannot be reached (the error says so).
    """
    target = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL or "/"))
    _sessions.revoke(request.session)  # a cookie session's signed-in cookie may come back
    try:
        url = sign_out_url(request.session, target)
    except LogtoError as error:
        logout(request)
        raise type(error)(
            _(
                "You are signed out of this site, but your Logto session could not be ended: "
                "%(error)s"
            ),
            error=error,
        ) from error
    logout(request)
    return url
