"""The one object through which logto_auth reads ``settings.LOGTO``.

Values are read live on every access, so ``override_settings`` just works, and the
defaults live here and nowhere else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "ENDPOINT": "",
    "APP_ID": "",
    "APP_SECRET": "",
    # The SDK always adds openid, offline_access and profile.
    "SCOPES": [
        "email",
        "roles",
        "urn:logto:scope:organizations",
        "urn:logto:scope:organization_roles",
    ],
    "RESOURCES": [],
    "PROMPT": "consent",
    # Seconds allowed for each call to the provider.
    "TIMEOUT": 10.0,
    # Seconds of clock skew tolerated when checking token times.
    "LEEWAY": 60,
    # Logto role name -> {"is_staff": bool, "is_superuser": bool, "groups": [group names]}.
    "ROLES": {},
    # "<organization id>:<role>" (or "*:<role>" for any organization) -> the same shape.
    "ORGANIZATION_ROLES": {},
    # When set, every Logto role also gets a Django group named prefix + role, kept in sync.
    "ROLE_GROUPS_PREFIX": None,
    # Admin login: where the sign-in sends admins (e.g. "social:azuread"), and whether the
    # admin keeps Django's password form.
    "ADMIN_DIRECT_SIGN_IN": None,
    "ADMIN_PASSWORD_LOGIN": False,
    # The Logto Console, for links from the user admin (e.g. https://cloud.logto.io/<tenant>).
    "CONSOLE_URL": None,
    # Resource indicators of the APIs this site serves: the accepted access token audiences.
    "API_RESOURCES": [],
    # Verified access tokens remembered per process (0: none).
    "API_TOKEN_CACHE_SIZE": 1024,
    # End the Django session when the provider rejects (or no longer has) the refresh token.
    "END_SESSION_WITH_REFRESH_TOKEN": True,
    # Seconds between checks that the Logto session is still alive (0: never check).
    "REVALIDATE_INTERVAL": 0,
    # The signing key of the Logto webhook (empty: webhooks are refused).
    "WEBHOOK_SIGNING_KEY": "",
}
REQUIRED = ("ENDPOINT", "APP_ID", "APP_SECRET")
PROMPTS = ("consent", "login")
RIGHTS: dict[str, type] = {"is_staff": bool, "is_superuser": bool, "groups": list}


class Settings:
    """Typed, validated access to the ``LOGTO`` setting."""

    @property
    def raw(self) -> dict[str, Any]:
        value = getattr(django_settings, "LOGTO", None)
        return value if isinstance(value, dict) else {}

    def _get(self, key: str) -> Any:
        value = self.raw.get(key, DEFAULTS[key])
        if key in REQUIRED and not value:
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
        value = self._get("ROLE_GROUPS_PREFIX")
        return str(value) if value else None

    @property
    def admin_direct_sign_in(self) -> str | None:
        value = self._get("ADMIN_DIRECT_SIGN_IN")
        return str(value) if value else None

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
    def end_session_with_refresh_token(self) -> bool:
        return bool(self._get("END_SESSION_WITH_REFRESH_TOKEN"))

    @property
    def revalidate_interval(self) -> int:
        return int(self._get("REVALIDATE_INTERVAL"))

    @property
    def webhook_signing_key(self) -> str:
        return str(self._get("WEBHOOK_SIGNING_KEY"))

    def problems(self) -> list[tuple[str, str]]:
        """Return ``(key, message)`` for each invalid value in ``settings.LOGTO``."""
        if not hasattr(django_settings, "LOGTO"):
            return [("LOGTO", "settings.LOGTO is not set.")]
        raw = django_settings.LOGTO
        if not isinstance(raw, dict):
            return [("LOGTO", "settings.LOGTO must be a dict.")]
        found: list[tuple[str, str]] = []
        for key in sorted(set(raw) - set(DEFAULTS)):
            found.append((key, f"Unknown key LOGTO['{key}']."))
        for key in REQUIRED:
            if not raw.get(key) or not isinstance(raw.get(key), str):
                found.append((key, f"LOGTO['{key}'] is required and must be a non-empty string."))
        for key in ("SCOPES", "RESOURCES"):
            value = raw.get(key, DEFAULTS[key])
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                found.append((key, f"LOGTO['{key}'] must be a list of strings."))
        if raw.get("PROMPT", DEFAULTS["PROMPT"]) not in PROMPTS:
            found.append(("PROMPT", f"LOGTO['PROMPT'] must be one of {', '.join(PROMPTS)}."))
        for key, least in (("TIMEOUT", 0.001), ("LEEWAY", 0), ("REVALIDATE_INTERVAL", 0)):
            value = raw.get(key, DEFAULTS[key])
            if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
                found.append((key, f"LOGTO['{key}'] must be a number of seconds >= {least}."))
        for key in ("ROLES", "ORGANIZATION_ROLES"):
            found += [(key, message) for message in _mapping_problems(key, raw.get(key, {}))]
        for key in ("ROLE_GROUPS_PREFIX", "ADMIN_DIRECT_SIGN_IN", "CONSOLE_URL"):
            if raw.get(key) is not None and not isinstance(raw.get(key), str):
                found.append((key, f"LOGTO['{key}'] must be a string or None."))
        if not isinstance(raw.get("END_SESSION_WITH_REFRESH_TOKEN", True), bool):
            found.append(
                (
                    "END_SESSION_WITH_REFRESH_TOKEN",
                    "LOGTO['END_SESSION_WITH_REFRESH_TOKEN'] must be a bool.",
                )
            )
        if not isinstance(raw.get("WEBHOOK_SIGNING_KEY", ""), str):
            found.append(("WEBHOOK_SIGNING_KEY", "LOGTO['WEBHOOK_SIGNING_KEY'] must be a string."))
        found.extend(self._api_problems(raw))
        return found

    def _api_problems(self, raw: dict[str, Any]) -> list[tuple[str, str]]:
        found = []
        resources = raw.get("API_RESOURCES", [])
        if not isinstance(resources, list | tuple) or not all(
            isinstance(v, str) and v for v in resources
        ):
            found.append(("API_RESOURCES", "LOGTO['API_RESOURCES'] must be a list of strings."))
        size = raw.get("API_TOKEN_CACHE_SIZE", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            found.append(
                ("API_TOKEN_CACHE_SIZE", "LOGTO['API_TOKEN_CACHE_SIZE'] must be an integer >= 0.")
            )
        return found


def _mapping_problems(key: str, mapping: Any) -> list[str]:
    if not isinstance(mapping, dict):
        return [f"LOGTO['{key}'] must be a dict of role name to rights."]
    found = []
    for role, rights in mapping.items():
        where = f"LOGTO['{key}'][{role!r}]"
        if key == "ORGANIZATION_ROLES" and (not isinstance(role, str) or ":" not in role):
            found.append(f"{where}: keys are '<organization id>:<role>' or '*:<role>'.")
        if not isinstance(rights, dict):
            found.append(f"{where} must be a dict such as {{'is_staff': True}}.")
            continue
        for name, value in rights.items():
            expected = RIGHTS.get(name)
            if expected is None:
                found.append(f"{where} has unknown right {name!r} (known: {', '.join(RIGHTS)}).")
            elif not isinstance(value, expected) or (
                isinstance(value, list) and not all(isinstance(group, str) for group in value)
            ):
                found.append(f"{where}[{name!r}] must be a {expected.__name__}.")
    return found


logto_settings = Settings()
