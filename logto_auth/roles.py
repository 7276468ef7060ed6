"""Which Django rights a Logto user's roles give, by ``LOGTO['ROLES']``,
``LOGTO['ORGANIZATION_ROLES']`` and ``LOGTO['ROLE_GROUPS_PREFIX']``.

Pure computation, no database: ``backends.py`` applies the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from logto_auth.conf import logto_settings

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
