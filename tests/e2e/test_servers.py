"""The demo as real server processes, signed in over real HTTP: Django's WSGI runserver
on SQLite with database sessions, and uvicorn (ASGI) on PostgreSQL with Redis sessions."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis
import requests

from tests.devprovider import ROOT, DevProvider
from tests.forged import get_with_two_authorizations
from tests.services import REDIS, free_port

pytestmark = pytest.mark.e2e


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run_server(
    command: list[str],
    env: dict[str, str],
    port: int,
    *,
    migrate: bool = True,
    log: IO[bytes] | None = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    if migrate:
        manage(env, "migrate", "--noinput", "-v", "0")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # The first answer may be slow: the worker imports Django and connects.
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"{command} did not start")


@contextlib.contextmanager
def demo_server(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Iterator[str]:
    """The demo under ``kind``: ``wsgi-sqlite`` (runserver) or ``asgi-postgres-redis``
    (uvicorn, Redis cache and sessions); its origin, registered at the dev provider."""
    dev_provider: DevProvider = request.getfixturevalue("dev_provider")
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOGTO_ENDPOINT": dev_provider.url,
        "LOGTO_API_RESOURCE": "http://127.0.0.1:8000/api",  # the dev provider's
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
    }
    if kind == "wsgi-sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port)]
    process = run_server(command, env, port)
    origin = f"http://127.0.0.1:{port}"
    dev_provider.register_site(origin)
    try:
        yield origin
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["wsgi-sqlite", "asgi-postgres-redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with demo_server(request, request.param, tmp_path) as origin:
        yield origin


def test_sign_in_profile_and_sign_out(server: str, dev_provider: DevProvider) -> None:
    browser = requests.Session()
    assert "Not authenticated" in browser.get(f"{server}/").text

    auth_url = browser.get(f"{server}/logto/sign-in/?next=/profile/", allow_redirects=False)
    back = dev_provider.authorize(auth_url.headers["Location"], "alice")
    assert back.startswith(f"{server}/logto/callback/?")
    callback = browser.get(back, allow_redirects=False)
    assert callback.status_code == 302
    assert callback.headers["Location"] == "/profile/"

    profile = browser.get(f"{server}/profile/")
    assert profile.status_code == 200
    assert "organization_data" in profile.text
    assert "Engineering" in profile.text
    # The profile page called the demo API with alice's access token for it.
    assert "it answered <strong>200</strong>" in profile.text
    home = browser.get(f"{server}/").text
    assert "Authenticated" in home
    assert "Alice Admin" in home

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home)
    assert token is not None
    sign_out = browser.post(
        f"{server}/logto/sign-out/",
        data={"csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{server}/"},
        allow_redirects=False,
    )
    assert sign_out.status_code == 302
    assert sign_out.headers["Location"].startswith(f"{dev_provider.issuer}/session/end?")
    assert dev_provider.end_session(sign_out.headers["Location"]) == f"{server}/"
    assert "Not authenticated" in browser.get(f"{server}/").text


def test_bad_callback_is_a_400_page_not_a_500(server: str) -> None:
    response = requests.get(f"{server}/logto/callback/?code=x&state=forged", timeout=10)

    assert response.status_code == 400
    assert "Please sign in again" in response.text


def test_api_with_a_machine_token(server: str, dev_provider: DevProvider) -> None:
    token = dev_provider.machine_token("http://127.0.0.1:8000/api")
    headers = {"Authorization": f"Bearer {token}"}

    for path in ("/api/me/", "/api/drf/me/"):
        response = requests.get(f"{server}{path}", headers=headers, timeout=10)
        assert response.status_code == 200
        assert response.json()["sub"] == "django-m2m"
        missing = requests.get(f"{server}{path}", timeout=10)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"

    # Two Authorization headers, as the server itself receives and joins them.
    status, www_authenticate = get_with_two_authorizations(f"{server}/api/me/", token, token)
    assert status == 400
    assert 'error="invalid_request"' in www_authenticate


# Keep-alive to the provider under each kind of server: (command, worker processes)
KEEP_ALIVE_SERVERS = {
    "gunicorn-sync": (["-m", "gunicorn", "--workers", "2", "--preload"], 2),
    "gunicorn-gthread": (["-m", "gunicorn", "--workers", "1", "--threads", "4"], 1),
    "uvicorn": (["-m", "uvicorn", "config.asgi:application"], 1),
}


@pytest.mark.parametrize("kind", sorted(KEEP_ALIVE_SERVERS))
def test_sign_ins_and_refreshes_under_each_server_reuse_provider_connections(
    kind: str, dev_provider: DevProvider, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOGTO_ENDPOINT": dev_provider.url,
        "LOGTO_API_RESOURCE": "http://127.0.0.1:8000/api",  # the dev provider's
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    arguments, workers = KEEP_ALIVE_SERVERS[kind]
    if kind == "uvicorn":
        arguments = [*arguments, "--port", str(port)]
    else:
        arguments = [*arguments, "--bind", f"127.0.0.1:{port}", "config.wsgi:application"]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = run_server([sys.executable, *arguments], env, port, log=log)
    origin = f"http://127.0.0.1:{port}"
    dev_provider.register_site(origin)
    before_calls, before_connections = dev_provider.counters(), dev_provider.connections()
    try:
        for _ in range(3):
            browser = requests.Session()
            auth_url = browser.get(f"{origin}/logto/sign-in/?next=/profile/", allow_redirects=False)
            back = dev_provider.authorize(auth_url.headers["Location"], "alice")
            assert browser.get(back, allow_redirects=False).status_code == 302
            # The profile fetches userinfo and refreshes for an API token it then uses.
            profile = browser.get(f"{origin}/profile/", timeout=10)
            assert profile.status_code == 200
            assert "it answered <strong>200</strong>" in profile.text
    finally:
        process.terminate()
        process.wait(timeout=10)

    calls, connections = dev_provider.counters(), dev_provider.connections()

    def new(counts: dict[str, int], before: dict[str, int], key: str) -> int:
        return counts.get(key, 0) - before.get(key, 0)

    assert new(calls, before_calls, "token:authorization_code") == 3
    assert new(calls, before_calls, "token:refresh_token") == 3
    # A profile page each, and alice's first sign-in on this new database asks for her
    # organizations' data once.
    assert new(calls, before_calls, "/oidc/me") == 4
    # Before: a connection per call (6 token requests, 3 userinfo requests).
    assert new(connections, before_connections, "/oidc/token") <= workers
    assert new(connections, before_connections, "/oidc/me") <= workers
    # No worker warned of an unclosed session (a forked one would, of its parent's).
    assert "Unclosed" not in log_path.read_text(errors="replace")


def test_under_uvicorn_pages_reuse_the_processs_redis_connections(
    request: pytest.FixtureRequest, dev_provider: DevProvider, tmp_path: Path
) -> None:
    with demo_server(request, "asgi-postgres-redis", tmp_path) as server:
        browser = requests.Session()
        start = browser.get(f"{server}/logto/sign-in/", allow_redirects=False)
        assert browser.get(dev_provider.authorize(start.headers["Location"], "alice")).ok
        redis_server = redis.Redis.from_url(REDIS)
        before = redis_server.info("stats")["total_connections_received"]

        for _ in range(20):  # each loads the session from Redis, in a request context of its own
            assert "Authenticated" in browser.get(f"{server}/").text

        opened = redis_server.info("stats")["total_connections_received"] - before
    # Django's own pool belongs to a cache object per request context: one connection per
    # page, 20 here. The demo's (config/redis_pool.py) is the process's: one at most, and
    # the margin is for other tests' connections to the same Redis server meanwhile.
    assert opened < 10, opened
