"""Turn the claims of a validated Logto ID token into a Django user, with the Django
rights its roles give.

Which rights a Logto user's roles give is set by ``LOGTO['ROLES']``,
``LOGTO['ORGANIZATION_ROLES']`` and ``LOGTO['ROLE_GROUPS_PREFIX']``: ``rights_for`` is pure
computation, no database; ``LogtoBackend`` applies the result.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_backends, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from logto_auth.conf import logto_settings
from logto_auth.exceptions import AccessDenied
from logto_auth.models import LogtoIdentity, LogtoMembership
from logto_auth.signals import logto_user_synced

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.auth.models import User
    from django.http import HttpRequest

__all__ = [
    "LogtoBackend",
    "Rights",
    "logto_backend",
    "organization_roles_of",
    "rights_for",
    "roles_of",
]

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


class LogtoBackend(ModelBackend):
    """Authenticate users by their Logto ``sub``, never by email or username.

    Subclass it and override the hooks below to change how users are created and kept up
    to date. Permissions work as with ``ModelBackend``.
    """

    #: Create a Django user the first time a Logto user signs in.
    create_unknown_user = True

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, logto_claims: dict[str, Any] | None = None
    ) -> User | None:
        if not logto_claims or not isinstance(logto_claims.get("sub"), str):
            return None
        found = self.get_or_create_user(logto_claims)
        if found is None:
            logger.info("No Django user for Logto sub %s", logto_claims["sub"])
            return None
        identity, created = found
        user = self.sync_user(request, identity.user, logto_claims, created=created)
        if not self.user_can_authenticate(user):
            logger.info("Django user %s (Logto sub %s) is inactive", user.pk, identity.sub)
            return None
        return user

    def sync_user(
        self,
        request: HttpRequest | None,
        user: User,
        claims: dict[str, Any],
        *,
        created: bool = False,
    ) -> User:
        """Bring ``user`` in line with ``claims`` (sign-in, token refresh, webhooks).

        Runs ``configure_user``, records the claims and organization memberships on the
        identity, and sends ``logto_user_synced``.
        """
        with transaction.atomic():
            user = self.configure_user(request, user, claims, created)
            identity = user.logto_identity
            identity.claims = claims
            identity.synced_at = timezone.now()
            identity.save(update_fields=["claims", "synced_at"])
            self.sync_memberships(identity, claims)
        logto_user_synced.send(sender=type(self), user=user, claims=claims, created=created)
        return user

    def get_or_create_user(self, claims: dict[str, Any]) -> tuple[LogtoIdentity, bool] | None:
        """Return the identity for ``claims['sub']`` and whether it was created now."""
        sub = claims["sub"]
        identity = LogtoIdentity.for_sub(sub)
        if identity is not None:
            return identity, False
        if not self.create_unknown_user:
            return None
        for username in self.username_candidates(claims):
            try:
                with transaction.atomic():
                    user = self.create_user(claims, username)
                    return LogtoIdentity.objects.create(user=user, sub=sub), True
            except IntegrityError:
                # Either the first sign-ins of one Logto user raced and the other one
                # created it, or the username was taken since we looked: try the next.
                identity = LogtoIdentity.for_sub(sub)
                if identity is not None:
                    return identity, False
        raise AccessDenied(_("No username is free for this account; please contact the site."))

    def create_user(self, claims: dict[str, Any], username: str) -> User:
        """Create the Django user for a new Logto user, with an unusable password."""
        user_model = get_user_model()
        user: User = user_model._default_manager.create_user(
            **{user_model.USERNAME_FIELD: username}
        )
        return user

    def make_username(self, claims: dict[str, Any]) -> str:
        """By default, return the Logto username, or the email's local part, or ``logto``."""
        base = claims.get("username") or (claims.get("email") or "").partition("@")[0]
        return str(base or "logto")

    def username_candidates(self, claims: dict[str, Any]) -> Iterator[str]:
        """Yield usernames to try for a new user, each fitting the username field.

        ``make_username``, then it with the ``sub``, then random suffixes: names someone
        registered ahead (on a site with its own sign-up) can never block a sign-in.
        """
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        limit = getattr(field, "max_length", None) or 150
        base, sub = self.make_username(claims)[:limit], str(claims["sub"])
        taken = user_model._default_manager.filter
        tried = [base, f"{base[: limit - len(sub) - 1]}-{sub}"[:limit]]
        tried += [f"{base[: limit - 9]}-{secrets.token_hex(4)}" for _ in range(5)]
        for candidate in dict.fromkeys(tried):
            if not taken(**{user_model.USERNAME_FIELD: candidate}).exists():
                yield candidate

    def configure_user(
        self,
        request: HttpRequest | None,
        user: User,
        claims: dict[str, Any],
        created: bool,
    ) -> User:
        """By default, copy name and email and apply the role mapping; return the user.

        Runs at every sign-in and token refresh. Logto sends unset profile claims as
        ``null``: they become empty strings.
        """
        self.update_profile(user, claims)
        self.apply_roles(user, claims)
        return user

    def update_profile(self, user: User, claims: dict[str, Any]) -> None:
        """Copy the name and, when the provider verified it, the email onto ``user``."""
        values = {
            "first_name": claims.get("given_name") or claims.get("name") or "",
            "last_name": claims.get("family_name") or "",
        }
        if "email" in claims and (claims.get("email_verified") is True or not claims["email"]):
            # An address the provider has not verified could be anyone's.
            values[user.get_email_field_name()] = claims["email"] or ""
        elif "email" in claims:
            logger.info("Not copying the unverified email of Logto sub %s", claims.get("sub"))
        changed = []
        for name, value in values.items():
            if not hasattr(user, name):
                continue
            field = user._meta.get_field(name)
            value = str(value)[: getattr(field, "max_length", None) or None]
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed.append(name)
        if changed:
            user.save(update_fields=changed)

    def apply_roles(self, user: User, claims: dict[str, Any]) -> None:
        """Set the flags and groups that ``LOGTO['ROLES']`` (and friends) give ``claims``.

        Without a ``roles`` claim (the scope was not granted, or the claim is malformed),
        leave everything as it is; an empty list removes every mapped right. Flags and
        groups that no mapping names are never touched.
        """
        if not logto_settings.maps_rights:
            return
        roles = roles_of(claims)
        if roles is None:
            logger.warning("No roles claim for Logto sub %s: rights left unchanged", claims["sub"])
            return
        rights = rights_for(roles, organization_roles_of(claims))
        changed = [
            flag
            for flag, value in rights.flags.items()
            if hasattr(user, flag) and getattr(user, flag) != value
        ]
        for flag in changed:
            setattr(user, flag, rights.flags[flag])
        if changed:
            user.save(update_fields=changed)
        if hasattr(user, "groups"):
            self._apply_groups(user, rights)

    def _apply_groups(self, user: User, rights: Rights) -> None:
        if rights.group_prefix:
            Group.objects.bulk_create(
                [
                    Group(name=name)
                    for name in rights.groups
                    if name.startswith(rights.group_prefix)
                ],
                ignore_conflicts=True,
            )
        wanted = list(Group.objects.filter(name__in=rights.groups))
        missing = rights.groups - {group.name for group in wanted}
        if missing:
            logger.warning(
                "LOGTO role mapping names groups that do not exist: %s. Create them.",
                ", ".join(sorted(missing)),
            )
        stale = [group for group in user.groups.all() if rights.manages(group.name)]
        user.groups.remove(*[group for group in stale if group.name not in rights.groups])
        user.groups.add(*wanted)

    def sync_memberships(self, identity: LogtoIdentity, claims: dict[str, Any]) -> None:
        """Record the organizations of ``claims`` and the user's roles in each."""
        if "organizations" not in claims and "organization_roles" not in claims:
            return
        memberships = organization_roles_of(claims)
        identity.memberships.exclude(organization_id__in=memberships).delete()
        for organization, roles in memberships.items():
            LogtoMembership.objects.update_or_create(
                identity=identity, organization_id=organization, defaults={"roles": sorted(roles)}
            )


def logto_backend() -> LogtoBackend:
    """Return the configured ``LogtoBackend`` (subclass) instance, or a default one."""
    found = [backend for backend in get_backends() if isinstance(backend, LogtoBackend)]
    return found[0] if found else LogtoBackend()
