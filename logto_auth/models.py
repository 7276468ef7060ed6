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
