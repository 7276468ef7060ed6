"""Internal: may change in any release.

The only module that imports the ``logto`` SDK.

A client per call, on our storage, over the provider metadata that ``_provider.py``
caches (no discovery fetch per client). Every ID token is validated strictly before
anything is stored, and every SDK, HTTP, PyJWT and pydantic error becomes a ``LogtoError``
by one mapping (``_mapped_errors``).

The SDK's token and userinfo requests go through the process's kept connections
(``_PooledOidcCore`` over ``_http.send``: each within ``LOGTO['TIMEOUT']``, never retried,
``_http.py`` says why); what a refusal means is ``_errors.refusal_error``'s to say. So
nothing in the SDK's coroutines waits on an event loop: each runs to its end in the
calling thread (``_run``), with no loop, thread or HTTP session of its own; async code
runs it in a worker thread (``arefresh``). The session is loaded before the SDK runs
(``SessionStorage`` in sync code, ``aload`` in async code), so nothing inside its
coroutines touches the database.

The SDK is used through its public API (``signIn``, ``handleSignInCallback``,
``getAccessToken``, ``signOut``, ``getOidcCore``, ``OidcCore``) except for what
``SDK_PRIVATE`` lists; ``tests/test_sdk_contract.py`` pins each of those, and the shape of
the ``OidcCore`` methods overridden here (``SDK_OVERRIDDEN``), so that an SDK release
that changes one fails a named test rather than a sign-in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pydantic
from asgiref.sync import sync_to_async
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from logto import LogtoClient, LogtoConfig, LogtoException, Storage, UserInfoScope
from logto.LogtoClient import AccessToken, AccessTokenMap
from logto.models.oidc import OidcProviderMetadata
from logto.models.response import TokenResponse, UserInfoResponse
from logto.OidcCore import OidcCore
from logto.utilities import OrganizationUrnPrefix, buildOrganizationUrn, removeFalsyKeys

from logto_auth import _errors
from logto_auth._http import PROVIDER_FAILURES, map_error, send
from logto_auth._provider import provider
from logto_auth._tokens import validate_id_token
from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, ProviderError
from logto_auth.storage import DictStorage, SessionStorage

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator


logger = logging.getLogger(__name__)

Storage.register(DictStorage)
Storage.register(SessionStorage)

P = ParamSpec("P")
T = TypeVar("T")
#: The SDK's private members relied on here, and what of each.
SDK_PRIVATE = {
    "LogtoClient._handleTokenResponse": (
        "awaited as (resource, tokenResponse) by handleSignInCallback and getAccessToken "
        "after each token response, before anything is stored: overridden to validate "
        "the ID token strictly first"
    ),
    "storage key accessTokenMap": (
        "AccessTokenMap JSON ({x: {resource: {token, expiresAt}}}) that getAccessToken reads: "
        "written and read here without building a client"
    ),
}
#: The ``OidcCore`` methods ``_PooledOidcCore`` overrides, with the parameters the SDK calls
#: them with (``LogtoClient`` passes them by name).
SDK_OVERRIDDEN = {
    "OidcCore.fetchTokenByCode": (
        "clientId",
        "clientSecret",
        "redirectUri",
        "code",
        "codeVerifier",
    ),
    "OidcCore.fetchTokenByRefreshToken": ("clientId", "clientSecret", "refreshToken", "resource"),
    "OidcCore.fetchUserInfo": ("accessToken",),
}
# The SDK keeps an access token 60 s less than its lifetime, against clock skew.
ACCESS_TOKEN_MARGIN = 60


def organization_resource(organization_id: str) -> str:
    """The resource under which the SDK keeps an organization's token."""
    return str(buildOrganizationUrn(organization_id))


def _config() -> LogtoConfig:
    scopes: list[Any] = []
    # With LOGTO['ORGANIZATION_PERMISSIONS'], the organizations scope, which makes the SDK
    # ask for urn:logto:resource:organizations too, and those permissions.
    for scope in logto_settings.sign_in_scopes:
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


class _PooledOidcCore(OidcCore):  # type: ignore[misc]
    """``OidcCore`` whose requests go through the process's kept connections, in the
    calling thread: its coroutines never wait on a loop.

    The SDK's own open an ``aiohttp.ClientSession`` (and so a TCP and TLS connection) per
    request. These send the same requests and raise the same ``LogtoException`` (the
    response body) for anything but a 200, so that ``_mapped_errors`` maps alike.
    """

    async def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        status, answer = send(method, url, **kwargs)
        if status != 200:
            raise LogtoException(answer.decode("utf-8", "replace"))
        return json.loads(answer)

    @sensitive_variables()
    async def fetchTokenByCode(
        self,
        clientId: str,
        clientSecret: str | None,
        redirectUri: str,
        code: str,
        codeVerifier: str,
    ) -> TokenResponse:
        data = {
            "grant_type": "authorization_code",
            "client_id": clientId,
            "client_secret": clientSecret,
            "redirect_uri": redirectUri,
            "code": code,
            "code_verifier": codeVerifier,
        }
        return TokenResponse(**await self._send("POST", self.metadata.token_endpoint, data=data))

    @sensitive_variables()
    async def fetchTokenByRefreshToken(
        self,
        clientId: str,
        clientSecret: str | None,
        refreshToken: str,
        resource: str = "",
    ) -> TokenResponse:
        # An organization's "resource" is its URN: the SDK sends its id as organization_id.
        organization = resource.startswith(OrganizationUrnPrefix)
        data = removeFalsyKeys(
            {
                "grant_type": "refresh_token",
                "client_id": clientId,
                "client_secret": clientSecret,
                "refresh_token": refreshToken,
                "resource": None if organization else resource,
                "organization_id": resource[len(OrganizationUrnPrefix) :] if organization else None,
            }
        )
        return TokenResponse(**await self._send("POST", self.metadata.token_endpoint, data=data))

    @sensitive_variables()
    async def fetchUserInfo(self, accessToken: str) -> UserInfoResponse:
        headers = {"Authorization": f"Bearer {accessToken}"}
        endpoint = self.metadata.userinfo_endpoint
        return UserInfoResponse(**await self._send("GET", endpoint, headers=headers))


_core: tuple[dict[str, Any], OidcCore] | None = None


def _oidc_core() -> OidcCore:
    """Return an ``OidcCore`` over the cached metadata, building one only when it changes."""
    global _core
    metadata = provider().metadata()
    if _core is None or _core[0] is not metadata:
        try:
            _core = (metadata, _PooledOidcCore(OidcProviderMetadata(**metadata)))
        except pydantic.ValidationError as error:
            raise ProviderError(
                _("The sign-in service sent an incomplete discovery document.")
            ) from error
    return _core[1]


class _Client(LogtoClient):  # type: ignore[misc]
    """``LogtoClient`` that shares provider metadata and validates ID tokens strictly."""

    def __init__(self, storage: Any, nonce: str | None = None) -> None:
        super().__init__(_config(), storage)
        self.storage = storage
        self._core = _oidc_core()
        self._nonce = nonce

    async def getOidcCore(self) -> OidcCore:
        # The SDK would fetch discovery once per client: share the cached metadata.
        return self._core

    @sensitive_variables()
    async def _handleTokenResponse(self, resource: str, tokenResponse: TokenResponse) -> None:
        id_token = tokenResponse.id_token
        if id_token is None and self._nonce is not None:
            # The SDK would "succeed" without any identity at all.
            raise ProviderError(_("The sign-in service returned no ID token."))
        if id_token is not None:
            previous = self.storage.get("idToken") if self._nonce is None else None
            validate_id_token(id_token, nonce=self._nonce, replacing=previous)
            self.storage.set("idToken", id_token)
        if tokenResponse.refresh_token is not None:
            self.storage.set("refreshToken", tokenResponse.refresh_token)
        store_access_token(
            self.storage, resource, tokenResponse.access_token, tokenResponse.expires_in
        )


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turn what an SDK call raises into a ``LogtoError``, from sync and async code alike."""
    try:
        yield
    except LogtoException as error:
        # Its message is the body of the provider's refusal (``_PooledOidcCore``).
        logger.warning("Provider refused the request: %s", error)
        raise _errors.refusal_error(str(error)) from error
    except LogtoError:
        raise
    except PROVIDER_FAILURES as error:
        raise map_error(error) from error


def _run(call: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an SDK coroutine to its end in this thread, errors mapped.

    With ``_Client`` and ``_PooledOidcCore`` it awaits nothing that suspends (its I/O is
    ``_http.send``'s, in this thread); one that did would be an SDK release this module
    does not know (``tests/test_sdk_contract.py`` runs each call the site makes).
    """
    coroutine = call(*args, **kwargs)
    with _mapped_errors():
        try:
            coroutine.send(None)
        except StopIteration as finished:
            result: T = finished.value
            return result
    coroutine.close()
    raise RuntimeError(f"The logto SDK's {call.__qualname__} waited on an event loop.")


@sensitive_variables()
def authorization_url(storage: DictStorage, redirect_uri: str, interaction_mode: str | None) -> str:
    """Start a sign-in on ``storage``: return the URL and leave ``signInSession`` there."""
    url: str = _run(_Client(storage).signIn, redirect_uri, interaction_mode)
    return url


@sensitive_variables()
def exchange_code(storage: DictStorage, callback_url: str, nonce: str) -> None:
    """Exchange the callback's code; the validated tokens land in ``storage``."""
    _run(_Client(storage, nonce=nonce).handleSignInCallback, callback_url)


@sensitive_variables()
def refresh(storage: SessionStorage, resource: str) -> str | None:
    """Get a new access token for ``resource`` with the refresh token, even if one is stored."""
    _drop_access_token(storage, resource)
    token: str | None = _run(_Client(storage).getAccessToken, resource)
    return token


# From async code: in a worker thread (the request blocks it), not the database's thread
# (it needs no database: the session is loaded).
_refresh_in_a_thread = sync_to_async(refresh, thread_sensitive=False)


@sensitive_variables()
async def arefresh(storage: SessionStorage, resource: str) -> str | None:
    """Like ``refresh``, from async code."""
    token: str | None = await _refresh_in_a_thread(storage, resource)
    return token


def drop_organization_tokens(storage: SessionStorage) -> None:
    """Forget every organization token ``storage`` holds (the next read asks Logto)."""
    tokens = _access_tokens(storage)
    held = [resource for resource in tokens.x if resource.startswith(OrganizationUrnPrefix)]
    for resource in held:
        del tokens.x[resource]
    if held:
        storage.set("accessTokenMap", tokens.model_dump_json())


def _drop_access_token(storage: SessionStorage, resource: str) -> None:
    tokens = _access_tokens(storage)
    if tokens.x.pop(resource, None) is not None:
        storage.set("accessTokenMap", tokens.model_dump_json())


@sensitive_variables()
def end_session_url(storage: SessionStorage, post_logout_redirect_uri: str) -> str:
    """Return the provider's end-session URL (the SDK clears the tokens from ``storage``)."""
    url: str = _run(_Client(storage).signOut, post_logout_redirect_uri)
    return url


@sensitive_variables()
def stored_access_token(storage: Any, resource: str) -> str | None:
    """Return the unexpired access token for ``resource`` that ``storage`` holds.

    The SDK's own reader needs a whole client (settings, provider metadata): this runs on
    every ``get_access_token``, so it reads the SDK's storage format directly.
    """
    found = _access_tokens(storage).x.get(resource)
    return found.token if found is not None and found.expiresAt >= time.time() else None


@sensitive_variables()
def store_access_token(storage: Any, resource: str, token: str, expires_in: int) -> None:
    """Keep ``token`` for ``resource`` in ``storage`` where the SDK's ``getAccessToken``
    finds it, until ``ACCESS_TOKEN_MARGIN`` seconds before it expires."""
    tokens = _access_tokens(storage)
    expires_at = int(time.time()) + expires_in - ACCESS_TOKEN_MARGIN
    tokens.x[resource] = AccessToken(token=token, expiresAt=expires_at)
    storage.set("accessTokenMap", tokens.model_dump_json())


def _access_tokens(storage: Any) -> AccessTokenMap:
    try:
        return AccessTokenMap.model_validate_json(storage.get("accessTokenMap") or "")
    except pydantic.ValidationError:
        return AccessTokenMap(x={})
