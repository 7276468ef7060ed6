"""What the benchmarks share."""

from __future__ import annotations

from typing import Any

from tests.devprovider import DevProvider


def mozilla_settings(dev: DevProvider) -> dict[str, Any]:
    """Django settings for mozilla-django-oidc against ``dev`` (static endpoints, PKCE on)."""
    return {
        "ROOT_URLCONF": "bench.urls",
        "AUTHENTICATION_BACKENDS": ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"],
        "OIDC_RP_CLIENT_ID": "django-demo",
        "OIDC_RP_CLIENT_SECRET": "django-demo-secret",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{dev.issuer}/auth",
        "OIDC_OP_TOKEN_ENDPOINT": f"{dev.issuer}/token",
        "OIDC_OP_USER_ENDPOINT": f"{dev.issuer}/me",
        "OIDC_OP_JWKS_ENDPOINT": f"{dev.issuer}/jwks",
        "OIDC_RP_SIGN_ALGO": "ES384",
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_USE_PKCE": True,
    }
