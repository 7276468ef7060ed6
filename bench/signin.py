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
from django.test import Client, override_settings  # noqa: E402
from logto import LogtoClient, LogtoConfig  # noqa: E402

from bench.common import calls_during, markdown_table, mozilla_settings, prepare_django  # noqa: E402
from logto_auth.conf import BY_NAME  # noqa: E402
from logto_auth.storage import DictStorage  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402


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
    with override_settings(**mozilla_settings(dev.issuer)):
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


def run(rounds: int = 10) -> dict[str, Any]:
    """Every figure, against a dev provider of its own."""
    prepare_django()
    dev = DevProvider().start()
    # The test client's site, and mozilla-django-oidc's callback on it.
    dev.register_site(TEST_CLIENT_ORIGIN)
    dev.register([f"{TEST_CLIENT_ORIGIN}/oidc/callback/"])
    try:
        with override_settings(LOGTO={**settings.LOGTO, "ENDPOINT": dev.url}):
            sign_in = {
                "django-logto (warm process)": ours(dev, rounds),
                "logto SDK, client per request": sdk_plainly(dev, rounds),
                "mozilla-django-oidc": mozilla(dev, rounds),
            }
            raw, encoded = session_bytes(dev)
            return {
                "rounds": rounds,
                "sign_in": sign_in,
                "session_json": raw,
                "session_encoded": encoded,
                "per_request": steady_state(dev, 100),
                "per_hour": per_hour(dev),
                "interval": BY_NAME["SYNC_INTERVAL"].default,
            }
    finally:
        dev.stop()


def report(results: dict[str, Any]) -> list[str]:
    """The figures, in Markdown, each beside its baseline."""
    base = results["sign_in"]["django-logto (warm process)"]
    rows = [
        [name, f"{value:.2f}", f"{value / base:.1f}x ours" if base else "n/a"]
        for name, value in results["sign_in"].items()
    ]
    lines = [f"Provider calls per completed sign-in ({results['rounds']} sign-ins each):", ""]
    lines += markdown_table(["relying party", "calls", "against ours"], rows)
    interval = results["interval"]
    lines += [
        "",
        f"Signed-in user asking for a page every 30 s, SYNC_INTERVAL={interval:g} s (default):",
        "",
    ]
    lines += markdown_table(
        ["figure", "measured", "target"],
        [
            ["provider calls per ordinary request", f"{results['per_request']:.2f}", "0"],
            ["provider calls per user per hour", results["per_hour"], f"<= {3600 // interval:g}"],
            ["session JSON, bytes", results["session_json"], ""],
            ["session signed and compressed (cookie), bytes", results["session_encoded"], "~4096"],
        ],
    )
    return lines


def main() -> None:
    print("\n".join(report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10))))


if __name__ == "__main__":
    main()
