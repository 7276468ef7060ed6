"""The one object through which logto_auth reads ``settings.LOGTO``.

Every key is declared once, in ``SETTINGS``: its default, how it is validated, the id of
the system check that reports a bad value, and the line of the settings reference in the
manual (docs/settings.md; a test holds it to this table). Values are read live on every access, so
``override_settings`` just works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Settings", "logto_settings"]

RIGHTS: dict[str, type] = {"is_staff": bool, "is_superuser": bool, "groups": list}
ORGANIZATIONS_SCOPE = "urn:logto:scope:organizations"
# The resource whose scopes are the organization permissions (Logto reserves it).
ORGANIZATIONS_RESOURCE = "urn:logto:resource:organizations"
DEFAULT_SCOPES = [
    "email",
    "roles",
    "urn:logto:scope:organizations",
    "urn:logto:scope:organization_roles",
]


def _required_string(value: Any) -> str | None:
    return (
        None if isinstance(value, str) and value else "is required and must be a non-empty string"
    )


def _strings(value: Any) -> str | None:
    ok = isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value)
    return None if ok else "must be a list of non-empty strings"


def _seconds(least: float, *, optional: bool = False) -> Callable[[Any], str | None]:
    def validate(value: Any) -> str | None:
        if optional and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
            return f"must be a number of seconds >= {least}" + (" or None" if optional else "")
        return None

    return validate


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _optional_string(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string or None"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be True or False"


def _count(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "must be an integer >= 0"


def _mapping(organizations: bool) -> Callable[[Any], str | None]:
    def validate(mapping: Any) -> str | None:
        if not isinstance(mapping, dict):
            return "must be a dict of role name to rights"
        for role, rights in mapping.items():
            if organizations and (not isinstance(role, str) or ":" not in role):
                return f"[{role!r}]: keys are '<organization id>:<role>' or '*:<role>'"
            if not isinstance(rights, dict):
                return f"[{role!r}] must be a dict such as {{'is_staff': True}}"
            for name, value in rights.items():
                expected = RIGHTS.get(name)
                if expected is None:
                    return f"[{role!r}] has unknown right {name!r} (known: {', '.join(RIGHTS)})"
                if not isinstance(value, expected) or (
                    isinstance(value, list) and not all(isinstance(g, str) for g in value)
                ):
                    return f"[{role!r}][{name!r}] must be a {expected.__name__}"
        return None

    return validate


@dataclass(frozen=True)
class Setting:
    """One key of ``settings.LOGTO``."""

    name: str
    default: Any
    validate: Callable[[Any], str | None]
    doc: str
    check_id: str = "logto_auth.E004"
    required: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("ENDPOINT", "", _required_string, "Logto endpoint, without `/oidc`", "logto_auth.E002", True),
    Setting("APP_ID", "", _required_string, "the Traditional web application's ID", "logto_auth.E002", True),
    Setting("APP_SECRET", "", _required_string, "the Traditional web application's secret", "logto_auth.E002", True),
    Setting("SCOPES", DEFAULT_SCOPES, _strings, "scopes on top of the SDK's `openid offline_access profile`"),
    Setting("RESOURCES", [], _strings, "API resource indicators to request access tokens for"),
    Setting("PROMPT", "consent", _one_of("consent", "login"), "`consent` (needed for refresh tokens) or `login`"),
    Setting("TIMEOUT", 10.0, _seconds(0.001), "seconds allowed for each call to Logto"),
    Setting("LEEWAY", 60, _seconds(0), "seconds of clock skew allowed when checking token times"),
    Setting("ROLES", {}, _mapping(False), 'Logto role → `{"is_staff": bool, "is_superuser": bool, "groups": [...]}`', "logto_auth.E009"),
    Setting("ORGANIZATION_ROLES", {}, _mapping(True), '`"<org id>:<role>"` or `"*:<role>"` → the same shape', "logto_auth.E009"),
    Setting("ROLE_GROUPS_PREFIX", None, _optional_string, "mirror every Logto role as a group named prefix + role"),
    Setting("ADMIN_DIRECT_SIGN_IN", None, _optional_string, 'send admin logins straight to a connector, e.g. `"social:azuread"`'),
    Setting("ADMIN_PASSWORD_LOGIN", False, _boolean, "keep Django's password form on `/admin/login/` (with a Logto button)"),
    Setting("CONSOLE_URL", None, _optional_string, "the Logto Console (e.g. `https://cloud.logto.io/<tenant>`), for links from the user admin"),
    Setting("API_RESOURCES", [], _strings, "resource indicators of the APIs this site serves: the audiences its API views accept (see [Protect your API](api.md))"),
    Setting("API_TOKEN_CACHE_SIZE", 1024, _count, "verified access tokens remembered per process, and as many of their users (`0`: none)"),
    Setting("API_USER_MAX_AGE", 5, _seconds(0), "seconds a bearer request may take its token's user as this process read it from the database, without a query (`0`: read for every request); a change to the user saved in this process applies at once, one saved by another process within this time"),
    Setting("END_SESSION_WITH_REFRESH_TOKEN", True, _boolean, "end the Django session (not only forget the Logto tokens) when Logto no longer honours the refresh token (`invalid_grant`, or `active: false` on re-validation)"),
    Setting("REVALIDATE_INTERVAL", 0, _seconds(0), "seconds after which the middleware asks Logto (token introspection, one call) whether the refresh token is still honoured; `0`: never"),
    Setting("SYNC_INTERVAL", 300, _seconds(1, optional=True), "seconds after which the next request of a signed-in user refreshes their tokens and re-applies their Logto roles (see [Roles, rights and the admin](roles.md)), once per user: the user's other sessions adopt what that sync got, through the shared cache ([Capacity](deployment.md#capacity)); `None`: only at sign-in and refresh"),
    Setting("ORGANIZATION_PERMISSIONS", [], _strings, "organization permissions the sign-in asks for, with the resource `urn:logto:resource:organizations`: organization tokens carry only these (see [Organizations](organizations.md))", "logto_auth.E013"),
    Setting("WEBHOOK_SIGNING_KEY", "", _string, "the signing key of the Logto webhook; empty: webhooks are refused"),
)  # fmt: skip
BY_NAME = {setting.name: setting for setting in SETTINGS}


class Settings:
    """Typed, validated access to the ``LOGTO`` setting."""

    @property
    def raw(self) -> dict[str, Any]:
        value = getattr(django_settings, "LOGTO", None)
        return value if isinstance(value, dict) else {}

    def _get(self, key: str) -> Any:
        setting = BY_NAME[key]
        value = self.raw.get(key, setting.default)
        if setting.required and not value:
            raise ImproperlyConfigured(f"settings.LOGTO['{key}'] is required.")
        return value

    @property
    def endpoint(self) -> str:
        return str(self._get("ENDPOINT")).rstrip("/")

    @property
    def issuer(self) -> str:
        # Logto serves OpenID Connect under /oidc and names that URL as its issuer.
        return f"{self.endpoint}/oidc"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def app_id(self) -> str:
        return str(self._get("APP_ID"))

    @property
    def app_secret(self) -> str:
        return str(self._get("APP_SECRET"))

    @property
    def scopes(self) -> list[str]:
        return list(self._get("SCOPES"))

    @property
    def resources(self) -> list[str]:
        return list(self._get("RESOURCES"))

    @property
    def organization_permissions(self) -> list[str]:
        return list(self._get("ORGANIZATION_PERMISSIONS"))

    @property
    def sign_in_scopes(self) -> list[str]:
        """The scopes the sign-in asks for: ``SCOPES``, and with ``ORGANIZATION_PERMISSIONS``
        the organizations scope (organization tokens need it) and those permissions."""
        scopes = self.scopes
        permissions = self.organization_permissions
        if permissions:
            scopes = [*scopes, ORGANIZATIONS_SCOPE, *permissions]
        return list(dict.fromkeys(scopes))

    @property
    def prompt(self) -> str:
        return str(self._get("PROMPT"))

    @property
    def timeout(self) -> float:
        return float(self._get("TIMEOUT"))

    @property
    def leeway(self) -> int:
        return int(self._get("LEEWAY"))

    @property
    def roles(self) -> dict[str, dict[str, Any]]:
        return dict(self._get("ROLES"))

    @property
    def organization_roles(self) -> dict[str, dict[str, Any]]:
        return dict(self._get("ORGANIZATION_ROLES"))

    @property
    def role_groups_prefix(self) -> str | None:
        return self._get("ROLE_GROUPS_PREFIX") or None

    @property
    def admin_direct_sign_in(self) -> str | None:
        return self._get("ADMIN_DIRECT_SIGN_IN") or None

    @property
    def admin_password_login(self) -> bool:
        return bool(self._get("ADMIN_PASSWORD_LOGIN"))

    @property
    def console_url(self) -> str | None:
        value = self._get("CONSOLE_URL")
        return str(value).rstrip("/") if value else None

    @property
    def api_resources(self) -> list[str]:
        return list(self._get("API_RESOURCES"))

    @property
    def api_token_cache_size(self) -> int:
        return int(self._get("API_TOKEN_CACHE_SIZE"))

    @property
    def api_user_max_age(self) -> float:
        return float(self._get("API_USER_MAX_AGE"))

    @property
    def end_session_with_refresh_token(self) -> bool:
        return bool(self._get("END_SESSION_WITH_REFRESH_TOKEN"))

    @property
    def revalidate_interval(self) -> float:
        return float(self._get("REVALIDATE_INTERVAL"))

    @property
    def sync_interval(self) -> float | None:
        value = self._get("SYNC_INTERVAL")
        return None if value is None else float(value)

    @property
    def webhook_signing_key(self) -> str:
        return str(self._get("WEBHOOK_SIGNING_KEY"))

    @property
    def maps_rights(self) -> bool:
        """Whether any role mapping is configured (else roles are never looked at)."""
        return bool(self.roles or self.organization_roles or self.role_groups_prefix)

    def problems(self) -> list[tuple[Setting | None, str]]:
        """Return ``(setting, message)`` for each invalid value (``None``: the dict itself)."""
        if not hasattr(django_settings, "LOGTO"):
            return [(None, "settings.LOGTO is not set.")]
        raw = django_settings.LOGTO
        if not isinstance(raw, dict):
            return [(None, "settings.LOGTO must be a dict.")]
        found: list[tuple[Setting | None, str]] = []
        unknown = Setting("", None, _string, "", "logto_auth.E003")
        for key in sorted(set(raw) - set(BY_NAME), key=str):
            found.append((unknown, f"Unknown key LOGTO[{key!r}]."))
        for setting in SETTINGS:
            if setting.name not in raw and not setting.required:
                continue
            message = setting.validate(raw.get(setting.name))
            if message is not None:
                found.append((setting, f"LOGTO['{setting.name}'] {message}."))
        return found


logto_settings = Settings()
"""The ``LOGTO`` setting, read live: ``logto_settings.endpoint``, ``logto_settings.scopes``, …"""


def reference_table() -> str:
    """The settings reference as a Markdown table (docs/settings.md holds this text; a test checks)."""
    rows = ["| key | default | meaning |", "|-----|---------|---------|"]
    for setting in SETTINGS:
        if setting.required:
            default = "required"
        elif isinstance(setting.default, list) and setting.default:
            default = f"`{' '.join(setting.default)}`"
        else:
            default = f"`{setting.default!r}`"
        rows.append(f"| `{setting.name}` | {default} | {setting.doc} |")
    return "\n".join(rows)
