"""Internal: may change in any release.

The organizations side of ``request.logto`` (``_context.LogtoContext`` is one): the current
organization, the user's organizations by the claims, switching, and the permissions an
organization token grants (``_organizations`` holds the decisions; this asks the session
and the provider through ``request.logto``'s tokens).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async

from logto_auth import _organizations, _sdk
from logto_auth._organizations import UserOrganization
from logto_auth.exceptions import AccessDenied

if TYPE_CHECKING:
    from typing import Any

    from django.http import HttpRequest

    from logto_auth._renewal import SessionTokens

logger = logging.getLogger(__name__)


class OrganizationContext:
    """The organizations of ``request.logto``'s user; see ``_context.LogtoContext``."""

    def __init__(self, request: HttpRequest, tokens: SessionTokens) -> None:
        self._request = request
        self._tokens = tokens
        # The organizations built for the claims held: one object each per request.
        self._organizations: tuple[object, dict[str, UserOrganization]] = (None, {})
        self._names: dict[str, str] | None = None  # the organizations' recorded names

    @property
    def claims(self) -> dict[str, Any]:
        """The ID token's claims, completed from userinfo; ``{}`` when not signed in."""
        return self._tokens.claims

    @property
    def sub(self) -> str | None:
        """The Logto user ID, or ``None``."""
        return self._tokens.sub

    if TYPE_CHECKING:  # request.logto's

        def get_access_token(self, resource: str = "") -> str | None: ...

        async def aget_access_token(self, resource: str = "") -> str | None: ...

    def get_organization_token(self, organization_id: str) -> str | None:
        """Return an access token for a Logto organization, refreshing it when expired.

        A user who is not a member gets ``AccessDenied`` (403); the session goes on.
        """
        return self.get_access_token(_sdk.organization_resource(organization_id))

    async def aget_organization_token(self, organization_id: str) -> str | None:
        """Like ``get_organization_token``, from async code."""
        return await self.aget_access_token(_sdk.organization_resource(organization_id))

    # Organizations

    @property
    def organization(self) -> UserOrganization | None:
        """The current organization (chosen with the switch view, or at sign-in), or ``None``."""
        return self.get_organization()

    @property
    def organizations(self) -> list[UserOrganization]:
        """Every organization the user belongs to (by the claims), by name."""
        return self.get_organizations()

    def get_organization(self, organization_id: str | None = None) -> UserOrganization | None:
        """Return the organization ``organization_id`` (by default the current one) when the
        claims say the user belongs to it, else ``None``. No provider call."""
        if organization_id is None:
            organization_id = _organizations.current_id(self._request.session)
        claims = self.claims
        if self._organizations[0] is not claims:
            self._organizations = (claims, {})
        built = self._organizations[1]
        if organization_id is not None and organization_id not in built:
            roles = _organizations.memberships(claims).get(organization_id)
            if roles is None:
                return None
            if self._names is None:
                self._names = _organizations.names(
                    self._request.session, _organizations.memberships(claims)
                )
            built[organization_id] = UserOrganization(
                organization_id,
                _organizations.name_of(claims, organization_id, self._names),
                tuple(sorted(roles)),
                self.get_organization_permissions,
                self.aget_organization_permissions,
            )
        return built.get(organization_id) if organization_id is not None else None

    async def aget_organization(
        self, organization_id: str | None = None
    ) -> UserOrganization | None:
        """Like ``get_organization``, from async code (``organization``'s twin too)."""
        await self._aload_names()
        return self.get_organization(organization_id)

    def get_organizations(self) -> list[UserOrganization]:
        """Return ``organizations``."""
        found = [self.get_organization(id_) for id_ in _organizations.memberships(self.claims)]
        return sorted((o for o in found if o is not None), key=lambda o: (o.name, o.id))

    async def aget_organizations(self) -> list[UserOrganization]:
        """Like ``get_organizations``, from async code."""
        await self._aload_names()
        return self.get_organizations()

    async def _aload_names(self) -> None:
        """Load the session and the organizations' recorded names: the sync readers then
        need no I/O."""
        await self._tokens.aload()
        if self._names is None:
            ids = list(_organizations.memberships(self.claims))
            self._names = await sync_to_async(_organizations.names)(self._request.session, ids)

    def select_organization(self, organization_id: str) -> bool:
        """Make ``organization_id`` the current organization; ``False`` (nothing changed)
        when the claims say the user is not a member. Sends ``organization_changed``."""
        if not organization_id or self.get_organization(organization_id) is None:
            return False
        _organizations.send(_organizations.change(self._request, organization_id))
        return True

    async def aselect_organization(self, organization_id: str) -> bool:
        """Like ``select_organization``, from async code."""
        if not organization_id or await self.aget_organization(organization_id) is None:
            return False
        await _organizations.asend(_organizations.change(self._request, organization_id))
        return True

    def get_organization_permissions(self, organization_id: str) -> frozenset[str]:
        """Return the permissions the user's organization token grants in
        ``organization_id``: one provider call per organization and token lifetime.

        Empty for a non-member. When Logto answers that the user is no longer a member
        (403), the organization stops being the current one at once, and the next request
        syncs the claims with Logto.
        """
        if self.get_organization(organization_id) is None:
            return frozenset()
        try:
            token = self.get_organization_token(organization_id)
        except AccessDenied:
            self._tokens.sync_soon()
            _organizations.send(self._left(organization_id))
            return frozenset()
        return _organizations.permissions_in(token)

    async def aget_organization_permissions(self, organization_id: str) -> frozenset[str]:
        """Like ``get_organization_permissions``, from async code."""
        if await self.aget_organization(organization_id) is None:
            return frozenset()
        try:
            token = await self.aget_organization_token(organization_id)
        except AccessDenied:
            await self._tokens.async_soon()
            await _organizations.asend(self._left(organization_id))
            return frozenset()
        return _organizations.permissions_in(token)

    def _left(self, organization_id: str) -> _organizations.Change | None:
        """Logto says the user left ``organization_id``: it is current no more."""
        logger.info("Logto user %s is no member of %s any more", self.sub, organization_id)
        if _organizations.current_id(self._request.session) != organization_id:
            return None
        return _organizations.change(self._request, None)
