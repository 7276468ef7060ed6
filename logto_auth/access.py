"""Require Logto roles, organization roles or API scopes in views.

Anonymous users are sent to sign in; signed-in users without the rights get a 403. Sync
and ``async def`` views alike, as Django's ``login_required``. A Logto session is not
enough: the Django user must be signed in and active too, so a user deactivated in Django
loses access at once, not at the next sync.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from logto_auth.roles import organization_roles_of, roles_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest, HttpResponseBase

V = TypeVar("V", bound="Callable[..., Any]")


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
) -> Callable[[V], V]:
    """Decorate a view (sync or ``async def``) so that it needs these Logto rights (see
    ``missing_rights``)."""
    needs = {
        "roles": tuple(roles),
        "organization_roles": tuple(organization_roles),
        "scopes": tuple(scopes),
        "resource": resource,
    }

    def decorator(view: V) -> V:
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


class LogtoRoleRequiredMixin:
    """Class-based view version of ``logto_role_required``: set the attributes below.

    Works for views with ``async def`` handlers too (their ``dispatch`` is awaited).
    """

    logto_roles: Iterable[str] = ()
    logto_organization_roles: Iterable[str] = ()
    logto_scopes: Iterable[str] = ()
    logto_resource = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        needs = {
            "roles": self.logto_roles,
            "organization_roles": self.logto_organization_roles,
            "scopes": self.logto_scopes,
            "resource": self.logto_resource,
        }
        handle: Callable[..., Any] = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False):

            async def guarded() -> HttpResponseBase:
                return await acheck(request, **needs) or await handle(request, *args, **kwargs)

            return guarded()  # type: ignore[return-value]
        return check(request, **needs) or handle(request, *args, **kwargs)


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


def _active(user: AbstractBaseUser | AnonymousUser) -> bool:
    # Checked here, not left to the backend: a backend that lets inactive users
    # authenticate (AllowAllUsersModelBackend) must not let them through either.
    return user.is_authenticated and user.is_active


def _deny(missing: list[str]) -> None:
    if missing:
        raise PermissionDenied(f"Missing Logto rights: {', '.join(missing)}")
