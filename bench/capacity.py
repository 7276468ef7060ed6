"""What the periodic sync costs the provider, Redis and the database, per user and second,
from counts measured here.

Two devices of one user (two test clients, two Django sessions) on a site whose cache is
Redis, against a dev provider of its own, with nothing changed at Logto (the steady state).
Each request is counted whole (provider requests at the dev provider, Redis commands as
redis-py sends them, SQL queries) and the cost of an ordinary signed-in request is taken
off: what is left is what the sync adds. Counted per event, for sessions in Redis (the
cache engine) and in the database:

- a real sync: the first session of the user due in an interval refreshes at the provider
  and publishes the claims;
- an adopted sync: every other session of the user due in that interval takes them;
- a revalidation (``REVALIDATE_INTERVAL``), per session, for the knob's cost.

Then the capacity table: for U active users (each making at least one request per interval
on each of D devices) and SYNC_INTERVAL I, per second:

    provider calls = U * sync / I            (without coalescing: U * D * sync / I)
    Redis commands = U * (sync + (D - 1) * adopted) / I
    database ops   = U * (sync + (D - 1) * adopted) / I

Usage: .venv/bin/python bench/capacity.py [--devices D] [--rounds N] [--redis URL]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402

from bench import counting  # noqa: E402
from bench.common import markdown_table, prepare_django, site_calls  # noqa: E402
from tests.conftest import Site  # noqa: E402
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider  # noqa: E402

INTERVAL = 1.0  # the sync interval while measuring: counts do not depend on it
USERS = (1_000, 10_000, 100_000, 1_000_000)
INTERVALS = (300, 900, 3600)
KINDS = ("provider", "redis", "queries")
ENGINES = {"cache": "sessions in Redis", "db": "sessions in the database"}


def cost(dev: DevProvider, request: Callable[[], Any]) -> Counter[str]:
    """What ``request()`` cost: provider requests, Redis commands, SQL queries."""
    counts: Counter[str] = Counter()

    def count_query(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        counts["queries"] += 1
        return execute(sql, params, many, context)

    before = site_calls(dev.counters())
    token = counting._counts.set(counts)
    try:
        with connection.execute_wrapper(count_query):
            response = request()
    finally:
        counting._counts.reset(token)
    assert response.status_code == 200, response.status_code
    counts["provider"] = site_calls(dev.counters()) - before
    return counts


def per_event(dev: DevProvider, rounds: int) -> dict[str, dict[str, float]]:
    """The median cost of a real sync, an adopted one and a revalidation, over a plain request."""
    phone, laptop = Site("wsgi"), Site("wsgi")
    phone.sign_in(dev, "alice")
    laptop.sign_in(dev, "alice")
    events: dict[str, list[Counter[str]]] = {"sync": [], "adopted": [], "revalidation": []}
    for _ in range(rounds):
        plain = cost(dev, lambda: laptop.get("/"))
        time.sleep(INTERVAL + 0.05)
        events["sync"].append(cost(dev, lambda: phone.get("/")) - plain)
        events["adopted"].append(cost(dev, lambda: laptop.get("/")) - plain)
    with override_settings(
        LOGTO={**settings.LOGTO, "SYNC_INTERVAL": None, "REVALIDATE_INTERVAL": 1}
    ):
        laptop.get("/")
        for _ in range(rounds):
            plain = cost(dev, lambda: laptop.get("/"))
            time.sleep(1.05)
            events["revalidation"].append(cost(dev, lambda: laptop.get("/")) - plain)
    # Counter subtraction drops what is not positive: a missing kind costs nothing more.
    return {
        event: {kind: statistics.median(c[kind] for c in counted) for kind in KINDS}
        for event, counted in events.items()
    }


def run(rounds: int = 5, redis_url: str = "redis://127.0.0.1:6379/0") -> dict[str, Any]:
    """Every count, against a dev provider of its own, on keys of this run only in Redis."""
    prepare_django()
    counting.install()
    prefix = f"capacity-{secrets.token_hex(4)}"
    dev = DevProvider().start()
    dev.register_site(TEST_CLIENT_ORIGIN)
    cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url,
        "KEY_PREFIX": prefix,
    }
    try:
        results: dict[str, Any] = {"rounds": rounds}
        for engine in ENGINES:
            with override_settings(
                CACHES={"default": cache},
                SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}",
                LOGTO={**settings.LOGTO, "ENDPOINT": dev.url, "SYNC_INTERVAL": INTERVAL},
            ):
                results[engine] = per_event(dev, rounds)
        return results
    finally:
        dev.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def per_second(counts: dict[str, dict[str, float]], kind: str, users: int, interval: int,
               devices: int) -> float:  # fmt: skip
    per_user = counts["sync"][kind] + (devices - 1) * counts["adopted"][kind]
    return users * per_user / interval


def number(value: float) -> str:
    return f"{value:,.1f}" if value < 100 and value != int(value) else f"{value:,.0f}"


def report(results: dict[str, Any], devices: int) -> list[str]:
    lines = [
        f"Counted per event, nothing changed at Logto (median of {results['rounds']} rounds; "
        "a request's cost less that of an ordinary signed-in request):",
        "",
    ]
    counted = [
        [ENGINES[engine], event, *(number(results[engine][event][kind]) for kind in KINDS)]
        for engine in ENGINES
        for event in ("sync", "adopted", "revalidation")
    ]
    header = ["sessions", "event", "provider calls", "Redis commands", "queries"]
    lines += right_aligned(markdown_table(header, counted), 2)
    for engine in ENGINES:
        counts = results[engine]
        lines += [
            "",
            f"Active users with {devices} devices each, {ENGINES[engine]}, per second:",
            "",
        ]
        rows = [
            [
                f"{users:,}",
                str(interval),
                number(per_second(counts, "provider", users, interval, devices)),
                number(users * devices * counts["sync"]["provider"] / interval),
                number(per_second(counts, "redis", users, interval, devices)),
                number(per_second(counts, "queries", users, interval, devices)),
            ]
            for users in USERS
            for interval in INTERVALS
        ]
        header = [
            "active users",
            "SYNC_INTERVAL, s",
            "provider calls/s",
            "without coalescing",
            "Redis commands/s",
            "database queries/s",
        ]
        lines += right_aligned(markdown_table(header, rows), 0)
    users, interval, counts = 100_000, 300, results["cache"]
    lines += ["", f"The devices knob: {users:,} active users, SYNC_INTERVAL {interval} s, "
              f"{ENGINES['cache']}, per second:", ""]  # fmt: skip
    rows = [
        [
            str(each),
            number(per_second(counts, "provider", users, interval, each)),
            number(users * each * counts["sync"]["provider"] / interval),
            number(per_second(counts, "redis", users, interval, each)),
            number(per_second(counts, "queries", users, interval, each)),
        ]
        for each in (1, 2, 3, 5, 10)
    ]
    header = ["devices per user", *header[2:]]
    lines += right_aligned(markdown_table(header, rows), 0)
    return lines


def right_aligned(table: list[str], text_columns: int) -> list[str]:
    """``table`` (Markdown) with every column after the first ``text_columns`` right-aligned."""
    columns = table[1].count("|") - 1
    table[1] = "|" + "|".join(["---"] * text_columns + ["---:"] * (columns - text_columns)) + "|"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--devices", type=int, default=3, help="sessions per user (default 3)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="a Redis database")
    arguments = parser.parse_args()
    results = run(arguments.rounds, arguments.redis)
    print("\n".join(report(results, arguments.devices)))


if __name__ == "__main__":
    main()
