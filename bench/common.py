"""What the benchmarks share."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from tests.devprovider import DevProvider

# Provider endpoints a relying party calls itself (the browser's requests are the others).
SITE_CALLS = (
    "/oidc/.well-known/openid-configuration",
    "/oidc/jwks",
    "/oidc/token",
    "/oidc/me",
    "/oidc/token/revocation",
    "/oidc/token/introspection",
)


def site_calls(counters: dict[str, int]) -> int:
    """Requests a relying party made to the provider, out of its ``/__dev__/counters``."""
    return sum(counters.get(path, 0) for path in SITE_CALLS)


def calls_during(dev: DevProvider, action: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """Run ``action``; return the requests the site made to the provider, and its result."""
    before = site_calls(dev.counters())
    result = action(*args)
    return site_calls(dev.counters()) - before, result


_prepared: list[bool] = []


def prepare_django() -> None:
    """Django's test environment (the test client's host) and the tables, once a process."""
    if _prepared:
        return
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    _prepared.append(True)


def mozilla_settings(issuer: str) -> dict[str, Any]:
    """Django settings for mozilla-django-oidc against the dev provider's ``issuer`` (static
    endpoints, PKCE on)."""
    return {
        "ROOT_URLCONF": "bench.urls",
        "AUTHENTICATION_BACKENDS": ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"],
        "OIDC_RP_CLIENT_ID": "django-demo",
        "OIDC_RP_CLIENT_SECRET": "django-demo-secret",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{issuer}/auth",
        "OIDC_OP_TOKEN_ENDPOINT": f"{issuer}/token",
        "OIDC_OP_USER_ENDPOINT": f"{issuer}/me",
        "OIDC_OP_JWKS_ENDPOINT": f"{issuer}/jwks",
        "OIDC_RP_SIGN_ALGO": "ES384",
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_USE_PKCE": True,
    }


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table: numbers right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |"]
    lines.append(
        "|"
        + "|".join(
            "---:" if rows and isinstance(rows[0][i], int | float) else "---"
            for i in range(len(header))
        )
        + "|"
    )
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return lines


def interleaved(
    rounds: int, rps: tuple[str, ...], measure: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """``measure(rp)`` for each relying party, ``rounds`` times, every other round in the
    reverse order (so that neither always goes first)."""
    return [
        {rp: measure(rp) for rp in (rps if number % 2 == 0 else rps[::-1])}
        for number in range(rounds)
    ]


def median_of(rounds: list[dict[str, Any]], rp: str, *keys: str) -> float:
    """The median over ``rounds`` of ``rp``'s figure at ``keys`` (``interleaved``'s rounds)."""
    values = []
    for measured in rounds:
        value: Any = measured[rp]
        for key in keys:
            value = value[key]
        values.append(value)
    return float(statistics.median(values))
