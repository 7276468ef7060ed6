"""What logto_auth stores: the Logto identity of a user, the organizations they belong to,
their sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LogtoIdentity", "LogtoMembership", "LogtoOrganization", "LogtoSession"]


class LogtoIdentity(models.Model):
    """Links a Django user to a Logto user, by the only stable key Logto gives: ``sub``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="logto_identity"
    )
    sub = models.CharField(_("Logto user ID"), max_length=255, unique=True)
    claims = models.JSONField(
        default=dict, blank=True, help_text=_("The ID token claims of the last sign-in.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When Logto's data last changed this user."
    )
    synced_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="What was last applied (claims, role mapping, the user's fields): a "
        "sign-in or refresh that brings the same writes nothing.",
    )
    last_event_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When Logto created the last webhook event applied to this user; "
            "older events are ignored."
        ),
    )
    last_event_digests = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "SHA-256 of the body of each webhook event created at last_event_at and "
            "applied to this user; they are not applied again."
        ),
    )

    class Meta:
        verbose_name = _("Logto identity")
        verbose_name_plural = _("Logto identities")

    def __str__(self) -> str:
        return self.sub

    @classmethod
    def for_sub(cls, sub: str) -> LogtoIdentity | None:
        """Return the identity of the Logto user ``sub`` with its Django user, or ``None``."""
        # ``sub`` is unique: no ORDER BY, which ``first()`` would add (and compile) for nothing.
        return next(iter(cls.objects.select_related("user").filter(sub=sub)[:1]), None)

    @property
    def roles(self) -> list[str]:
        """The Logto roles of the last sync."""
        value = self.claims.get("roles")
        return [role for role in value if isinstance(role, str)] if isinstance(value, list) else []

    @property
    def organizations(self) -> list[str]:
        return sorted(self.memberships.values_list("organization_id", flat=True))


class LogtoOrganization(models.Model):
    """A Logto organization as Logto last described it to the site.

    Learned from the ``organization_data`` of userinfo at a sign-in or sync that names an
    organization the site does not know, or heard of longer ago than
    ``LogtoBackend.organization_data_max_age`` (``updated_at``), and kept fresh by the
    organization webhooks (created, updated, deleted). Query it for what to show, e.g.
    ``LogtoOrganization.objects.filter(memberships__identity__user=user)``.
    """

    id = models.CharField(_("Logto organization ID"), max_length=255, primary_key=True)
    name = models.CharField(max_length=255)
    # Logto's own value: null when unset, which an empty description is not.
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    updated_at = models.DateTimeField(
        auto_now=True,
        help_text="When Logto last described it to the site (userinfo or a webhook): a "
        "sign-in or sync asks userinfo again once this is older than the backend's "
        "organization_data_max_age.",
    )
    last_event_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Logto created the last webhook event applied to this organization; "
        "older events are ignored.",
    )
    last_event_digests = models.JSONField(
        default=list,
        blank=True,
        help_text="SHA-256 of the body of each webhook event created at last_event_at and "
        "applied to this organization; they are not applied again.",
    )

    class Meta:
        verbose_name = _("Logto organization")
        verbose_name_plural = _("Logto organizations")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or self.id


class LogtoMembership(models.Model):
    """A user's membership of a Logto organization and their roles in it, as of the last sync.

    Query it to decide per organization, e.g.
    ``LogtoMembership.objects.filter(identity__user=user, organization_id=org_id)``.
    ``organization`` is the ``LogtoOrganization`` when the site knows it (a membership is
    recorded from the ID token, before or without the organization's data).
    """

    identity = models.ForeignKey(
        LogtoIdentity, on_delete=models.CASCADE, related_name="memberships"
    )
    # Same column as before (organization_id), no database constraint: a membership may
    # name an organization whose data the site has not learned (yet).
    organization = models.ForeignKey(
        LogtoOrganization,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="memberships",
        verbose_name=_("Logto organization"),
    )
    roles = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("Logto organization membership")
        constraints = [
            models.UniqueConstraint(
                fields=["identity", "organization"], name="logto_auth_unique_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.identity.sub} in {self.organization_id}"


class LogtoSession(models.Model):
    """Which Django session belongs to which Logto session (``sid``) and user (``sub``).

    Written at sign-in so that a back-channel logout or a webhook, received by any
    instance, can end the Django sessions it names.
    """

    sid = models.CharField(_("Logto session ID"), max_length=255, blank=True, db_index=True)
    sub = models.CharField(_("Logto user ID"), max_length=255, db_index=True)
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("Logto session")
        verbose_name_plural = _("Logto sessions")

    def __str__(self) -> str:
        return f"{self.sub} {self.sid}"
