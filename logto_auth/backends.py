"""Turn the claims of a validated Logto ID token into a Django user."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import IntegrityError, transaction
from django.utils import timezone

from logto_auth.models import LogtoIdentity

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


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
        user = self.configure_user(request, identity.user, logto_claims, created)
        identity.claims = logto_claims
        identity.synced_at = timezone.now()
        identity.save(update_fields=["claims", "synced_at"])
        if not self.user_can_authenticate(user):
            logger.info("Django user %s (Logto sub %s) is inactive", user.pk, identity.sub)
            return None
        return user

    def get_or_create_user(self, claims: dict[str, Any]) -> tuple[LogtoIdentity, bool] | None:
        """Return the identity for ``claims['sub']`` and whether it was created now."""
        sub = claims["sub"]
        identity = LogtoIdentity.objects.select_related("user").filter(sub=sub).first()
        if identity is not None:
            return identity, False
        if not self.create_unknown_user:
            return None
        try:
            with transaction.atomic():
                user = self.create_user(claims)
                return LogtoIdentity.objects.create(user=user, sub=sub), True
        except IntegrityError:
            # Two first sign-ins of one Logto user raced; the other one created it.
            return LogtoIdentity.objects.select_related("user").get(sub=sub), False

    def create_user(self, claims: dict[str, Any]) -> User:
        """Create the Django user for a new Logto user, with an unusable password."""
        user_model = get_user_model()
        username = self.make_username(claims)
        user: User = user_model._default_manager.create_user(
            **{user_model.USERNAME_FIELD: username}
        )
        return user

    def make_username(self, claims: dict[str, Any]) -> str:
        """By default, return the Logto username (or the email's local part), made unique."""
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        limit = getattr(field, "max_length", None) or 150
        base = claims.get("username") or (claims.get("email") or "").partition("@")[0]
        base = str(base or "logto")[:limit]
        sub = str(claims["sub"])
        for candidate in (base, f"{base[: limit - len(sub) - 1]}-{sub}", sub[:limit]):
            if not user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: candidate}
            ).exists():
                return candidate
        return sub[:limit]

    def configure_user(
        self,
        request: HttpRequest | None,
        user: User,
        claims: dict[str, Any],
        created: bool,
    ) -> User:
        """By default, copy name and email from the claims; return the user.

        Runs at every sign-in. Logto sends unset profile claims as ``null``: they become
        empty strings.
        """
        values = {
            "first_name": claims.get("given_name") or claims.get("name") or "",
            "last_name": claims.get("family_name") or "",
            user.get_email_field_name(): claims.get("email") or "",
        }
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
        return user
