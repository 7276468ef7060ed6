"""Turn the claims of a validated Logto ID token into a Django user, with the Django
rights its roles give (``LOGTO['ROLES']`` and friends), written only when something
changed; the organizations Logto describes, as Django data; and organization permissions
answered as object permissions, for the user of the request ``LogtoMiddleware`` serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_backends, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, UserManager
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from logto_auth import _organization_data, _organization_permissions
from logto_auth._roles import FLAGS, apply_rights, rights_of
from logto_auth._tokens import ORGANIZATION_DATA
from logto_auth.conf import logto_settings
from logto_auth.exceptions import AccessDenied
from logto_auth.models import LogtoIdentity
from logto_auth.signals import logto_user_synced

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser, User
    from django.http import HttpRequest

__all__ = ["LogtoBackend", "logto_backend"]

logger = logging.getLogger(__name__)


class LogtoBackend(ModelBackend):
    """Authenticate users by their Logto ``sub``, never by email or username.

    Subclass it and override the hooks below to change how users are created and kept up
    to date. Permissions work as with ``ModelBackend``.
    """

    create_unknown_user = True
    """Create a Django user the first time a Logto user signs in (default ``True``)."""

    volatile_claims = frozenset(
        {"iat", "exp", "nbf", "auth_time", "at_hash", "c_hash", "nonce", "jti", "sid"}
    )
    """Claims that change with every token without saying anything new about the user:
    ``claims_digest`` leaves them out."""

    organization_data_max_age = 3600
    """Seconds after which a sign-in or sync asks userinfo again for the data (name,
    description) of an organization the user belongs to (default an hour), and records
    it. Userinfo is asked at once for an organization the site does not know; the
    organization webhooks keep the data fresh in between."""

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

    def organization_of(self, obj: object) -> str | None:
        """Return the Logto organization an object permission is asked for, or ``None``.

        By default, ``obj`` itself when it is a string (an organization id), else its
        ``id`` when that is a string (``request.logto.organization``, an organization row).
        """
        value = obj if isinstance(obj, str) else getattr(obj, "id", None)
        return value if isinstance(value, str) and value else None

    def has_perm(
        self, user_obj: AbstractBaseUser | AnonymousUser, perm: str, obj: object = None
    ) -> bool:
        """Answer ``user.has_perm(permission, organization)`` from the user's organization
        token (see ``organization_of``); other permissions as ``ModelBackend``.

        ``False`` for a non-member, an inactive user, a user other than the request's, and
        outside a request served by ``LogtoMiddleware``; never raises. Django answers
        ``True`` for an active superuser before asking any backend.
        """
        organization_id = self.organization_of(obj) if obj is not None else None
        if organization_id is None:
            return super().has_perm(user_obj, perm, obj)  # type: ignore[arg-type]
        return _organization_permissions.has_perm(user_obj, perm, organization_id)

    async def ahas_perm(
        self, user_obj: AbstractBaseUser | AnonymousUser, perm: str, obj: object = None
    ) -> bool:
        """Like ``has_perm``, from async code (``await user.ahas_perm(...)``)."""
        organization_id = self.organization_of(obj) if obj is not None else None
        if organization_id is None:
            return await super().ahas_perm(user_obj, perm, obj)  # type: ignore[arg-type]
        return await _organization_permissions.ahas_perm(user_obj, perm, organization_id)

    def sync_user(
        self,
        request: HttpRequest | None,
        user: User,
        claims: dict[str, Any],
        *,
        created: bool = False,
    ) -> User:
        """Bring ``user`` in line with ``claims`` (sign-in, token refresh, webhooks).

        When the claims or the role mapping changed since the last time (``claims_digest``),
        runs ``configure_user``, records the claims and organization memberships on the
        identity, and sends ``logto_user_synced``; otherwise writes nothing. The
        ``organization_data`` that userinfo answered, when it was asked, goes to
        ``sync_organizations`` (and is left out of the claims recorded).
        """
        identity = user.logto_identity
        if ORGANIZATION_DATA in claims:
            # The database keeps it, not the claims: recorded whatever the digest says.
            claims = dict(claims)
            self.describe_organizations(claims, claims.pop(ORGANIZATION_DATA), created=created)
        if not created and identity.synced_digest == self.claims_digest(claims, user):
            return user
        with transaction.atomic():
            user = self.configure_user(request, user, claims, created)
            identity.claims = claims
            identity.synced_at = timezone.now()
            identity.synced_digest = self.claims_digest(claims, user)
            identity.save(update_fields=["claims", "synced_at", "synced_digest"])
            self.sync_memberships(identity, claims, created=created)
        logto_user_synced.send(sender=type(self), user=user, claims=claims, created=created)
        return user

    def claims_digest(self, claims: dict[str, Any], user: User) -> str:
        """Return what ``sync_user`` compares to tell whether anything changed.

        By default, a SHA-256 of the claims less those that change with every token
        (``volatile_claims``); of ``LOGTO['ROLES']``, ``ORGANIZATION_ROLES`` and
        ``ROLE_GROUPS_PREFIX``; of this backend's class; and of the user's name, email and
        flags as they are: a new mapping, a new backend or an edit of the user in Django
        is set right at the user's next sign-in or refresh, as a change at Logto is.
        """
        stable = {name: value for name, value in claims.items() if name not in self.volatile_claims}
        fields = ["first_name", "last_name", user.get_email_field_name(), *FLAGS]
        text = json.dumps(
            [
                stable,
                logto_settings.roles,
                logto_settings.organization_roles,
                logto_settings.role_groups_prefix,
                f"{type(self).__module__}.{type(self).__qualname__}",
                [getattr(user, name, None) for name in fields],
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()

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
                    if hasattr(user, "groups"):
                        # A user created this instant has no groups: as if prefetched, so
                        # that the role mapping spares the query.
                        user._prefetched_objects_cache = {"groups": Group.objects.none()}  # type: ignore[attr-defined]
                    return LogtoIdentity.objects.create(user=user, sub=sub), True
            except IntegrityError:
                # Either the first sign-ins of one Logto user raced and the other one
                # created it, or the username was taken since we looked: try the next.
                identity = LogtoIdentity.for_sub(sub)
                if identity is not None:
                    return identity, False
        raise AccessDenied(_("No username is free for this account; please contact the site."))

    def create_user(self, claims: dict[str, Any], username: str) -> User:
        """Create the Django user for a new Logto user, with an unusable password.

        With Django's ``UserManager``, the user is created with the name, email and flags
        that ``configure_user`` would give it next, so that it need not save them again.
        """
        user_model = get_user_model()
        manager = user_model._default_manager
        fields = self._initial_fields(claims) if isinstance(manager, UserManager) else {}
        user: User = manager.create_user(**{user_model.USERNAME_FIELD: username}, **fields)
        return user

    def _initial_fields(self, claims: dict[str, Any]) -> dict[str, Any]:
        draft = get_user_model()()
        fields = {name: getattr(draft, name) for name in self.update_profile(draft, claims)}
        rights = rights_of(claims)
        if rights is not None:
            fields.update({flag: on for flag, on in rights.flags.items() if hasattr(draft, flag)})
        return fields

    def make_username(self, claims: dict[str, Any]) -> str:
        """By default, return the Logto username, or the email's local part, or ``logto``."""
        base = claims.get("username") or (claims.get("email") or "").partition("@")[0]
        return str(base or "logto")

    def username_candidates(self, claims: dict[str, Any]) -> Iterator[str]:
        """Yield usernames to try for a new user, each fitting the username field.

        ``make_username``, then it with the ``sub``, then random suffixes: names someone
        registered ahead (on a site with its own sign-up) can never block a sign-in. A
        taken one is found by trying it (the insert fails), not by a query per name.
        """
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        limit = getattr(field, "max_length", None) or 150
        base, sub = self.make_username(claims)[:limit], str(claims["sub"])
        tried = [base, f"{base[: limit - len(sub) - 1]}-{sub}"[:limit]]
        tried += [f"{base[: limit - 9]}-{secrets.token_hex(4)}" for _ in range(5)]
        yield from dict.fromkeys(tried)

    def configure_user(
        self,
        request: HttpRequest | None,
        user: User,
        claims: dict[str, Any],
        created: bool,
    ) -> User:
        """By default, copy name and email and apply the role mapping; return the user.

        Runs when what Logto says of the user changed (``sync_user``): at a first sign-in,
        and at sign-ins, refreshes and webhooks that bring new claims. Logto sends unset
        profile claims as ``null``: they become empty strings. The fields that
        ``update_profile`` and ``apply_roles`` changed are saved in one query.
        """
        changed = [*self.update_profile(user, claims), *self.apply_roles(user, claims)]
        if changed:
            user.save(update_fields=changed)
        return user

    def update_profile(self, user: User, claims: dict[str, Any]) -> list[str]:
        """Copy the name and, when the provider verified it, the email onto ``user``.

        Return the names of the fields it changed, unsaved (``configure_user`` saves them).
        """
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
        return changed

    def apply_roles(self, user: User, claims: dict[str, Any]) -> list[str]:
        """Set the flags and groups that ``LOGTO['ROLES']`` (and friends) give ``claims``.

        Without a ``roles`` claim (the scope was not granted, or the claim is malformed),
        leave everything as it is; an empty list removes every mapped right. Flags and
        groups that no mapping names are never touched. Groups are saved at once; return
        the names of the flags it changed, unsaved (``configure_user`` saves them).
        """
        if not logto_settings.maps_rights:
            return []
        rights = rights_of(claims)
        if rights is None:
            logger.warning("No roles claim for Logto sub %s: rights left unchanged", claims["sub"])
            return []
        return apply_rights(user, rights)

    def sync_memberships(
        self, identity: LogtoIdentity, claims: dict[str, Any], *, created: bool = False
    ) -> None:
        """Record the organizations of ``claims`` and the user's roles in each."""
        _organization_data.record_memberships(identity, claims, created=created)

    def organizations_to_describe(self, claims: dict[str, Any]) -> list[str]:
        """Return the organizations of ``claims`` whose data userinfo should be asked for.

        By default, those unknown here or last described more than
        ``organization_data_max_age`` seconds ago: one query when the claims name an
        organization, none otherwise. Return ``[]`` to leave the organizations' data to the
        webhooks alone (no provider call beyond the ID token's).
        """
        return _organization_data.undescribed(claims, self.organization_data_max_age)

    def describe_organizations(
        self, claims: dict[str, Any], described: Any, *, created: bool = False
    ) -> list[str]:
        """Record the organizations of ``claims`` that need it, from ``described``:
        userinfo's ``organization_data``, or a function that asks userinfo for it, called
        only when an organization needs describing. Return the IDs recorded.

        At a user's first sign-in (``created``) every organization of the claims is
        described, unasked (what is a new user's is rarely known, and asking would cost
        that sign-in a query); otherwise those ``organizations_to_describe`` names.
        """
        if created:
            wanted = _organization_data.named(claims)
        else:
            wanted = set(self.organizations_to_describe(claims))
        if not wanted:
            return []
        return self.sync_organizations(_organization_data.entries(described, wanted))

    def sync_organizations(self, described: Any) -> list[str]:
        """Record organizations as Logto describes them, ``[{id, name, description}, ...]``
        (userinfo's ``organization_data``, or a webhook's organization), in one query;
        return the IDs recorded.

        Sign-ins and syncs describe only the organizations ``organizations_to_describe``
        named: one the site knows and heard of lately is not written again. Malformed
        entries are left out.
        """
        return _organization_data.record_organizations(described)


def logto_backend() -> LogtoBackend:
    """Return the configured ``LogtoBackend`` (subclass) instance, or a default one."""
    found = [backend for backend in get_backends() if isinstance(backend, LogtoBackend)]
    return found[0] if found else LogtoBackend()
