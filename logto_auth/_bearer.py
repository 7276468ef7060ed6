"""Internal: may change in any release.

The bearer-token policy (RFC 6750, RFC 9068): ``authorize`` judges a request for the
decorator and mixin in ``decorators.py``/``mixins.py`` and for ``drf.py`` alike. Tokens are
checked locally, and a verified one is remembered until it expires
(``_tokens.verified_tokens``): a repeated token skips the signature check. The token's
user is read at most once per ``LOGTO['API_USER_MAX_AGE']`` (``_api_users``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured

from logto_auth import _api_users
from logto_auth._tokens import validate_jwt, verified_tokens
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken, LogtoError
from logto_auth.models import LogtoIdentity

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


ORGANIZATION_AUDIENCE = "urn:logto:organization:"
#: The URL keyword argument naming the organization a view acts on.
ORGANIZATION_KWARG = "organization_id"
# Only JWT access tokens are accepted: the JWS compact form, three base64url segments.
# It is a subset of RFC 6750's b64token, so anything else is an invalid token.
JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Servers join repeated headers with a comma: a second credential shows up so.
SECOND_BEARER = re.compile(r",\s*bearer(\s|$)", re.IGNORECASE)
# The refusals' descriptions stay English, untranslated: an API client reads them, and
# RFC 6750 section 3 allows only ASCII (no quote or backslash) in the WWW-Authenticate
# header's error_description, which a translation would break.
NO_TOKEN = "A Logto access token is required."
INVALID_TOKEN = "The access token is invalid or expired."


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

    def www_authenticate(self) -> str | None:
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


class MissingToken(BearerError):
    """The request carries no Bearer credentials (401, a bare ``Bearer`` challenge)."""

    def __init__(self) -> None:
        super().__init__(401, description=NO_TOKEN)


class KeysUnavailable(BearerError):
    """The provider's keys could not be fetched: not the client's fault (502 or 503)."""

    def __init__(self, error: LogtoError) -> None:
        super().__init__(error.status, "temporarily_unavailable")

    def www_authenticate(self) -> None:
        return None

    def as_dict(self) -> dict[str, str]:
        return {"error": "temporarily_unavailable"}


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
    def token_claims(self) -> dict[str, Any]:  # the name DRF users know from SimpleJWT
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
            # An audience naming no organization is no organization's token: refused.
            return self.audience.removeprefix(ORGANIZATION_AUDIENCE) or None
        value = self.claims.get("organization_id")
        return value if isinstance(value, str) and value else None

    @property
    def is_machine(self) -> bool:
        """A machine-to-machine token (client credentials): no user behind it."""
        return self.client_id is not None and self.sub == self.client_id


@dataclass(frozen=True)
class _Audiences(Container[str]):
    """The audiences a view accepts: its API resources, and (bare) organization tokens."""

    resources: tuple[str, ...]
    organizations: bool

    def __contains__(self, value: object) -> bool:
        organization = self.organizations and str(value).startswith(ORGANIZATION_AUDIENCE)
        return value in self.resources or organization


def _resources(resource: str | Iterable[str] | None, organization: bool) -> tuple[str, ...]:
    if resource is None:
        found = tuple(logto_settings.api_resources)
        # An organization view takes organization tokens, which name no API resource.
        if not found and not organization:
            raise ImproperlyConfigured(
                "Set LOGTO['API_RESOURCES'] to the resource indicator(s) of your API, or "
                "pass resource= to the view protection."
            )
        return found
    return (resource,) if isinstance(resource, str) else tuple(resource)


def bearer_token(request: HttpRequest) -> str:
    """Return the request's bearer token, not yet validated; raise ``BearerError`` if none.

    ``MissingToken`` without Bearer credentials; 400 for two credentials or a token in the
    query string; 401 ``invalid_token`` for one that cannot be a JWT (empty included).
    """
    header: str | None = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        if "access_token" in request.GET:
            # RFC 6750 section 2.3 allows it; URLs end up in logs, so we do not.
            raise _invalid_request("Send the access token in the Authorization header.")
        raise MissingToken()
    scheme, _, value = header.partition(" ")
    # A b64token has no comma: after a Bearer credential, one means a second credential.
    if SECOND_BEARER.search(header) or (scheme.lower() == "bearer" and "," in value):
        raise _invalid_request("Send one Authorization header.")
    if scheme.lower() != "bearer":
        raise MissingToken()
    if "access_token" in request.GET:
        raise _invalid_request("Send the access token in one place only.")
    # RFC 6750 section 3.1 calls a malformed token invalid_token (401), not a bad request.
    token = value.strip(" ")
    if not JWS_COMPACT.fullmatch(token):
        logger.info("Refused an access token: not a JWT")
        raise _invalid_token()
    return token


def validate_access_token(
    token: str, *, resource: str | Iterable[str] | None = None, organization: bool = False
) -> LogtoToken:
    """Return the validated ``token`` for this API; ``BearerError`` (401) if it is not one.

    The token must be a Logto JWT access token (``typ: at+jwt``) whose ``aud`` is one of
    ``resource`` (default ``LOGTO['API_RESOURCES']``). With ``organization``, it must be for
    an organization: an API token with an ``organization_id`` claim, or, only when no
    ``resource`` is given, an organization token (``aud`` ``urn:logto:organization:<id>``);
    without, tokens carrying an organization are refused, since their scopes hold only
    within that organization.
    """
    # Any app of the tenant gets organization tokens, and they name no API: a view naming
    # its resource takes only that resource's organization-level tokens.
    bare_organization = organization and resource is None
    audiences = _Audiences(_resources(resource, organization), bare_organization)
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


def scopes_for(
    required: Iterable[str] | Mapping[str, Iterable[str]], method: str | None
) -> tuple[str, ...]:
    """Return the scopes ``method`` needs: ``required``, or its entry when it is a dict by
    HTTP method. A method the dict leaves out raises ``BearerError`` (403); ``HEAD`` runs
    the ``GET`` handler, so it needs ``GET``'s scopes unless the dict lists it."""
    if not isinstance(required, Mapping):
        return tuple(required)
    asked = (method or "").upper()
    listed = "GET" if asked == "HEAD" and "HEAD" not in required else asked
    if listed not in required:
        # Fail closed: a handler added later is not open to every token by accident.
        raise BearerError(403, "insufficient_scope", "No access token may use this method here.")
    return tuple(required[listed])


def check_organization(token: LogtoToken, organization_id: str | None) -> None:
    """Raise ``BearerError`` (403) unless ``token`` is for ``organization_id`` (if given)."""
    if token.organization_id is None or (
        organization_id is not None and token.organization_id != organization_id
    ):
        raise BearerError(403, "insufficient_scope", "The token is for another organization.")


def authorize(
    request: HttpRequest,
    *,
    scopes: Iterable[str] | Mapping[str, Iterable[str]] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    url_kwargs: Mapping[str, Any] | None = None,
) -> LogtoToken:
    """Return the request's access token if it may call the view; else raise ``BearerError``.

    Parse, validate for ``resource``; with ``organization``, require the organization the
    URL keyword argument ``organization_id`` names (if any); then require every scope
    (``scopes`` may be a dict by HTTP method, see ``scopes_for``). Every refusal, an
    unreachable provider included, is a ``BearerError`` with the client's answer.
    """
    try:
        token = validate_access_token(
            bearer_token(request), resource=resource, organization=organization
        )
    except LogtoError as error:
        raise KeysUnavailable(error) from error
    if organization:
        check_organization(token, (url_kwargs or {}).get(ORGANIZATION_KWARG))
    check_scopes(token, scopes_for(scopes, request.method))
    return token


def recalled_user(token: LogtoToken) -> AbstractBaseUser | None:
    """Return the token's user if this process read it lately (``LOGTO['API_USER_MAX_AGE']``),
    without a query; else ``None``."""
    return None if token.is_machine else _api_users.recalled(token.sub)


def user_for(token: LogtoToken, *, create: bool = False) -> AbstractBaseUser | AnonymousUser:
    """Return the active Django user linked to the token's ``sub``, else ``AnonymousUser``.

    With ``create``, a user is created for an unknown ``sub`` (by the configured
    ``LogtoBackend``); machine-to-machine tokens never have a user. A user read less than
    ``LOGTO['API_USER_MAX_AGE']`` seconds ago in this process costs no query.
    """
    if token.is_machine:
        return AnonymousUser()
    recalled = _api_users.recalled(token.sub)
    if recalled is not None:
        return recalled
    backend = logto_backend()
    identity = LogtoIdentity.for_sub(token.sub)
    if identity is None and create:
        found = backend.get_or_create_user(token.claims)
        identity = found[0] if found else None
    if identity is None or not backend.user_can_authenticate(identity.user):
        return AnonymousUser()
    _api_users.remember(token.sub, identity.user)
    return identity.user
