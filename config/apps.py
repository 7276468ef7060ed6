from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class DemoConfig(AppConfig):
    """The demo site: after migrations, the "Staff" group its role mapping names."""

    name = "config"
    label = "demo"

    def ready(self) -> None:
        # Sent after auth created the permissions of every app up to logto_auth.
        post_migrate.connect(create_staff_group, sender=apps.get_app_config("logto_auth"))


def create_staff_group(**kwargs: Any) -> None:
    """Give the group of the Logto role ``staff`` every view permission."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name="Staff")
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
