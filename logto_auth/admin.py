"""The Logto side of users in the admin, and Logto's organizations with their members:
read-only, searchable by ``sub`` and by organization name or ID."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import ReadOnlyPasswordHashWidget
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from logto_auth._roles import rights_for
from logto_auth.conf import logto_settings
from logto_auth.models import LogtoIdentity, LogtoMembership, LogtoOrganization

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

__all__ = [
    "LogtoIdentityAdmin",
    "LogtoIdentityInline",
    "LogtoMembershipAdmin",
    "LogtoMembershipInline",
    "LogtoOrganizationAdmin",
    "LogtoUserAdminMixin",
    "extend_user_admin",
]

READ_ONLY = ("sub", "roles", "organizations", "synced_at", "console")


class ReadOnlyMixin:
    """Logto is the source of truth: nothing here is edited in Django."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityDisplayMixin:
    @admin.display(description=_("Logto roles"))
    def roles(self, identity: LogtoIdentity) -> str:
        return ", ".join(identity.roles) or "—"

    @admin.display(description=_("Organizations (roles)"))
    def organizations(self, identity: LogtoIdentity) -> str:
        memberships = identity.memberships.all()
        return (
            format_html_join(
                ", ",
                "{} ({})",
                ((m.organization_id, ", ".join(m.roles) or _("member")) for m in memberships),
            )
            or "—"
        )

    @admin.display(description=_("Logto Console"))
    def console(self, identity: LogtoIdentity) -> str:
        if not logto_settings.console_url:
            return str(_("Set LOGTO['CONSOLE_URL'] to link here."))
        url = f"{logto_settings.console_url}/users/{identity.sub}"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Open in Logto")
        )


class LogtoIdentityInline(ReadOnlyMixin, IdentityDisplayMixin, admin.StackedInline):  # type: ignore[type-arg]
    """The Logto side of a user (``sub``, roles, organizations), read-only, on the user's page."""

    model = LogtoIdentity
    fields = READ_ONLY
    readonly_fields = READ_ONLY
    verbose_name_plural = _("Logto")


class PasswordNoticeWidget(ReadOnlyPasswordHashWidget):
    """The password row of a user who cannot be given a password here: no button."""

    template_name = "logto_auth/widgets/password.html"

    def __init__(self, *, managed_by_logto: bool) -> None:
        super().__init__()
        self.managed_by_logto = managed_by_logto

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        return {
            **super().get_context(name, value, attrs),
            "managed_by_logto": self.managed_by_logto,
        }


class LogtoUserAdminMixin:
    """Show the Logto side on a user admin. Mixed into the registered one automatically."""

    inlines: Any
    list_display: Any
    search_fields: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, added in (
            ("inlines", [LogtoIdentityInline]),
            ("list_display", ["logto_sub", "logto_roles"]),
            ("search_fields", ["logto_identity__sub"]),
        ):
            current = list(getattr(cls, name, ()))
            setattr(cls, name, current + [item for item in added if item not in current])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if obj is not None and getattr(obj, "logto_identity", None) is not None:
            # The role mapping sets these at every sign-in: edit roles in Logto instead.
            fields += [flag for flag in rights_for([], {}).flags if flag not in fields]
        return fields

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)  # type: ignore[misc]
        logto_user = obj is not None and getattr(obj, "logto_identity", None) is not None
        may_set = self.has_change_permission(request, obj) and (  # type: ignore[attr-defined]
            not logto_user or logto_settings.admin_password_login
        )
        if obj is None or may_set or "password" not in form.base_fields:
            return form

        class NoPasswordButton(form):  # type: ignore[misc, valid-type]
            # Django's "Set password" button leads a view-only user to a bare 403, and a
            # Logto user's password lives in Logto.
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                field = self.fields["password"]
                field.widget = PasswordNoticeWidget(managed_by_logto=logto_user)
                field.help_text = ""

        return NoPasswordButton

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("logto_identity")  # type: ignore[misc, no-any-return]

    @admin.display(description=_("Logto sub"), ordering="logto_identity__sub")
    def logto_sub(self, user: Any) -> str:
        identity = getattr(user, "logto_identity", None)
        return identity.sub if identity else "—"

    @admin.display(description=_("Logto roles"))
    def logto_roles(self, user: Any) -> str:
        identity = getattr(user, "logto_identity", None)
        return ", ".join(identity.roles) if identity and identity.roles else "—"


def extend_user_admin(site: admin.AdminSite) -> None:
    """Mix ``LogtoUserAdminMixin`` into the user admin registered on ``site``."""
    user_model = get_user_model()
    current = site._registry.get(user_model)
    if current is None or isinstance(current, LogtoUserAdminMixin):
        return
    site.unregister(user_model)
    site.register(user_model, type("LogtoUserAdmin", (LogtoUserAdminMixin, type(current)), {}))


@admin.register(LogtoIdentity)
class LogtoIdentityAdmin(ReadOnlyMixin, IdentityDisplayMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Logto identities, read-only, searchable by ``sub``, username and email."""

    list_display = ("sub", "user", "roles", "synced_at")
    search_fields = ("sub", "user__username", "user__email")
    fields = ("user", *READ_ONLY, "claims", "created_at")
    readonly_fields = fields


class MembershipDisplayMixin:
    @admin.display(description=_("Organization roles"))
    def organization_roles(self, membership: LogtoMembership) -> str:
        return ", ".join(membership.roles) or str(_("member"))


@admin.register(LogtoMembership)
class LogtoMembershipAdmin(ReadOnlyMixin, MembershipDisplayMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Organization memberships as of the last sync, read-only, searchable by ``sub`` and
    by organization ID or name."""

    list_display = ("identity", "organization_id", "organization_roles")
    list_select_related = ("identity",)
    search_fields = ("identity__sub", "organization__id", "organization__name")
    fields = ("identity", "organization_id", "organization_roles")
    readonly_fields = fields


class LogtoMembershipInline(ReadOnlyMixin, MembershipDisplayMixin, admin.TabularInline):  # type: ignore[type-arg]
    """The members of an organization and their roles in it, on the organization's page."""

    model = LogtoMembership
    fields = ("identity", "user", "organization_roles")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("Members")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("identity__user")

    @admin.display(description=_("User"))
    def user(self, membership: LogtoMembership) -> str:
        return str(membership.identity.user)


@admin.register(LogtoOrganization)
class LogtoOrganizationAdmin(ReadOnlyMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Logto organizations as Logto last described them, read-only, with their members;
    searchable by name and ID."""

    list_display = ("name", "id", "description", "updated_at")
    search_fields = ("name", "id")
    fields = ("id", "name", "description", "updated_at")
    readonly_fields = fields
    inlines = (LogtoMembershipInline,)


extend_user_admin(admin.site)
