"""What a token request costs from sync code and how many TCP connections the provider
sees: ROUNDS refreshes (a new access token for the API each time, ``_sdk.refresh``) and
SIGN_INS sign-ins (the callback: the code exchange and its validation) in one process,
against the dev provider, with its ``/__dev__/connections`` read before and after. With the
SDK's own ``OidcCore`` every token request opened a connection (an HTTP session per
request); through the pool (``_connections.pool``) one keep-alive connection serves them all.

Usage: .venv/bin/python bench/keepalive.py [ROUNDS] [SIGN_INS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402

from bench.common import prepare_django  # noqa: E402
from logto_auth import _sdk  # noqa: E402
from logto_auth._sessions import TOKEN_PREFIX  # noqa: E402
from logto_auth.storage import DictStorage  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402

API = "http://127.0.0.1:8000/api"  # the dev provider's API resource


def main(rounds: int = 200, sign_ins: int = 20) -> dict[str, float]:
    prepare_django()
    dev = DevProvider().start().register_site(TEST_CLIENT_ORIGIN)
    try:
        with override_settings(LOGTO={**django.conf.settings.LOGTO, "ENDPOINT": dev.url}):
            site = Site("wsgi")
            site.sign_in(dev, "alice")  # warm: metadata and keys cached
            session = site.session
            storage = DictStorage(
                {name: session[TOKEN_PREFIX + name] for name in ("idToken", "refreshToken")}
            )
            before = dev.connections().get("/oidc/token", 0)
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                assert _sdk.refresh(storage, API)  # type: ignore[arg-type]
                times.append(time.perf_counter() - started)
            refresh_connections = dev.connections()["/oidc/token"] - before
            callbacks = []
            for _ in range(sign_ins):
                redirect = dev.authorize(site.sign_in_url(), "alice")
                started = time.perf_counter()
                assert site.callback(redirect).status_code == 302
                callbacks.append(time.perf_counter() - started)
            all_connections = dev.connections()["/oidc/token"] - before
    finally:
        dev.stop()
    result = {
        "refresh_ms": statistics.median(times) * 1e3,
        "refresh_mean_ms": statistics.mean(times) * 1e3,
        "refresh_connections": refresh_connections,
        "callback_ms": statistics.median(callbacks) * 1e3,
        "token_connections": all_connections,
    }
    print(
        f"{rounds} refreshes from sync code: median {result['refresh_ms']:.2f} ms, "
        f"mean {result['refresh_mean_ms']:.2f} ms; {refresh_connections} new connections"
    )
    print(
        f"{sign_ins} sign-in callbacks: median {result['callback_ms']:.2f} ms; "
        f"{all_connections} new connections to the token endpoint in all"
    )
    return result


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
