from __future__ import annotations

from django.apps import AppConfig


class LogtoAuthConfig(AppConfig):
    name = "logto_auth"
    verbose_name = "Logto"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from logto_auth import (
            checks,  # noqa: F401  (registers the system checks)
            signals,  # noqa: F401  (connects the receivers)
        )
