"""The only module that imports the ``logto`` SDK.

It builds a client per request on our storage, reuses the provider metadata cached by
``tokens.py`` (so no discovery fetch per client), validates every ID token strictly
before anything is stored, bounds each provider call with ``LOGTO['TIMEOUT']`` and maps
every SDK, aiohttp, PyJWT and pydantic error to a ``LogtoError`` with an HTTP status.
The SDK's coroutines run through ``async_to_sync``; the session is loaded before that,
so nothing inside them touches the database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import aiohttp
import jwt
import pydantic
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import logout
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession
from logto import LogtoClient, LogtoConfig, LogtoException, Storage, UserInfoScope
from logto.LogtoClient import AccessTokenMap
from logto.models.oidc import OidcProviderMetadata
from logto.OidcCore import OidcCore
from logto.utilities import buildOrganizationUrn

from logto_auth import sessions
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import (
    InvalidToken,
    LogtoError,
    ProviderError,
    ProviderUnavailable,
    SignInError,
    TokenExpired,
)
from logto_auth.storage import DictStorage, SessionStorage
from logto_auth.tokens import fetch_json, provider, validate_id_token

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest
    from logto.models.response import TokenResponse

logger = logging.getLogger(__name__)

Storage.register(DictStorage)
Storage.register(SessionStorage)

PENDING_KEY = "_logto_pending"
PENDING_TTL = 600  # seconds a sign-in may take at the provider
PENDING_MAX = 8  # sign-ins pending at once in one session (tabs)
COOKIE_LIMIT = 4000  # bytes of a session cookie's value that every browser keeps
EXTENDED_CLAIMS = ("roles", "organizations", "organization_roles")
OAUTH_USER_ERRORS = ("invalid_grant", "invalid_request", "access_denied")
CHECKED_KEY = "_logto_checked_at"  # when the Logto session was last known to be alive

P = ParamSpec("P")
T = TypeVar("T")


def _config() -> LogtoConfig:
    scopes: list[Any] = []
    for scope in logto_settings.scopes:
        # The SDK recognises the organizations scope only as its enum member.
        try:
            scopes.append(UserInfoScope(scope))
        except ValueError:
            scopes.append(scope)
    return LogtoConfig(
        endpoint=logto_settings.endpoint,
        appId=logto_settings.app_id,
        appSecret=logto_settings.app_secret,
        prompt=logto_settings.prompt,
        resources=logto_settings.resources,
        scopes=scopes,
    )


_core: tuple[dict[str, Any], OidcCore] | None = None


def _oidc_core() -> OidcCore:
    """Return an ``OidcCore`` over the cached metadata, building one only when it changes."""
    global _core
    metadata = provider().metadata()
    if _core is None or _core[0] is not metadata:
        try:
            _core = (metadata, OidcCore(OidcProviderMetadata(**metadata)))
        except pydantic.ValidationError as error:
            raise ProviderError(
                "The sign-in service sent an incomplete discovery document."
            ) from error
    return _core[1]


class _Client(LogtoClient):  # type: ignore[misc]
    """``LogtoClient`` that shares provider metadata and validates ID tokens strictly."""

    def __init__(self, storage: Any, nonce: str | None = None) -> None:
        super().__init__(_config(), storage)
        self._oidcCore = _oidc_core()
        self._nonce = nonce

    async def _handleTokenResponse(self, resource: str, tokenResponse: TokenResponse) -> None:
        id_token = tokenResponse.id_token
        if id_token is None and self._nonce is not None:
            # The SDK would "succeed" without any identity at all.
            raise ProviderError("The sign-in service returned no ID token.")
        if id_token is not None:
            claims = await sync_to_async(validate_id_token)(id_token, nonce=self._nonce)
            previous = self._storage.get("idToken")
            if previous is not None and self._nonce is None:
                before = _unverified(previous)
                changed = [
                    name for name in ("iss", "sub", "aud") if before.get(name) != claims[name]
                ]
                if changed:
                    raise InvalidToken(f"The refreshed ID token has another {', '.join(changed)}.")
            self._storage.set("idToken", id_token)
        if tokenResponse.refresh_token is not None:
            self._storage.set("refreshToken", tokenResponse.refresh_token)
        self._setAccessToken(resource, tokenResponse.access_token, tokenResponse.expires_in)


def _oauth_error(error: LogtoException) -> str | None:
    """Return the OAuth ``error`` code inside an SDK exception carrying a response body."""
    try:
        body = json.loads(str(error))
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _run(call: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an SDK coroutine from sync code, bounded by the timeout, errors mapped."""
    timeout = logto_settings.timeout

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await call(*args, **kwargs)

    try:
        return async_to_sync(bounded)()
    except LogtoError:
        raise
    except TimeoutError as error:
        logger.warning("Provider call timed out after %ss", timeout)
        raise ProviderUnavailable("The sign-in service did not answer in time.") from error
    except aiohttp.ClientConnectionError as error:
        logger.warning("Provider unreachable: %s", error)
        raise ProviderUnavailable("The sign-in service could not be reached.") from error
    except LogtoException as error:
        code = _oauth_error(error)
        logger.warning("Provider refused the request: %s", error)
        if code in OAUTH_USER_ERRORS:
            raise SignInError(f"The sign-in service refused the request ({code}).") from error
        raise ProviderError("The sign-in service refused the request.") from error
    except (aiohttp.ClientError, pydantic.ValidationError, jwt.PyJWTError, ValueError) as error:
        logger.warning("Unexpected answer from the provider: %r", error)
        raise ProviderError("The sign-in service sent an unexpected answer.") from error


@dataclass
class SignInResult:
    claims: dict[str, Any]
    tokens: dict[str, str]
    next_url: str


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
    # A buffer, not the session: the SDK's signIn() deletes the current tokens, and the
    # user stays signed in until this new sign-in actually completes.
    url = _run(_Client(buffer).signIn, redirect_uri, interaction_mode)
    sdk_session = buffer.get("signInSession")
    assert sdk_session is not None
    nonce = secrets.token_urlsafe(24)
    state = json.loads(sdk_session)["state"]
    pending = _live_pending(session)
    pending[state] = {"sdk": sdk_session, "nonce": nonce, "next": next_url, "at": time.time()}
    # Keep the newest few so that a bot cannot grow the session without bound.
    session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-PENDING_MAX:])
    return f"{url}&{urllib.parse.urlencode({'nonce': nonce, **(extra_params or {})})}"


def _live_pending(session: SessionBase) -> dict[str, dict[str, Any]]:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return {}
    oldest = time.time() - PENDING_TTL
    return {state: entry for state, entry in pending.items() if entry.get("at", 0) > oldest}


def finish_sign_in(session: SessionBase, callback_url: str) -> SignInResult:
    """Exchange the callback's code for tokens; nothing is stored in the session here.

    The pending sign-in is consumed first, so a callback can never be replayed.
    """
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback_url).query)
    state = query.get("state", [""])[0]
    pending = _live_pending(session)
    entry = pending.pop(state, None) if state else None
    if entry is None:
        raise SignInError(
            "This sign-in link has expired or was already used. Please sign in again."
        )
    if pending:
        session[PENDING_KEY] = pending
    else:
        session.pop(PENDING_KEY, None)

    if "error" in query:
        error = query["error"][0]
        logger.info("Sign-in ended at the provider with error %r", error)
        if error == "access_denied":
            raise SignInError("Sign-in was cancelled.")
        raise SignInError(f"The sign-in service reported an error ({error}).")
    _check_issuer(query.get("iss", [None])[0])

    buffer = DictStorage({"signInSession": entry["sdk"]})
    _run(_Client(buffer, nonce=entry["nonce"]).handleSignInCallback, callback_url)
    id_token = buffer.get("idToken")
    assert id_token is not None
    claims = _with_extended_claims(_unverified(id_token), buffer)
    return SignInResult(claims=claims, tokens=buffer.values, next_url=entry["next"])


def _stored_access_token(storage: Any, resource: str) -> str | None:
    """Return the unexpired access token for ``resource`` that ``storage`` holds.

    The SDK's own reader needs a whole client (settings, provider metadata): this runs on
    every ``get_access_token``, so it reads the SDK's storage format directly.
    """
    try:
        tokens = AccessTokenMap.model_validate_json(storage.get("accessTokenMap") or "")
    except pydantic.ValidationError:
        return None
    found = tokens.x.get(resource)
    return found.token if found is not None and found.expiresAt >= time.time() else None


def _unverified(token: str) -> dict[str, Any]:
    """Decode a token validated when it was received."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _user_info(access_token: str, sub: str) -> dict[str, Any]:
    endpoint = provider().metadata()["userinfo_endpoint"]
    info = fetch_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise ProviderError("The sign-in service sent userinfo for another user.")
    return info


def _with_extended_claims(claims: dict[str, Any], storage: Any) -> dict[str, Any]:
    """Add ``roles`` and organization claims from userinfo when the ID token lacks them.

    Logto puts them in ID tokens only where the tenant enables it; its userinfo endpoint
    always answers them. One provider call, and only then.
    """
    if "roles" in claims or "roles" not in logto_settings.scopes:
        return claims
    token = _stored_access_token(storage, "")
    if token is None:
        return claims
    info = _user_info(token, claims["sub"])
    return {**claims, **{name: info[name] for name in EXTENDED_CLAIMS if name in info}}


def _check_issuer(iss: str | None) -> None:
    """Apply RFC 9207: the authorization response names the issuer that sent it."""
    supported = provider().metadata().get("authorization_response_iss_parameter_supported")
    if iss is None and not supported:
        return
    if iss != logto_settings.issuer:
        logger.warning("Callback issuer %r is not %r", iss, logto_settings.issuer)
        raise SignInError(
            "This sign-in response does not come from the configured sign-in service."
        )


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
    url = _run(_Client(storage).signOut, post_logout_redirect_uri)
    if refresh_token is not None:
        # It would outlive the end-session redirect (Logto keeps the grant).
        _revoke(refresh_token)
    return f"{url}&{urllib.parse.urlencode({'id_token_hint': id_token})}"


def _client_auth() -> dict[str, str]:
    """The ``Authorization`` header of client_secret_basic (RFC 6749 section 2.3.1)."""
    pair = ":".join(
        urllib.parse.quote(v, safe="") for v in (logto_settings.app_id, logto_settings.app_secret)
    )
    return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}


def _revoke(refresh_token: str) -> None:
    """Revoke ``refresh_token`` at the provider; a failure is logged, never raised."""
    try:
        endpoint = provider().metadata().get("revocation_endpoint")
        if isinstance(endpoint, str):
            data = {"token": refresh_token, "token_type_hint": "refresh_token"}
            fetch_json(endpoint, data=data, headers=_client_auth(), expect_json=False)
    except LogtoError as error:
        logger.warning("Could not revoke the refresh token at sign-out: %s", error)


def _refresh_token_is_active(refresh_token: str) -> bool:
    """Ask the provider's introspection endpoint whether ``refresh_token`` is still honoured."""
    endpoint = provider().metadata().get("introspection_endpoint")
    if not isinstance(endpoint, str):
        raise ProviderError("The sign-in service has no introspection endpoint.")
    data = {"token": refresh_token, "token_type_hint": "refresh_token"}
    answer = fetch_json(endpoint, data=data, headers=_client_auth())
    return isinstance(answer, dict) and answer.get("active") is True


def store_tokens(session: SessionBase, tokens: dict[str, str]) -> None:
    """Put the tokens of a completed sign-in into the session (after ``login()``).

    The session is indexed under its Logto session and user, for back-channel logout.
    """
    SessionStorage(session).update(tokens)
    claims = _unverified(tokens["idToken"])
    session[CHECKED_KEY] = time.time()
    sessions.remember(session, claims)
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


class LogtoContext:
    """``request.logto``: the signed-in user's Logto side, read lazily from the session."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._decoded: tuple[str | None, dict[str, Any]] = (None, {})

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
        """The claims of the stored ID token (validated when it was stored); ``{}`` if none."""
        token = self.id_token
        if self._decoded[0] != token:  # decoded once per token, also after a refresh
            self._decoded = (token, _unverified(token) if token is not None else {})
        return self._decoded[1]

    @property
    def sub(self) -> str | None:
        return self.claims.get("sub")

    def get_access_token(self, resource: str = "") -> str | None:
        """Return an access token for ``resource``, refreshing it when expired.

        ``None`` when the user is not signed in with Logto. Raises ``TokenExpired`` (and
        ends the session, see ``LOGTO['END_SESSION_WITH_REFRESH_TOKEN']``) when the
        provider no longer honours the refresh token.
        """
        if not self.is_authenticated:
            return None
        token = _stored_access_token(self._storage, resource)
        if token is not None:
            return token
        session = self._request.session
        if session.session_key is None or isinstance(session, CookieSession):
            # A cookie is its own store: there is nothing to re-read or to lock.
            return self._refresh(resource)
        with sessions.refresh_lock(session.session_key):
            # Another process may have refreshed while this one waited: its rotated
            # refresh token is in the store, and ours is already consumed.
            self._storage.reload()
            if not self.is_authenticated:
                self.end("the session was ended by another request")
                raise TokenExpired("Your session has ended. Please sign in again.")
            token = _stored_access_token(self._storage, resource)
            if token is None:
                token = self._refresh(resource)
                # Stored before the lock is released, so the next holder sees it.
                session.save()
        return token

    def get_access_token_claims(self, resource: str) -> dict[str, Any]:
        """Return the claims (``scope``, ``aud``, ...) of the JWT access token for ``resource``.

        The token came straight from the provider; it is decoded, not verified again.
        """
        token = self.get_access_token(resource)
        return _unverified(token) if token else {}

    def get_organization_token(self, organization_id: str) -> str | None:
        """Return an access token for a Logto organization, refreshing it when expired."""
        return self.get_access_token(buildOrganizationUrn(organization_id))

    def fetch_user_info(self) -> dict[str, Any]:
        """Fetch the userinfo endpoint: every claim, including Logto's extended ones.

        One provider call (two when the access token must be refreshed); not cached.
        The SDK's own ``fetchUserInfo`` drops the claims its model does not name
        (``roles``, ``organization_data``), so the request is made here.
        """
        token = self.get_access_token()
        if token is None or self.sub is None:
            return {}
        return _user_info(token, self.sub)

    def _refresh(self, resource: str) -> str | None:
        before = self.id_token
        try:
            token: str | None = _run(_Client(self._storage).getAccessToken, resource)
        except (SignInError, InvalidToken) as error:
            self.end(str(error))
            raise TokenExpired("Your sign-in has expired. Please sign in again.") from error
        if self.id_token != before:
            self._sync_user()
        return token

    def _sync_user(self) -> None:
        """Apply a refreshed ID token to the Django user, so that rights follow Logto."""
        user = getattr(self._request, "user", None)
        if user is None or not user.is_authenticated or not self.id_token:
            return
        claims = _with_extended_claims(self.claims, self._storage)
        if getattr(getattr(user, "logto_identity", None), "sub", None) == claims["sub"]:
            logto_backend().sync_user(self._request, user, claims)

    def end(self, reason: str) -> None:
        """Forget the Logto tokens and, by default, end the Django session too."""
        logger.info("Logto session ended for %s: %s", self.sub, reason)
        self._storage.clear()
        if logto_settings.end_session_with_refresh_token:
            logout(self._request)

    def revalidate(self) -> bool:
        """Ask the provider whether the Logto session lives, at most once per interval.

        Return ``False`` (having ended it) when the refresh token is gone or rejected.
        A provider that cannot be reached leaves the session as it is.
        """
        interval = logto_settings.revalidate_interval
        session = self._request.session
        if not interval or not self.is_authenticated:
            return True
        checked = session.get(CHECKED_KEY)
        if isinstance(checked, int | float) and time.time() - checked < interval:
            return True
        session[CHECKED_KEY] = time.time()
        refresh_token = self._storage.get("refreshToken")
        try:
            alive = refresh_token is not None and _refresh_token_is_active(refresh_token)
        except LogtoError as error:
            logger.warning("Could not revalidate the Logto session: %s", error)
            return True
        if not alive:
            self.end("the provider no longer honours the refresh token")
        return alive
