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
    # End the Django session when the provider rejects (or no longer has) the refresh token.
    "END_SESSION_WITH_REFRESH_TOKEN": True,
    # Seconds between checks that the Logto session is still alive (0: never check).
    "REVALIDATE_INTERVAL": 0,
    # The signing key of the Logto webhook (empty: webhooks are refused).
    "WEBHOOK_SIGNING_KEY": "",
}
REQUIRED = ("ENDPOINT", "APP_ID", "APP_SECRET")
PROMPTS = ("consent", "login")


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
        if not isinstance(raw.get("END_SESSION_WITH_REFRESH_TOKEN", True), bool):
            found.append(
                (
                    "END_SESSION_WITH_REFRESH_TOKEN",
                    "LOGTO['END_SESSION_WITH_REFRESH_TOKEN'] must be a bool.",
                )
            )
        if not isinstance(raw.get("WEBHOOK_SIGNING_KEY", ""), str):
            found.append(("WEBHOOK_SIGNING_KEY", "LOGTO['WEBHOOK_SIGNING_KEY'] must be a string."))
        return found


logto_settings = Settings()
