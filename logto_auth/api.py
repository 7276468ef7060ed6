"""Protect an API with Logto access tokens (RFC 6750 bearer tokens, RFC 9068 JWTs).

One validator (``validate_access_token``) serves the view decorator, the class-based
view mixin and the DRF classes in ``logto_auth.drf``. Tokens are checked locally with
the keys ``tokens.py`` caches (no provider call per request), and a verified token is
remembered until it expires, so a client repeating its token pays the signature check
once. Errors answer as RFC 6750 says, without details that would help an attacker.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.csrf import csrf_exempt

from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken, LogtoError
from logto_auth.models import LogtoIdentity
from logto_auth.tokens import validate_jwt

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

logger = logging.getLogger(__name__)

ORGANIZATION_AUDIENCE = "urn:logto:organization:"
#: The URL keyword argument naming the organization a view acts on.
ORGANIZATION_KWARG = "organization_id"
# RFC 6750 section 2.1: b64token.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Servers join repeated headers with a comma: a second Bearer credential shows up so.
SECOND_BEARER = re.compile(r",\s*bearer(\s|$)", re.IGNORECASE)


class BearerError(Exception):
    """An RFC 6750 refusal: HTTP status, ``error`` code, the scopes a 403 asks for."""

    def __init__(
        self,
        status: int,
        error: str | None = None,
        description: str = "",
        scope: Iterable[str] = (),
    ) -> None:
        super().__init__(description or error or "unauthorized")
        self.status = status
        self.error = error
        self.description = description
        self.scope = tuple(scope)

    def www_authenticate(self) -> str:
        # RFC 6750 section 3.1: no error information for a request without credentials.
        if not self.error:
            return "Bearer"
        params = [f'error="{self.error}"', f'error_description="{self.description}"']
        if self.scope:
            params.append(f'scope="{" ".join(self.scope)}"')
        return f"Bearer {', '.join(params)}"

    def as_dict(self) -> dict[str, str]:
        body = {"error": self.error or "unauthorized", "error_description": str(self)}
        if self.scope:
            body["scope"] = " ".join(self.scope)
        return body

    def response(self) -> JsonResponse:
        response = JsonResponse(self.as_dict(), status=self.status)
        response["WWW-Authenticate"] = self.www_authenticate()
        response["Cache-Control"] = "no-store"
        return response


NO_TOKEN = "A Logto access token is required."
INVALID_TOKEN = "The access token is invalid or expired."


def _invalid_request(description: str) -> BearerError:
    return BearerError(400, "invalid_request", description)


def _invalid_token() -> BearerError:
    return BearerError(401, "invalid_token", INVALID_TOKEN)


@dataclass(frozen=True)
class LogtoToken:
    """A validated Logto access token: ``request.logto`` (and DRF's ``request.auth``)."""

    token: str
    claims: dict[str, Any]

    is_authenticated = True

    @property
    def token_claims(self) -> dict[str, Any]:
        return self.claims

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str | None:
        value = self.claims.get("client_id")
        return value if isinstance(value, str) else None

    @property
    def audience(self) -> str:
        return str(self.claims["aud"])

    @property
    def scopes(self) -> frozenset[str]:
        value = self.claims.get("scope")
        return frozenset(value.split()) if isinstance(value, str) else frozenset()

    @property
    def organization_id(self) -> str | None:
        """The organization of an organization token, or of an organization API token."""
        if self.audience.startswith(ORGANIZATION_AUDIENCE):
            return self.audience.removeprefix(ORGANIZATION_AUDIENCE)
        value = self.claims.get("organization_id")
        return value if isinstance(value, str) and value else None

    @property
    def is_machine(self) -> bool:
        """A machine-to-machine token (client credentials): no user behind it."""
        return self.client_id is not None and self.sub == self.client_id


class VerifiedTokens:
    """Verified token claims by token, least recently used first out, kept until ``exp``."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            claims = self._entries.get(key)
            if claims is None:
                return None
            if claims["exp"] + logto_settings.leeway <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return claims

    def put(self, key: tuple[str, str], claims: dict[str, Any]) -> None:
        size = logto_settings.api_token_cache_size
        with self._lock:
            self._entries[key] = claims
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


verified_tokens = VerifiedTokens()


class _Audiences(Container[str]):
    """The audiences a view accepts: its API resources, and organizations if it wants them."""

    def __init__(self, resources: tuple[str, ...], organizations: bool) -> None:
        self.resources = resources
        self.organizations = organizations

    def __contains__(self, value: object) -> bool:
        if value in self.resources:
            return True
        return self.organizations and str(value).startswith(ORGANIZATION_AUDIENCE)


def _resources(resource: str | Iterable[str] | None) -> tuple[str, ...]:
    if resource is None:
        found = tuple(logto_settings.api_resources)
        if not found:
            raise ImproperlyConfigured(
                "Set LOGTO['API_RESOURCES'] to the resource indicator(s) of your API, or "
                "pass resource= to the view protection."
            )
        return found
    return (resource,) if isinstance(resource, str) else tuple(resource)


def bearer_token(request: HttpRequest) -> str | None:
    """Return the request's bearer token; ``None`` when it sends no Bearer credentials.

    Raise ``BearerError`` (400 ``invalid_request``) for a malformed ``Authorization``
    header, two of them, or a token in the query string as well.
    """
    header: str | None = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        if "access_token" in request.GET:
            # RFC 6750 section 2.3 allows it; URLs end up in logs, so we do not.
            raise _invalid_request("Send the access token in the Authorization header.")
        return None
    scheme, _, value = header.partition(" ")
    if SECOND_BEARER.search(header):
        raise _invalid_request("Send one Authorization header.")
    if scheme.lower() != "bearer":
        return None
    if not B64TOKEN.fullmatch(value) or "access_token" in request.GET:
        raise _invalid_request("The Authorization header is malformed.")
    return value


def validate_access_token(
    token: str, *, resource: str | Iterable[str] | None = None, organization: bool = False
) -> LogtoToken:
    """Return the validated ``token`` for this API; ``BearerError`` (401) if it is not one.

    The token must be a Logto JWT access token (``typ: at+jwt``) whose ``aud`` is one of
    ``resource`` (default ``LOGTO['API_RESOURCES']``). With ``organization``, it must be for
    an organization: an organization token (``aud`` ``urn:logto:organization:<id>``) or an
    API token with an ``organization_id`` claim; without, tokens carrying an organization
    are refused, since their scopes hold only within that organization.
    """
    audiences = _Audiences(_resources(resource), organization)
    key = (logto_settings.issuer, token)
    claims = verified_tokens.get(key)
    if claims is None:
        try:
            claims = validate_jwt(token, audience=audiences, typ="at+jwt")
        except InvalidToken as error:
            logger.info("Refused an access token: %s", error)
            raise _invalid_token() from error
        verified_tokens.put(key, claims)
    elif claims["aud"] not in audiences:
        logger.info("Refused an access token: meant for another audience")
        raise _invalid_token()
    found = LogtoToken(token, claims)
    if (found.organization_id is not None) != organization:
        logger.info("Refused an access token: organization %r", found.organization_id)
        raise _invalid_token()
    return found


def check_scopes(token: LogtoToken, required: Iterable[str]) -> None:
    """Raise ``BearerError`` (403 ``insufficient_scope``) unless ``token`` has every scope."""
    wanted = tuple(required)
    missing = [scope for scope in wanted if scope not in token.scopes]
    if missing:
        raise BearerError(403, "insufficient_scope", f"Missing scope: {' '.join(missing)}", wanted)


def check_organization(token: LogtoToken, organization_id: str | None) -> None:
    """Raise ``BearerError`` (403) unless ``token`` is for ``organization_id`` (if given)."""
    if token.organization_id is None or (
        organization_id is not None and token.organization_id != organization_id
    ):
        raise BearerError(403, "insufficient_scope", "The token is for another organization.")


def user_for(token: LogtoToken, *, create: bool = False) -> AbstractBaseUser | AnonymousUser:
    """Return the active Django user linked to the token's ``sub``, else ``AnonymousUser``.

    With ``create``, a user is created for an unknown ``sub`` (by the configured
    ``LogtoBackend``); machine-to-machine tokens never have a user.
    """
    if token.is_machine:
        return AnonymousUser()
    backend = logto_backend()
    identity = LogtoIdentity.for_sub(token.sub)
    if identity is None and create:
        found = backend.get_or_create_user(token.claims)
        identity = found[0] if found else None
    if identity is None or not backend.user_can_authenticate(identity.user):
        return AnonymousUser()
    return identity.user


def authenticate(
    request: HttpRequest,
    *,
    scopes: Iterable[str] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    organization_id: str | None = None,
    create_user: bool = False,
) -> LogtoToken:
    """Validate the request's bearer token for a view; set ``request.logto`` and ``request.user``.

    Raise ``BearerError`` with the answer the client should get.
    """
    token = bearer_token(request)
    if token is None:
        raise BearerError(401, description=NO_TOKEN)
    found = validate_access_token(token, resource=resource, organization=organization)
    if organization:
        check_organization(found, organization_id)
    check_scopes(found, scopes)
    request.logto = found  # type: ignore[attr-defined]
    # Looked up only if the view reads it: many API views need the claims alone.
    request.user = SimpleLazyObject(lambda: user_for(found, create=create_user))  # type: ignore[assignment]

    async def auser() -> AbstractBaseUser | AnonymousUser:
        return await sync_to_async(user_for)(found, create=create_user)

    request.auser = auser  # type: ignore[assignment]
    return found


def _protected(
    request: HttpRequest, kwargs: dict[str, Any], options: dict[str, Any]
) -> HttpResponse | None:
    """Return the refusal for ``request``, or ``None`` when the view may run."""
    organization_id = kwargs.get(ORGANIZATION_KWARG) if options["organization"] else None
    try:
        authenticate(request, organization_id=organization_id, **options)
    except BearerError as error:
        return error.response()
    except LogtoError as error:
        # The provider's keys could not be fetched: not the client's fault.
        return JsonResponse({"error": "temporarily_unavailable"}, status=error.status)
    return None


V = TypeVar("V", bound="Callable[..., HttpResponseBase | Awaitable[HttpResponseBase]]")


@overload
def logto_token_required(view: V) -> V: ...


@overload
def logto_token_required(
    *,
    scopes: Iterable[str] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    create_user: bool = False,
) -> Callable[[V], V]: ...


def logto_token_required(
    view: V | None = None,
    *,
    scopes: Iterable[str] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    create_user: bool = False,
) -> Any:
    """Protect a view with a Logto access token having ``scopes``.

    Usable bare (``@logto_token_required``) or with arguments. With ``organization``,
    the token must be for an organization, and for the one in the URL keyword argument
    ``organization_id`` when the view has one. The view is CSRF-exempt: a bearer token
    is no ambient credential.
    """
    options = {
        "scopes": tuple(scopes),
        "resource": resource,
        "organization": organization,
        "create_user": create_user,
    }

    def decorate(function: V) -> V:
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(
                request: HttpRequest, *args: Any, **kwargs: Any
            ) -> HttpResponseBase:
                # Validation may fetch keys (blocking I/O): off the event loop.
                refusal = await sync_to_async(_protected)(request, kwargs, options)
                return refusal or await function(request, *args, **kwargs)

            return csrf_exempt(async_wrapper)  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _protected(request, kwargs, options) or function(request, *args, **kwargs)

        return csrf_exempt(wrapper)  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


class LogtoTokenRequiredMixin:
    """Class-based view mixin: like ``logto_token_required``, set by class attributes."""

    required_scopes: Iterable[str] = ()
    logto_resource: str | Iterable[str] | None = None
    logto_organization = False
    create_unknown_user = False

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return csrf_exempt(super().as_view(**initkwargs))  # type: ignore[misc]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        options = {
            "scopes": tuple(self.required_scopes),
            "resource": self.logto_resource,
            "organization": self.logto_organization,
            "create_user": self.create_unknown_user,
        }
        refusal = _protected(request, kwargs, options)
        if refusal is not None and getattr(self, "view_is_async", False):
            # An async view's dispatch must return an awaitable.
            async def refuse() -> HttpResponse:
                return refusal

            return refuse()  # type: ignore[return-value]
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
