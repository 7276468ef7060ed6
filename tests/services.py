"""PostgreSQL and Redis, as the integration and end-to-end tiers use them: where they are,
how to tell they are up, a database of one's own."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
from collections.abc import Iterator

import psycopg
import pytest
import redis

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# A database number of its own for each xdist worker, so that one worker's flush never wipes
# another's sessions: a base shared by the workers of a run (xdist's run id), plus the
# worker's number. Runs side by side most likely get other bases.
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or secrets.token_hex(8)
_BASE = int(hashlib.sha256(_RUN.encode()).hexdigest(), 16) % 15
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{(_BASE + _WORKER) % 15 + 1}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_services() -> None:
    """Skip when PostgreSQL or Redis is down, or fail where they must run (CI)."""
    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as error:
        message = f"PostgreSQL or Redis is not available: {error}"
        if os.environ.get("LOGTO_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def throwaway_database(prefix: str = "logto_e2e") -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
