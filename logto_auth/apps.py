"""The Django applications: ``logto_auth`` itself, and an admin whose login goes through Logto."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _

__all__ = ["LogtoAdminConfig", "LogtoAuthConfig"]


class LogtoAuthConfig(AppConfig):
    """The ``logto_auth`` app: registers the system checks and connects the signal receivers."""

    name = "logto_auth"
    verbose_name = _("Logto")
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from logto_auth import (
            _api_users,  # noqa: F401  (connects its receivers)
            checks,  # noqa: F401  (registers the system checks)
            signals,  # noqa: F401  (connects the receivers)
        )


class LogtoAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with a default site whose login goes through Logto."""

    default = False
    default_site = "logto_auth.sites.LogtoAdminSite"
