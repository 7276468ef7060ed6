"""Internal: may change in any release.

The role mapping: the Logto roles a user's claims carry (``roles``, ``organizations``,
``organization_roles``), the Django rights they give by ``LOGTO['ROLES']``,
``ORGANIZATION_ROLES`` and ``ROLE_GROUPS_PREFIX`` (``rights_for``, pure computation: what
the admin shows and the backend applies), and those rights applied to a user
(``apply_rights``: the flags set, the groups saved), as ``backends.LogtoBackend``'s
``apply_roles`` does by default. Flags and groups that no mapping names are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group

from logto_auth.conf import logto_settings

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

FLAGS = ("is_staff", "is_superuser")
GROUP_NAME_MAX = 150  # django.contrib.auth.models.Group.name


@dataclass
class Rights:
    """The flags and groups a user should have, among those the mapping manages."""

    flags: dict[str, bool] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)
    managed_groups: set[str] = field(default_factory=set)
    group_prefix: str | None = None

    def manages(self, group: str) -> bool:
        prefix = self.group_prefix
        return group in self.managed_groups or bool(prefix and group.startswith(prefix))


def roles_of(claims: dict[str, Any]) -> list[str] | None:
    """Return the ``roles`` claim, or ``None`` when it is absent or not a list of names."""
    value = claims.get("roles")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        logger.warning("Ignoring a malformed roles claim for %s: %r", claims.get("sub"), value)
        return None
    return value


def organization_roles_of(claims: dict[str, Any]) -> dict[str, set[str]]:
    """Return ``{organization id: {role, ...}}`` from ``organizations``/``organization_roles``."""
    memberships: dict[str, set[str]] = {}
    organizations = claims.get("organizations")
    if isinstance(organizations, list):
        for organization in organizations:
            if isinstance(organization, str):
                memberships.setdefault(organization, set())
    values = claims.get("organization_roles")
    for value in values if isinstance(values, list) else []:
        organization, colon, role = value.partition(":") if isinstance(value, str) else ("", "", "")
        if colon and organization and role:
            memberships.setdefault(organization, set()).add(role)
        else:
            logger.warning(
                "Ignoring a malformed organization role for %s: %r", claims.get("sub"), value
            )
    return memberships


def rights_for(roles: list[str], organization_roles: dict[str, set[str]]) -> Rights:
    """Return the rights that ``roles`` and ``organization_roles`` give."""
    mapping = logto_settings.roles
    organization_mapping = logto_settings.organization_roles
    everything = [*mapping.values(), *organization_mapping.values()]
    rights = Rights(
        flags={flag: False for flag in FLAGS if any(flag in r for r in everything)},
        managed_groups={group for r in everything for group in r.get("groups", [])},
        group_prefix=logto_settings.role_groups_prefix,
    )
    granted = [mapping[role] for role in roles if role in mapping]
    for organization, names in organization_roles.items():
        for role in names:
            for key in (f"{organization}:{role}", f"*:{role}"):
                if key in organization_mapping:
                    granted.append(organization_mapping[key])
    for grant in granted:
        for flag in rights.flags:
            rights.flags[flag] = rights.flags[flag] or bool(grant.get(flag))
        rights.groups.update(grant.get("groups", []))
    if rights.group_prefix:
        for role in roles:
            name = rights.group_prefix + role
            if len(name) <= GROUP_NAME_MAX:
                rights.groups.add(name)
            else:
                logger.warning("Role %r is too long for a group name; no group mirrors it", role)
    return rights


def rights_of(claims: dict[str, Any]) -> Rights | None:
    """Return the rights that the mapping gives ``claims``; ``None`` when no mapping is
    configured or the claims carry no (well-formed) ``roles`` claim."""
    roles = roles_of(claims) if logto_settings.maps_rights else None
    return None if roles is None else rights_for(roles, organization_roles_of(claims))


def apply_rights(user: User, rights: Rights) -> list[str]:
    """Give ``user`` the flags and groups of ``rights``, among those the mapping manages.

    Groups are saved at once; return the names of the flags it changed, unsaved.
    """
    changed = [
        flag
        for flag, value in rights.flags.items()
        if hasattr(user, flag) and getattr(user, flag) != value
    ]
    for flag in changed:
        setattr(user, flag, rights.flags[flag])
    if hasattr(user, "groups"):
        _apply_groups(user, rights)
    return changed


def _apply_groups(user: User, rights: Rights) -> None:
    if rights.group_prefix:
        Group.objects.bulk_create(
            [Group(name=name) for name in rights.groups if name.startswith(rights.group_prefix)],
            ignore_conflicts=True,
        )
    wanted = list(Group.objects.filter(name__in=rights.groups))
    missing = rights.groups - {group.name for group in wanted}
    if missing:
        logger.warning(
            "LOGTO role mapping names groups that do not exist: %s. Create them.",
            ", ".join(sorted(missing)),
        )
    held = {group.name: group for group in user.groups.all()}
    stale = [g for name, g in held.items() if rights.manages(name) and name not in rights.groups]
    if stale:
        user.groups.remove(*stale)
    if any(group.name not in held for group in wanted):
        user.groups.add(*wanted)
