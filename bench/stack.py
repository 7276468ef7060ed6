"""What LogtoMiddleware adds to a signed-in request: the demo's middleware stack against
the bare session + authentication stack, on one small page, rounds interleaved (so that
a neighbour's load hits both alike), and the database queries of each.

Usage: .venv/bin/python bench/stack.py [ROUNDS] [REQUESTS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.common import markdown_table, prepare_django  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402

PAGE = "/bench/whoami/"
BARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
OURS = [*BARE, "logto_auth.middleware.LogtoMiddleware"]


def per_second(site: Site, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        assert site.get(PAGE).status_code == 200
    return requests / (time.perf_counter() - started)


def queries(site: Site) -> int:
    with CaptureQueriesContext(connection) as captured:
        site.get(PAGE)
    return len(captured.captured_queries)


def run(rounds: int = 7, requests: int = 200) -> dict[str, Any]:
    prepare_django()
    dev = DevProvider().start().register_site(TEST_CLIENT_ORIGIN)
    speeds: dict[str, list[float]] = {"ours": [], "bare": []}
    counts: dict[str, int] = {}
    try:
        logto = {**settings.LOGTO, "ENDPOINT": dev.url}
        with override_settings(LOGTO=logto, ROOT_URLCONF="bench.urls", MIDDLEWARE=OURS):
            site = Site("wsgi")
            site.sign_in(dev, "alice")
            site.get(PAGE)  # warm-up
        for _ in range(rounds):
            for name, stack in (("ours", OURS), ("bare", BARE)):
                with override_settings(LOGTO=logto, ROOT_URLCONF="bench.urls", MIDDLEWARE=stack):
                    speeds[name].append(per_second(site, requests))
                    counts[name] = queries(site)
    finally:
        dev.stop()
    return {
        "rounds": rounds,
        "requests": requests,
        "median": {name: statistics.median(values) for name, values in speeds.items()},
        "queries": counts,
    }


def report(results: dict[str, Any]) -> list[str]:
    median, counts = results["median"], results["queries"]
    lines = [
        f"Middleware A/B ({results['rounds']} interleaved rounds of {results['requests']} "
        "signed-in requests, in-process WSGI, median):",
        "",
    ]
    lines += markdown_table(
        ["stack", "requests/s", "against bare", "queries/request"],
        [
            ["session + auth (bare)", f"{median['bare']:.0f}", "1.00x", counts["bare"]],
            [
                "session + auth + LogtoMiddleware",
                f"{median['ours']:.0f}",
                f"{median['ours'] / median['bare']:.2f}x",
                counts["ours"],
            ],
        ],
    )
    return lines


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    print("\n".join(report(run(rounds, requests))))


if __name__ == "__main__":
    main()
