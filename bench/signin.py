"""Provider calls per completed sign-in, per signed-in request and per signed-in user per
hour (the periodic sync), and session bytes per signed-in user.

Runs the same sign-in (alice on the dev provider's login page) three ways in one process,
against one dev provider, and prints the counts side by side:

- django-logto, warm process (metadata and keys cached);
- the logto SDK used plainly, a client per request (as its README shows);
- mozilla-django-oidc (static endpoint settings, PKCE on).

Usage: .venv/bin/python bench/signin.py [ROUNDS]
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from logto import LogtoClient, LogtoConfig  # noqa: E402

from bench.common import mozilla_settings  # noqa: E402
from logto_auth.conf import BY_NAME  # noqa: E402
from logto_auth.storage import DictStorage  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402

SITE_CALLS = ("/oidc/.well-known/openid-configuration", "/oidc/jwks", "/oidc/token", "/oidc/me")


def calls_during(dev: DevProvider, action: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """Run ``action``; return the requests the site made to the provider, and its result."""
    before = dev.counters()
    result = action(*args)
    after = dev.counters()
    return sum(after.get(path, 0) - before.get(path, 0) for path in SITE_CALLS), result


def ours(dev: DevProvider, rounds: int) -> float:
    site = Site("wsgi")
    site.sign_in(dev, "alice")  # warm-up: a fresh process learns metadata and keys once
    total = 0
    for _ in range(rounds):
        redirect = dev.authorize(site.sign_in_url(), "alice")  # the browser's part
        made, response = calls_during(dev, site.callback, redirect)
        assert response.status_code == 302
        total += made
    return total / rounds


def sdk_plainly(dev: DevProvider, rounds: int) -> float:
    config = LogtoConfig(endpoint=dev.url, appId="django-demo", appSecret="django-demo-secret")
    redirect_uri = "http://testserver/logto/callback/"
    total = 0
    for _ in range(rounds):
        storage = DictStorage()
        made, url = calls_during(
            dev, async_to_sync(LogtoClient(config, storage).signIn), redirect_uri
        )
        redirect = dev.authorize(url, "alice")
        callback = async_to_sync(LogtoClient(config, storage).handleSignInCallback)
        total += made + calls_during(dev, callback, redirect)[0]
        assert storage.get("idToken")
    return total / rounds


def mozilla(dev: DevProvider, rounds: int) -> float:
    total = 0
    with override_settings(**mozilla_settings(dev)):
        client = Client()
        for _ in range(rounds):
            url = client.get("/oidc/authenticate/")["Location"]
            redirect = urllib.parse.urlsplit(dev.authorize(url, "alice"))
            made, response = calls_during(dev, client.get, f"{redirect.path}?{redirect.query}")
            assert response["Location"] == settings.LOGIN_REDIRECT_URL, "mozilla sign-in failed"
            total += made
    return total / rounds


def steady_state(dev: DevProvider, requests: int) -> float:
    """Provider calls per ordinary signed-in request (within the sync interval)."""
    site = Site("wsgi")
    site.sign_in(dev, "alice")
    made, _ = calls_during(dev, lambda: [site.get("/") for _ in range(requests)])
    return made / requests


def per_hour(dev: DevProvider, every: float = 30.0) -> int:
    """Provider calls of one signed-in user in an hour at the default SYNC_INTERVAL.

    The user asks for a page every ``every`` seconds; Django's side runs on a clock moved
    forward by that much each time (the provider's tokens stay valid: under an hour).
    """
    site = Site("wsgi")
    site.sign_in(dev, "alice")
    start, made = time.time(), 0
    for step in range(int(3590 / every)):
        with mock.patch("time.time", return_value=start + step * every):
            made += calls_during(dev, site.get, "/")[0]
    return made


def session_bytes(dev: DevProvider) -> tuple[int, int]:
    """Bytes of alice's session: its JSON, and as Django encodes it (cookie or row)."""
    site = Site("wsgi")
    site.sign_in(dev, "alice")
    data = dict(site.session.items())
    return len(json.dumps(data, separators=(",", ":"))), len(site.session.encode(data))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    setup_test_environment()
    call_command("migrate", verbosity=0)
    dev = DevProvider().start()
    # The test client's site, and mozilla-django-oidc's callback on it.
    dev.register_site(TEST_CLIENT_ORIGIN)
    dev.register([f"{TEST_CLIENT_ORIGIN}/oidc/callback/"])
    try:
        with override_settings(LOGTO={**settings.LOGTO, "ENDPOINT": dev.url}):
            results = {
                "django-logto (warm process)": ours(dev, rounds),
                "logto SDK, client per request": sdk_plainly(dev, rounds),
                "mozilla-django-oidc": mozilla(dev, rounds),
            }
            raw, encoded = session_bytes(dev)
            steady = steady_state(dev, 100)
            hourly = per_hour(dev)
    finally:
        dev.stop()
    base = results["django-logto (warm process)"]
    print(f"Provider calls per completed sign-in ({rounds} sign-ins each, same dev provider)")
    for name, value in results.items():
        ratio = f"{value / base:.1f}x ours" if base else "n/a"
        print(f"  {name:32} {value:5.2f}   ({ratio})")
    interval = BY_NAME["SYNC_INTERVAL"].default
    print(f"Signed-in user (a page every 30 s), SYNC_INTERVAL={interval} s (the default)")
    print(f"  provider calls per ordinary request       {steady:5.2f}   (target 0)")
    print(
        f"  provider calls per user per hour          {hourly:5d}   (target <= {3600 // interval})"
    )
    print("Session size for alice with the default scopes")
    print(f"  session JSON                      {raw:5d} bytes")
    print(f"  signed and compressed (cookie)    {encoded:5d} bytes (browser limit ~4096)")


if __name__ == "__main__":
    main()
