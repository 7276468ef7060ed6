"""Require Logto roles, organization roles or API scopes in views.

Anonymous users are sent to sign in; signed-in users without the rights get a 403.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from logto_auth.roles import organization_roles_of, roles_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.http import HttpRequest, HttpResponseBase

    View = Callable[..., HttpResponseBase]


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
    claims = logto.claims
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
    wanted_scopes = list(scopes)
    if wanted_scopes:
        granted = set(logto.get_access_token_claims(resource).get("scope", "").split())
        missing += [scope for scope in wanted_scopes if scope not in granted]
    return missing


def logto_role_required(
    roles: Iterable[str] = (),
    organization_roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    resource: str = "",
) -> Callable[[View], View]:
    """Decorate a view so that it needs these Logto rights (see ``missing_rights``)."""
    needs = {
        "roles": tuple(roles),
        "organization_roles": tuple(organization_roles),
        "scopes": tuple(scopes),
    }

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return check(request, resource=resource, **needs) or view(request, *args, **kwargs)

        return wrapper

    return decorator


class LogtoRoleRequiredMixin:
    """Class-based view version of ``logto_role_required``: set the attributes below."""

    logto_roles: Iterable[str] = ()
    logto_organization_roles: Iterable[str] = ()
    logto_scopes: Iterable[str] = ()
    logto_resource = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        denied = check(
            request,
            roles=self.logto_roles,
            organization_roles=self.logto_organization_roles,
            scopes=self.logto_scopes,
            resource=self.logto_resource,
        )
        return denied or super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def check(request: HttpRequest, **needs: Any) -> HttpResponseBase | None:
    """Return a sign-in redirect for anonymous users, raise 403 when ``needs`` are missing."""
    if not request.logto.is_authenticated:  # type: ignore[attr-defined]
        return redirect_to_login(request.get_full_path())
    missing = missing_rights(request, **needs)
    if missing:
        raise PermissionDenied(f"Missing Logto rights: {', '.join(missing)}")
    return None
