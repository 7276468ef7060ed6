"""View decorators: require Logto roles, organization roles or API scopes
(``logto_role_required``), membership, roles and permissions in an organization
(``logto_organization_required``), or a Logto access token (``logto_token_required``).

Role checks: anonymous users are sent to sign in; signed-in users without the rights get a
403. Sync and ``async def`` views alike, as Django's ``login_required``. A Logto session is
not enough: the Django user must be signed in and active too, so a user deactivated in
Django loses access at once, not at the next sync.

Token checks ask ``_bearer.authorize`` (the one policy, shared with ``logto_auth.drf``) and
then give the view ``request.logto`` and a lazy ``request.user``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from logto_auth import _organizations
from logto_auth._bearer import (
    BearerError,
    authorize,
    recalled_user,
    user_for,
)
from logto_auth._errors import error_response
from logto_auth._roles import organization_roles_of, roles_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

__all__ = [
    "amissing_rights",
    "logto_organization_required",
    "logto_role_required",
    "logto_token_required",
    "missing_rights",
]


R = TypeVar("R", bound="Callable[..., Any]")


def missing_rights(
    request: HttpRequest,
    roles: Iterable[str] = (),
    organization_roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    resource: str = "",
) -> list[str]:
    """Return what the signed-in Logto user lacks of ``roles`` (all of them),
    ``organization_roles`` (``"<org id>:<role>"``, or ``"*:<role>"`` for any organization)
    and ``scopes`` (granted in the access token for ``resource``)."""
    logto = request.logto  # type: ignore[attr-defined]
    missing = _lacking(logto.claims, roles, organization_roles)
    wanted_scopes = tuple(scopes)
    if wanted_scopes:
        missing += _lacking_scopes(logto.get_access_token_claims(resource), wanted_scopes)
    return missing


async def amissing_rights(
    request: HttpRequest,
    roles: Iterable[str] = (),
    organization_roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    resource: str = "",
) -> list[str]:
    """Like ``missing_rights``, from async code."""
    logto = request.logto  # type: ignore[attr-defined]
    missing = _lacking(await logto.aget_claims(), roles, organization_roles)
    wanted_scopes = tuple(scopes)
    if wanted_scopes:
        missing += _lacking_scopes(await logto.aget_access_token_claims(resource), wanted_scopes)
    return missing


def _lacking(
    claims: dict[str, Any], roles: Iterable[str], organization_roles: Iterable[str]
) -> list[str]:
    has_roles = set(roles_of(claims) or [])
    missing = [role for role in roles if role not in has_roles]
    memberships = organization_roles_of(claims)
    for wanted in organization_roles:
        organization, _, role = wanted.partition(":")
        held = (
            memberships.values() if organization == "*" else [memberships.get(organization, set())]
        )
        if not any(role in roles_held for roles_held in held):
            missing.append(wanted)
    return missing


def _lacking_scopes(token_claims: dict[str, Any], scopes: Iterable[str]) -> list[str]:
    granted = set(str(token_claims.get("scope", "")).split())
    return [scope for scope in scopes if scope not in granted]


def logto_role_required(
    roles: Iterable[str] = (),
    organization_roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    resource: str = "",
) -> Callable[[R], R]:
    """Decorate a view (sync or ``async def``) so that it needs these Logto rights (see
    ``missing_rights``)."""
    needs = {
        "roles": tuple(roles),
        "organization_roles": tuple(organization_roles),
        "scopes": tuple(scopes),
        "resource": resource,
    }

    def decorator(view: R) -> R:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return await acheck(request, **needs) or await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return check(request, **needs) or view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def check(request: HttpRequest, **needs: Any) -> HttpResponseBase | None:
    """Return a sign-in redirect for anonymous users, raise 403 when ``needs`` are missing."""
    logto = request.logto  # type: ignore[attr-defined]
    if not (logto.is_authenticated and _active(request.user)):
        return redirect_to_login(request.get_full_path())
    _deny(missing_rights(request, **needs))
    return None


async def acheck(request: HttpRequest, **needs: Any) -> HttpResponseBase | None:
    """Like ``check``, from async code."""
    logto = request.logto  # type: ignore[attr-defined]
    if not (await logto.ais_authenticated() and _active(await request.auser())):
        return redirect_to_login(request.get_full_path())
    _deny(await amissing_rights(request, **needs))
    return None


def logto_organization_required(
    roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
    url_kwarg: str | None = _organizations.URL_KWARG,
) -> Callable[[R], R]:
    """Decorate a view (sync or ``async def``) so that it needs a member of an organization,
    with every one of ``roles`` and ``permissions`` there.

    The organization is the URL keyword argument ``url_kwarg`` (default
    ``organization_id``) when the view has it, else the current organization. Membership
    and roles come from the claims (no provider call); permissions from the user's
    organization token (one provider call per organization and token lifetime). Signed-out
    visitors are sent to sign in; anyone else falling short gets the 403 page, which names
    nothing of the organization.
    """
    needs = _organizations.Needs.of(roles, permissions, url_kwarg)

    def decorator(view: R) -> R:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = await aorganization_check(request, needs, kwargs)
                return refused or await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return organization_check(request, needs, kwargs) or view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def organization_check(
    request: HttpRequest, needs: _organizations.Needs, kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """Return a sign-in redirect or the 403 page, or ``None`` when the view may run."""
    logto = request.logto  # type: ignore[attr-defined]
    if not (logto.is_authenticated and _active(request.user)):
        return redirect_to_login(request.get_full_path())
    refused = _organizations.check(logto, needs, kwargs)
    return error_response(request, refused) if refused else None


async def aorganization_check(
    request: HttpRequest, needs: _organizations.Needs, kwargs: dict[str, Any]
) -> HttpResponseBase | None:
    """Like ``organization_check``, from async code."""
    logto = request.logto  # type: ignore[attr-defined]
    if not (await logto.ais_authenticated() and _active(await request.auser())):
        return redirect_to_login(request.get_full_path())
    refused = await _organizations.acheck(logto, needs, kwargs)
    # The page's template may read request.user (the ORM): rendered off the event loop.
    return await sync_to_async(error_response)(request, refused) if refused else None


def _active(user: AbstractBaseUser | AnonymousUser) -> bool:
    # Checked here, not left to the backend: a backend that lets inactive users
    # authenticate (AllowAllUsersModelBackend) must not let them through either.
    return user.is_authenticated and user.is_active


def _deny(missing: list[str]) -> None:
    if missing:
        raise PermissionDenied(
            _("Missing Logto rights: %(rights)s") % {"rights": ", ".join(missing)}
        )


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
        # A user read lately costs no query, and so no thread.
        recalled = recalled_user(token)
        return recalled or await sync_to_async(user_for)(token, create=create_user)

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
