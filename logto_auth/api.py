"""Protect views with Logto access tokens: ``logto_token_required`` and
``LogtoTokenRequiredMixin``.

Both ask ``bearer.authorize`` (the one policy, shared with ``logto_auth.drf``) and then
give the view ``request.logto`` and a lazy ``request.user``. The names other code imports
from here (``LogtoToken``, ``BearerError``, ``validate_access_token``, ...) live in
``bearer.py`` and are re-exported.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.csrf import csrf_exempt

from logto_auth.backends import logto_backend
from logto_auth.bearer import (
    ORGANIZATION_KWARG,
    BearerError,
    LogtoToken,
    MissingToken,
    authorize,
    bearer_token,
    check_organization,
    check_scopes,
    validate_access_token,
)
from logto_auth.models import LogtoIdentity
from logto_auth.token_cache import VerifiedTokens, verified_tokens

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

__all__ = [
    "ORGANIZATION_KWARG",
    "BearerError",
    "LogtoToken",
    "LogtoTokenRequiredMixin",
    "MissingToken",
    "VerifiedTokens",
    "authorize",
    "bearer_token",
    "check_organization",
    "check_scopes",
    "logto_token_required",
    "refusal",
    "user_for",
    "validate_access_token",
    "verified_tokens",
]


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


def refusal(error: BearerError) -> JsonResponse:
    """Return the answer to a refused request: status, challenge and JSON body."""
    response = JsonResponse(error.as_dict(), status=error.status)
    challenge = error.www_authenticate()
    if challenge is not None:
        response["WWW-Authenticate"] = challenge
    response["Cache-Control"] = "no-store"
    return response


def _protected(
    request: HttpRequest, kwargs: dict[str, Any], options: dict[str, Any]
) -> HttpResponse | None:
    """Return the refusal for ``request``, or ``None`` when the view may run."""
    create_user = options["create_user"]
    try:
        token = authorize(
            request,
            scopes=options["scopes"],
            resource=options["resource"],
            organization=options["organization"],
            url_kwargs=kwargs,
        )
    except BearerError as error:
        return refusal(error)
    request.logto = token  # type: ignore[attr-defined]
    # Looked up only if the view reads it: many API views need the claims alone.
    request.user = SimpleLazyObject(lambda: user_for(token, create=create_user))  # type: ignore[assignment]

    async def auser() -> AbstractBaseUser | AnonymousUser:
        return await sync_to_async(user_for)(token, create=create_user)

    request.auser = auser  # type: ignore[assignment]
    return None


V = TypeVar("V", bound="Callable[..., HttpResponseBase | Awaitable[HttpResponseBase]]")


def _open(view: V) -> V:
    """Leave the caller's authentication to the bearer token: no CSRF check (a bearer
    token is no ambient credential), no redirect to a login page from Django's
    ``LoginRequiredMiddleware`` (an API answers 401, RFC 6750)."""
    return login_not_required(csrf_exempt(view))


@overload
def logto_token_required(view: V) -> V: ...


@overload
def logto_token_required(
    *,
    scopes: Iterable[str] | Mapping[str, Iterable[str]] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    create_user: bool = False,
) -> Callable[[V], V]: ...


def logto_token_required(
    view: V | None = None,
    *,
    scopes: Iterable[str] | Mapping[str, Iterable[str]] = (),
    resource: str | Iterable[str] | None = None,
    organization: bool = False,
    create_user: bool = False,
) -> Any:
    """Protect a view with a Logto access token having ``scopes`` (or, for a dict by HTTP
    method, the scopes listed for the request's method: a method left out is refused).

    Usable bare (``@logto_token_required``) or with arguments. With ``organization``,
    the token must be for an organization, and for the one in the URL keyword argument
    ``organization_id`` when the view has one. The view is CSRF-exempt (a bearer token
    is no ambient credential) and ``login_not_required`` (it answers 401 itself).
    """
    options = {
        "scopes": scopes if isinstance(scopes, Mapping) else tuple(scopes),
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
                refused = await sync_to_async(_protected)(request, kwargs, options)
                return refused or await function(request, *args, **kwargs)

            return _open(async_wrapper)  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _protected(request, kwargs, options) or function(request, *args, **kwargs)

        return _open(wrapper)  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


class LogtoTokenRequiredMixin:
    """Class-based view mixin: like ``logto_token_required``, set by class attributes."""

    required_scopes: Iterable[str] | Mapping[str, Iterable[str]] = ()
    logto_resource: str | Iterable[str] | None = None
    logto_organization = False
    create_unknown_user = False

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return _open(super().as_view(**initkwargs))  # type: ignore[misc]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        options = {
            "scopes": self.required_scopes,
            "resource": self.logto_resource,
            "organization": self.logto_organization,
            "create_user": self.create_unknown_user,
        }
        handle: Callable[..., Any] = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False):
            # An async view's dispatch returns an awaitable; validation may fetch keys
            # (blocking I/O), so it runs off the event loop, as in the decorator.
            async def guarded() -> HttpResponseBase:
                refused = await sync_to_async(_protected)(request, kwargs, options)
                return refused or await handle(request, *args, **kwargs)

            return guarded()  # type: ignore[return-value]
        return _protected(request, kwargs, options) or handle(request, *args, **kwargs)
