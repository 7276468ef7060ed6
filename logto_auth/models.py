from __future__ import annotations

from django.conf import settings
from django.db import models


class LogtoIdentity(models.Model):
    """Links a Django user to a Logto user, by the only stable key Logto gives: ``sub``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="logto_identity"
    )
    sub = models.CharField("Logto user ID", max_length=255, unique=True)
    claims = models.JSONField(
        default=dict, blank=True, help_text="The ID token claims of the last sign-in."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Logto identity"
        verbose_name_plural = "Logto identities"

    def __str__(self) -> str:
        return self.sub


class LogtoSession(models.Model):
    """Which Django session belongs to which Logto session (``sid``) and user (``sub``).

    Written at sign-in so that a back-channel logout or a webhook, received by any
    instance, can end the Django sessions it names.
    """

    sid = models.CharField("Logto session ID", max_length=255, blank=True, db_index=True)
    sub = models.CharField("Logto user ID", max_length=255, db_index=True)
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "Logto session"
        verbose_name_plural = "Logto sessions"

    def __str__(self) -> str:
        return f"{self.sub} {self.sid}"
