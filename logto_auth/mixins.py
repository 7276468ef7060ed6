"""Class-based view mixins, the twins of the decorators in ``decorators.py``:
``LogtoRoleRequiredMixin``, ``LogtoOrganizationRequiredMixin`` and
``LogtoTokenRequiredMixin``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from logto_auth import _organizations
from logto_auth.decorators import (
    _open,
    _protected,
    acheck,
    aorganization_check,
    check,
    organization_check,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from django.http import HttpRequest, HttpResponseBase

__all__ = ["LogtoOrganizationRequiredMixin", "LogtoRoleRequiredMixin", "LogtoTokenRequiredMixin"]


class LogtoRoleRequiredMixin:
    """Class-based view version of ``logto_role_required``: set the attributes below.

    Works for views with ``async def`` handlers too (their ``dispatch`` is awaited).
    """

    logto_roles: Iterable[str] = ()
    """Logto roles the user must all have."""
    logto_organization_roles: Iterable[str] = ()
    """Organization roles the user must all have: ``"<org id>:<role>"`` or ``"*:<role>"``."""
    logto_scopes: Iterable[str] = ()
    """Scopes the user's access token for ``logto_resource`` must all grant."""
    logto_resource = ""
    """The API resource whose access token must grant ``logto_scopes``."""

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


class LogtoOrganizationRequiredMixin:
    """Class-based view version of ``logto_organization_required``: set the attributes
    below. Works for views with ``async def`` handlers too."""

    organization_roles: Iterable[str] = ()
    """Roles the user must all have in the organization."""
    organization_permissions: Iterable[str] = ()
    """Permissions the user's organization token must all grant there."""
    organization_url_kwarg: str | None = _organizations.URL_KWARG
    """The URL keyword argument naming the organization; without it, the current one."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        needs = _organizations.Needs.of(
            self.organization_roles, self.organization_permissions, self.organization_url_kwarg
        )
        handle: Callable[..., Any] = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False):

            async def guarded() -> HttpResponseBase:
                refused = await aorganization_check(request, needs, kwargs)
                return refused or await handle(request, *args, **kwargs)

            return guarded()  # type: ignore[return-value]
        return organization_check(request, needs, kwargs) or handle(request, *args, **kwargs)


class LogtoTokenRequiredMixin:
    """Class-based view mixin: like ``logto_token_required``, set by class attributes."""

    required_scopes: Iterable[str] | Mapping[str, Iterable[str]] = ()
    """Scopes the token must all grant, or a dict of them by HTTP method."""
    logto_resource: str | Iterable[str] | None = None
    """The audience (API resource) the token must carry; by default ``LOGTO['API_RESOURCES']``."""
    logto_organization = False
    """Require an organization token for the organization in the URL (``organization_id``)."""
    create_unknown_user = False
    """Create a Django user for a token whose ``sub`` has none yet (default ``False``)."""

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
