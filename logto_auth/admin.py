from __future__ import annotations

from django.contrib import admin

from logto_auth.models import LogtoIdentity


@admin.register(LogtoIdentity)
class LogtoIdentityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("sub", "user", "synced_at")
    search_fields = ("sub", "user__username", "user__email")
    readonly_fields = ("user", "sub", "claims", "created_at", "synced_at")

    def has_add_permission(self, request: object) -> bool:
        return False
