"""Internal: may change in any release.

Organizations as a signed-in user sees them: ``UserOrganization`` (what
``request.logto.organization`` is), the session's current organization, the one remembered
across sign-ins, and the check of organization-scoped views (shared by the decorator, the
mixin and DRF; sync and async code make the same decisions here).

Membership and roles come from the claims (``organizations``, ``organization_roles``): no
provider call. Permissions come from the organization token's ``scope``, which
``request.logto`` fetches once per organization and token lifetime and keeps in the session
with the other access tokens.

The last organization a user chose is remembered in a signed cookie, bound to their
``sub``: the session cannot hold it (``logout()`` flushes it, and so does a sign-in of
another user), a field on ``LogtoIdentity`` would need a migration, and the cache may
evict it. Per browser, like the language cookie; a membership is checked again at every
sign-in before the remembered organization is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from logto_auth._roles import organization_roles_of
from logto_auth._sessions import NAMES_KEY, ORGANIZATION_KEY
from logto_auth._tokens import unverified_claims
from logto_auth.exceptions import AccessDenied
from logto_auth.models import LogtoOrganization
from logto_auth.signals import organization_changed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping

    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

COOKIE = "logto_organization"
COOKIE_SALT = "logto_auth.organization"
COOKIE_AGE = 365 * 24 * 3600
SENDER = "logto_auth"
URL_KWARG = "organization_id"

NOT_A_MEMBER = _("You are not a member of this organization.")
NONE_CHOSEN = _("Choose an organization first.")
MISSING_RIGHTS = _("Missing rights in this organization: %(rights)s")


@dataclass(frozen=True, eq=False)
class UserOrganization:
    """An organization the signed-in user belongs to.

    ``id``; ``name`` (from the claims' ``organization_data`` when they carry it, else as
    the site recorded it, else the id); ``roles``, the user's roles there (sorted);
    ``permissions``, what the user's organization token grants there, read on first use
    (one provider call per organization and token lifetime, then none). Async code awaits
    ``aget_permissions()``.
    """

    id: str
    name: str
    roles: tuple[str, ...]
    fetch: Callable[[str], frozenset[str]] = field(repr=False)
    afetch: Callable[[str], Awaitable[frozenset[str]]] = field(repr=False)

    def __str__(self) -> str:
        return self.name

    @cached_property
    def permissions(self) -> frozenset[str]:
        """The permissions granted here (empty when Logto says the user is no member)."""
        return self.fetch(self.id)

    async def aget_permissions(self) -> frozenset[str]:
        """Return ``permissions``, from async code."""
        if "permissions" not in self.__dict__:
            self.__dict__["permissions"] = await self.afetch(self.id)
        return self.permissions


def memberships(claims: Mapping[str, Any]) -> dict[str, set[str]]:
    """Return ``{organization id: {role, ...}}`` for the user of ``claims``."""
    return organization_roles_of(dict(claims))


def name_of(claims: Mapping[str, Any], organization_id: str, recorded: Mapping[str, str]) -> str:
    """The organization's name: in the claims' ``organization_data``, else the one the site
    recorded (``recorded_names``), else its id."""
    data = claims.get("organization_data")
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict) and entry.get("id") == organization_id:
            name = entry.get("name")
            if isinstance(name, str) and name:
                return name
    return recorded.get(organization_id) or organization_id


def names(session: SessionBase, organization_ids: Iterable[str]) -> dict[str, str]:
    """The recorded names of the user's organizations, kept in ``session`` from their first
    use after a sign-in or a sync until the next sync: one query then, none per page."""
    held = session.get(NAMES_KEY)
    if isinstance(held, dict):
        return held
    found = recorded_names(organization_ids)
    session[NAMES_KEY] = found
    return found


def recorded_names(organization_ids: Iterable[str]) -> dict[str, str]:
    """The names of these organizations that the site recorded (``LogtoOrganization``,
    from userinfo at sign-in and sync, and from the webhooks): one query, none for none."""
    ids = list(organization_ids)
    if not ids:
        return {}
    return dict(LogtoOrganization.objects.filter(id__in=ids).values_list("id", "name"))


def permissions_in(token: str | None) -> frozenset[str]:
    """The permissions an organization token grants: its ``scope``."""
    scope = unverified_claims(token).get("scope") if token else None
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


# The current organization


def current_id(session: SessionBase) -> str | None:
    """The id of the session's current organization, as stored (membership unchecked)."""
    value = session.get(ORGANIZATION_KEY)
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Change:
    """A change of the current organization, to announce with ``organization_changed``."""

    request: HttpRequest
    organization_id: str | None
    previous_id: str | None


def change(request: HttpRequest, organization_id: str | None) -> Change | None:
    """Make ``organization_id`` (or none) the current organization of ``request``'s
    session; return the change to announce, or ``None`` when it was already so."""
    session = request.session
    previous = current_id(session)
    if previous == organization_id:
        return None
    if organization_id is None:
        session.pop(ORGANIZATION_KEY, None)
    else:
        session[ORGANIZATION_KEY] = organization_id
    return Change(request, organization_id, previous)


def send(done: Change | None) -> None:
    """Send ``organization_changed`` for ``done``, if anything changed."""
    if done is not None:
        organization_changed.send(
            sender=SENDER,
            request=done.request,
            organization_id=done.organization_id,
            previous_id=done.previous_id,
        )


async def asend(done: Change | None) -> None:
    """Like ``send``, from async code."""
    if done is not None:
        await organization_changed.asend(
            sender=SENDER,
            request=done.request,
            organization_id=done.organization_id,
            previous_id=done.previous_id,
        )


def at_sign_in(request: HttpRequest, claims: Mapping[str, Any]) -> Change | None:
    """Choose the current organization of a new sign-in: the last one the user chose (in
    this browser), else their only one, else none."""
    organizations = memberships(claims)
    request.session.pop(NAMES_KEY, None)  # read again at the first use
    remembered = recall(request, str(claims.get("sub")))
    if remembered in organizations:
        chosen: str | None = remembered
    elif len(organizations) == 1:
        chosen = next(iter(organizations))
    else:
        chosen = None
    return change(request, chosen)


def after_sync(request: HttpRequest, claims: Mapping[str, Any]) -> Change | None:
    """End the current organization when the synced ``claims`` no longer list it; read the
    organizations' names again at the next use."""
    request.session.pop(NAMES_KEY, None)
    current = current_id(request.session)
    if current is None or current in memberships(claims):
        return None
    logger.info("Logto user %s left organization %s", claims.get("sub"), current)
    return change(request, None)


def remember(response: HttpResponseBase, sub: str, organization_id: str) -> None:
    """Remember ``organization_id`` as the last one ``sub`` chose, in this browser."""
    response.set_cookie(
        COOKIE,
        signing.dumps([sub, organization_id], salt=COOKIE_SALT),
        max_age=COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def recall(request: HttpRequest, sub: str) -> str | None:
    """The organization ``sub`` last chose in this browser, if its cookie says so."""
    try:
        value = signing.loads(request.COOKIES.get(COOKIE, ""), salt=COOKIE_SALT, max_age=COOKIE_AGE)
    except signing.BadSignature:
        return None
    if isinstance(value, list) and len(value) == 2 and value[0] == sub:
        return str(value[1])
    return None


# Organization-scoped views


@dataclass(frozen=True)
class Needs:
    """What an organization-scoped view needs: the organization in its URL keyword
    argument ``url_kwarg`` (else the current one), the user a member with every one of
    ``roles`` and ``permissions`` there."""

    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    url_kwarg: str | None = URL_KWARG

    @classmethod
    def of(cls, roles: Iterable[str], permissions: Iterable[str], url_kwarg: str | None) -> Needs:
        return cls(tuple(roles), tuple(permissions), url_kwarg)

    def organization_id(self, kwargs: Mapping[str, Any]) -> str | None:
        """The organization in the URL, or ``None`` for the current one."""
        if self.url_kwarg and self.url_kwarg in kwargs:
            return str(kwargs[self.url_kwarg])
        return None

    def asks_permissions(self, organization: UserOrganization | None) -> bool:
        """Whether the permissions must be read (one provider call at most): only for a
        member holding the roles."""
        return bool(organization and self.permissions and not self._lacking_roles(organization))

    def _lacking_roles(self, organization: UserOrganization) -> list[str]:
        return [role for role in self.roles if role not in organization.roles]

    def refusal(
        self, organization: UserOrganization | None, granted: frozenset[str], named: bool
    ) -> AccessDenied | None:
        """The 403 for a request that falls short, or ``None``; it names nothing of an
        organization the user is not a member of (``named``: the URL named one)."""
        if organization is None:
            return AccessDenied(NOT_A_MEMBER if named else NONE_CHOSEN)
        lacking = self._lacking_roles(organization)
        if self.asks_permissions(organization):
            lacking += [name for name in self.permissions if name not in granted]
        if lacking:
            return AccessDenied(MISSING_RIGHTS, rights=", ".join(lacking))
        return None


def check(logto: Any, needs: Needs, kwargs: Mapping[str, Any]) -> AccessDenied | None:
    """Return why the signed-in user of ``logto`` (``request.logto``) may not see an
    organization-scoped view, or ``None``."""
    wanted = needs.organization_id(kwargs)
    organization = logto.get_organization(wanted)
    asks = needs.asks_permissions(organization)
    granted = organization.permissions if asks else frozenset()
    return needs.refusal(organization, granted, wanted is not None)


async def acheck(logto: Any, needs: Needs, kwargs: Mapping[str, Any]) -> AccessDenied | None:
    """Like ``check``, from async code."""
    wanted = needs.organization_id(kwargs)
    organization = await logto.aget_organization(wanted)
    asks = needs.asks_permissions(organization)
    granted = await organization.aget_permissions() if asks else frozenset()
    return needs.refusal(organization, granted, wanted is not None)
