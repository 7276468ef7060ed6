"""How ending a user's sessions grows with their number, and what keeps the index bounded.

For a user with 1, 100 and 1,000 open Django sessions (made through the session store and
indexed by ``_sessions.remember``, as sign-in does): the time and the database queries of
one ``end_sessions(sub=...)`` (a back-channel logout without ``sid``, or a webhook), and
of ``end_sessions(sid=...)`` for one of them (a back-channel logout with ``sid``). Then
the index's bound: rows older than SESSION_COOKIE_AGE go at the next sign-in.

Runs on the database of the settings (report.py gives it a throwaway PostgreSQL one).

Usage: .venv/bin/python bench/growth.py [SESSIONS ...]
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import markdown_table, prepare_django  # noqa: E402
from logto_auth import _sessions  # noqa: E402
from logto_auth.models import LogtoSession  # noqa: E402


def measured(action: Callable[[], Any]) -> tuple[float, int, Any]:
    """Seconds and database queries of ``action()``, and its result."""
    queries = 0

    def count(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        result = action()
        return time.perf_counter() - started, queries, result


def open_sessions(sub: str, count: int) -> list[str]:
    """``count`` Django sessions of ``sub``, each in its own Logto session; their sids."""
    store = _sessions.session_store()
    sids = [f"{sub}-{number}" for number in range(count)]
    for sid in sids:
        session = store()
        session["signed_in"] = True
        session.create()
        _sessions.remember(session, {"sub": sub, "sid": sid})
    return sids


def end_cost(count: int) -> dict[str, Any]:
    sub = f"growth-{secrets.token_hex(4)}"
    sids = open_sessions(sub, count)
    by_sid = measured(lambda: _sessions.end_sessions(sid=sids[-1]))
    by_sub = measured(lambda: _sessions.end_sessions(sub=sub))
    assert by_sid[2] == 1, by_sid
    assert by_sub[2] == count - 1, by_sub
    return {
        "sessions": count,
        "sid_ms": by_sid[0] * 1000,
        "sid_queries": by_sid[1],
        "sub_ms": by_sub[0] * 1000,
        "sub_queries": by_sub[1],
        "left": LogtoSession.objects.filter(sub=sub).count(),
    }


def pruning(count: int) -> dict[str, int]:
    """Index rows of ``count`` expired sign-ins, and what one more sign-in leaves."""
    LogtoSession.objects.all().delete()
    sub = f"stale-{secrets.token_hex(4)}"
    open_sessions(sub, count)
    expired = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    LogtoSession.objects.update(created_at=expired)
    before = LogtoSession.objects.count()
    _sessions._pruned_at = float("-inf")  # as in a process that has not pruned lately
    open_sessions(f"fresh-{secrets.token_hex(4)}", 1)
    return {"before": before, "after": LogtoSession.objects.count()}


def run(sizes: tuple[int, ...] = (1, 100, 1000)) -> dict[str, Any]:
    prepare_django()
    return {
        "engine": settings.SESSION_ENGINE.rsplit(".", 1)[1],
        "database": connection.vendor,
        "ends": [end_cost(size) for size in sizes],
        "pruning": pruning(max(sizes)),
    }


def report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"Ending sessions ({results['engine']} sessions on {results['database']}): one user with "
        "N open sessions; a back-channel logout with `sid` ends one, without it (or a "
        "webhook) ends them all:",
        "",
    ]
    rows = [
        [
            end["sessions"],
            f"{end['sid_ms']:.1f}",
            end["sid_queries"],
            f"{end['sub_ms']:.1f}",
            end["sub_queries"],
            end["left"],
        ]
        for end in results["ends"]
    ]
    lines += markdown_table(
        [
            "open sessions",
            "end one by sid, ms",
            "queries",
            "end all by sub, ms",
            "queries",
            "index rows left",
        ],
        rows,
    )
    pruned = results["pruning"]
    lines += [
        "",
        f"Session index bound: {pruned['before']} rows older than SESSION_COOKIE_AGE "
        f"({settings.SESSION_COOKIE_AGE} s) -> {pruned['after']} after the next sign-in.",
    ]
    return lines


def main() -> None:
    sizes = tuple(int(size) for size in sys.argv[1:]) or (1, 100, 1000)
    print("\n".join(report(run(sizes))))


if __name__ == "__main__":
    main()
