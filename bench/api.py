"""Validating Logto access tokens in an API: speed and provider calls, side by side.

One run, one dev provider, one real ES384 access token (alice's, for the demo API):

- first-sight validation (``logto_auth._bearer.validate_access_token`` with the verified-token
  cache emptied before each call) against the raw cost of PyJWT verifying the same token
  with a known key (``jwt.decode``): the ECDSA P-384 check is the floor for both;
- repeated-token validation (cache hit) against first sight;
- provider calls per 1,000 API requests through Django REST framework with warm caches:
  ``logto_auth.drf.LogtoTokenAuthentication`` against mozilla-django-oidc's
  ``OIDCAuthentication`` (which asks the userinfo endpoint about every request; it gets
  the opaque access token from alice's sign-in, the one the userinfo endpoint accepts).

Usage: .venv/bin/python bench/api.py [REQUESTS]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from bench.common import markdown_table, mozilla_settings, prepare_django  # noqa: E402
from logto_auth._bearer import validate_access_token  # noqa: E402
from logto_auth._provider import provider  # noqa: E402
from logto_auth._tokens import verified_tokens  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402

API = settings.LOGTO_API_RESOURCE


def per_second(action: Callable[[], Any], calls: int, repeats: int = 3) -> float:
    """Best of ``repeats`` runs of ``calls`` calls, in calls per second."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        best = min(best, time.perf_counter() - started)
    return calls / best


def validation(token: str, calls: int) -> dict[str, float]:
    header = jwt.get_unverified_header(token)
    jwk = next(key for key in provider()._jwks()["keys"] if key["kid"] == header["kid"])
    known_key = jwt.PyJWK(jwk, algorithm="ES384").key
    issuer = provider().issuer

    def raw() -> None:
        jwt.decode(token, known_key, algorithms=["ES384"], audience=API, issuer=issuer)

    def first_sight() -> None:
        verified_tokens.clear()
        validate_access_token(token)

    def repeated() -> None:
        validate_access_token(token)

    validate_access_token(token)  # warm: metadata and keys cached, as in a running site
    return {
        "raw": per_second(raw, calls),
        "first": per_second(first_sight, calls),
        "repeated": per_second(repeated, calls * 10),
    }


def provider_calls(dev: DevProvider, client: Client, path: str, token: str, requests: int) -> int:
    """Requests the site made to the provider while serving ``requests`` API calls."""
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(path, headers=headers).status_code == 200  # warm-up
    before = dev.calls()
    for _ in range(requests):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.content
    return dev.calls() - before


def run(requests: int = 1000, calls: int = 2000) -> dict[str, Any]:
    """Every figure, against a dev provider of its own."""
    prepare_django()
    dev = DevProvider().start().register_site(TEST_CLIENT_ORIGIN)
    try:
        with override_settings(LOGTO={**settings.LOGTO, "ENDPOINT": dev.url}):
            site = Site("wsgi")
            site.sign_in(dev, "alice")
            api_token, opaque_token = site.access_token(API), site.access_token()
            speed = validation(api_token, calls)
            ours = provider_calls(dev, Client(), "/api/drf/me/", api_token, requests)
            with override_settings(**mozilla_settings(dev.issuer)):
                theirs = provider_calls(
                    dev, Client(), "/bench/mozilla-drf/", opaque_token, requests
                )
    finally:
        dev.stop()
    return {"requests": requests, "speed": speed, "ours": ours, "theirs": theirs}


def report(results: dict[str, Any]) -> list[str]:
    """The figures, in Markdown, each beside its baseline."""
    speed = results["speed"]
    lines = ["Access token validation (one real ES384 token from the dev provider):", ""]
    lines += markdown_table(
        ["validation", "per second", "against", "target"],
        [
            ["raw PyJWT jwt.decode, known key", f"{speed['raw']:.0f}", "", ""],
            [
                "django-logto, first sight",
                f"{speed['first']:.0f}",
                f"{speed['first'] / speed['raw']:.2f}x raw PyJWT",
                ">= 0.8x",
            ],
            [
                "django-logto, repeated token",
                f"{speed['repeated']:.0f}",
                f"{speed['repeated'] / speed['first']:.0f}x first sight",
                ">= 10x",
            ],
        ],
    )
    lines += ["", f"Provider calls per {results['requests']} API requests (DRF, warm caches):", ""]
    lines += markdown_table(
        ["authentication", "provider calls", "target"],
        [
            ["django-logto LogtoTokenAuthentication", results["ours"], "0"],
            ["mozilla-django-oidc OIDCAuthentication", results["theirs"], ""],
        ],
    )
    return lines


def main() -> None:
    print("\n".join(report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))))


if __name__ == "__main__":
    main()
