"""One benchmark report: every benchmark, each figure beside its baseline, in Markdown.

- provider calls per sign-in, per signed-in request and per user per hour (signin.py);
- access token validation speed and provider calls per API request (api.py);
- LogtoMiddleware against the bare session + auth stack (stack.py);
- the load test through nginx, django-logto against mozilla-django-oidc (load.py);
- ending 1, 100 and 1,000 sessions, and the session index's bound (growth.py).

The in-process benchmarks run on a throwaway PostgreSQL database when PostgreSQL is up.
``--short`` runs each at a tiny size (CI: the counts are checked, never the times);
``--json PATH`` also writes every figure.

Usage: .venv/bin/python bench/report.py [--short] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import psycopg  # noqa: E402

from tests.services import POSTGRES, throwaway_database  # noqa: E402

FULL: dict[str, dict[str, Any]] = {
    "signin": {"rounds": 10},
    "api": {"requests": 1000, "calls": 2000},
    "stack": {"rounds": 7, "requests": 200},
    "load": {"steps": (10, 50, 100), "seconds": 20, "pages": 20},
    "growth": {"sizes": (1, 100, 1000)},
}
SHORT: dict[str, dict[str, Any]] = {
    "signin": {"rounds": 2},
    "api": {"requests": 50, "calls": 100},
    "stack": {"rounds": 2, "requests": 50},
    "load": {"steps": (10,), "seconds": 3, "pages": 4},
    "growth": {"sizes": (1, 10)},
}


def postgres_up() -> bool:
    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def run(sizes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # Imported here: each sets Django up, on the database chosen by the caller.
    from bench import api, growth, load, signin, stack

    results: dict[str, Any] = {}
    for name, module in (
        ("signin", signin),
        ("api", api),
        ("stack", stack),
        ("load", load),
        ("growth", growth),
    ):
        started = time.monotonic()
        results[name] = module.run(**sizes[name])
        results[name]["_seconds"] = time.monotonic() - started
    return results


def report(results: dict[str, Any], short: bool) -> list[str]:
    from bench import api, growth, load, signin, stack

    cores = os.cpu_count()
    lines = [
        "# django-logto benchmark report" + (" (short)" if short else ""),
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}"
        f", {cores} cores (shared: other work on this machine competes for them, so times "
        "move between runs; counts do not).",
    ]
    for title, module, name in (
        ("Sign-in and the periodic sync", signin, "signin"),
        ("API tokens", api, "api"),
        ("Middleware", stack, "stack"),
        ("Load: two instances behind nginx", load, "load"),
        ("Growth: ending sessions", growth, "growth"),
    ):
        lines += ["", f"## {title}", "", *module.report(results[name])]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    arguments = parser.parse_args()
    sizes = SHORT if arguments.short else FULL
    with contextlib.ExitStack() as stack:
        if postgres_up():
            os.environ["DATABASE_URL"] = stack.enter_context(throwaway_database("logto_bench"))
        results = run(sizes)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()  # before the database is dropped
    print("\n".join(report(results, arguments.short)))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
