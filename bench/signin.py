"""Provider calls per completed sign-in and session bytes per signed-in user.

Runs the same sign-in (alice on the dev provider's login page) three ways in one process,
against one dev provider, and prints the counts side by side:

- django-logto, warm process (metadata and keys cached);
- the logto SDK used plainly, a client per request (as its README shows);
- mozilla-django-oidc (static endpoint settings, PKCE on).

Usage: .venv/bin/python bench/signin.py [ROUNDS]
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from logto import LogtoClient, LogtoConfig  # noqa: E402

from logto_auth.storage import DictStorage  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import DevProvider  # noqa: E402

SITE_CALLS = ("/oidc/.well-known/openid-configuration", "/oidc/jwks", "/oidc/token", "/oidc/me")


def calls_during(dev: DevProvider, action) -> int:  # type: ignore[no-untyped-def]
    """Requests the site made to the provider (not the browser's) while ``action`` ran."""
    before = dev.counters()
    action()
    after = dev.counters()
    return sum(after.get(path, 0) - before.get(path, 0) for path in SITE_CALLS)


def ours(dev: DevProvider, rounds: int) -> float:
    site = Site("wsgi")
    site.sign_in(dev, "alice")  # warm-up: a fresh process learns metadata and keys once
    total = 0
    for _ in range(rounds):
        url = site.sign_in_url()
        redirect = dev.authorize(url, "alice")  # the browser's part, not counted
        total += calls_during(dev, lambda: site.callback(redirect))
    return total / rounds


def sdk_plainly(dev: DevProvider, rounds: int) -> float:
    config = LogtoConfig(endpoint=dev.url, appId="django-demo", appSecret="django-demo-secret")
    redirect_uri = "http://testserver/logto/callback/"
    total = 0
    for _ in range(rounds):
        storage = DictStorage()
        before = dev.counters()
        url = async_to_sync(LogtoClient(config, storage).signIn)(redirect_uri)
        middle = dev.counters()
        redirect = dev.authorize(url, "alice")
        made = sum(middle.get(p, 0) - before.get(p, 0) for p in SITE_CALLS)
        made += calls_during(
            dev, lambda: async_to_sync(LogtoClient(config, storage).handleSignInCallback)(redirect)
        )
        total += made
    return total / rounds


def mozilla(dev: DevProvider, rounds: int) -> float:
    oidc = {
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
    total = 0
    with override_settings(**oidc):
        client = Client()
        for _ in range(rounds):
            url = client.get("/oidc/authenticate/")["Location"]
            redirect = urllib.parse.urlsplit(dev.authorize(url, "alice"))
            response = None

            def callback() -> None:
                nonlocal response
                response = client.get(f"{redirect.path}?{redirect.query}")

            total += calls_during(dev, callback)
            assert response is not None and response["Location"] == settings.LOGIN_REDIRECT_URL, (
                "mozilla-django-oidc sign-in failed"
            )
    return total / rounds


def session_bytes(dev: DevProvider) -> tuple[int, int]:
    """Bytes of alice's session: as stored server-side, and as a signed cookie."""
    site = Site("wsgi")
    site.sign_in(dev, "alice")
    data = dict(site.session.items())
    stored = len(site.session.encode(data))
    cookie = CookieStore()
    cookie.update(data)
    return stored, len(cookie._get_session_key())


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    setup_test_environment()
    call_command("migrate", verbosity=0)
    dev = DevProvider().start()
    try:
        with override_settings(LOGTO={**settings.LOGTO, "ENDPOINT": dev.url}):
            results = {
                "django-logto (warm process)": ours(dev, rounds),
                "logto SDK, client per request": sdk_plainly(dev, rounds),
                "mozilla-django-oidc": mozilla(dev, rounds),
            }
            stored, cookie = session_bytes(dev)
    finally:
        dev.stop()
    base = results["django-logto (warm process)"]
    print(f"Provider calls per completed sign-in ({rounds} sign-ins each, same dev provider)")
    for name, value in results.items():
        ratio = f"{value / base:.1f}x ours" if base else "n/a"
        print(f"  {name:32} {value:5.2f}   ({ratio})")
    print("Session size for alice with the default scopes")
    print(f"  session data, encoded (db/cache)  {stored:5d} bytes")
    print(f"  signed-cookie session             {cookie:5d} bytes (limit ~4096; goal <= 3072)")


if __name__ == "__main__":
    main()
