"""Two instances of the demo behind an imaginary load balancer: gunicorn (WSGI) as A and
uvicorn (ASGI) as B, sharing the database, the sessions and the cache, each variant with
its own dev provider whose back-channel logout goes to B.

Variants: PostgreSQL + Redis with database sessions, PostgreSQL + Redis with cache
sessions, and SQLite (one file) with database sessions and the database cache: a
local-memory cache is private to each process, so it cannot hold the refresh lock that
the instances share.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.devprovider import ROOT, DevProvider
from tests.e2e.test_servers import manage, run_server
from tests.services import free_port

pytestmark = pytest.mark.e2e
CONCURRENT = 20
SYNC_INTERVAL = 2
# Run by `manage.py shell` with the instances' settings: mark every access token of the
# session SESSION_KEY expired, in the store the instances share.
EXPIRE_ACCESS_TOKENS = """
import json, os
from importlib import import_module
from django.conf import settings
store = import_module(settings.SESSION_ENGINE).SessionStore(os.environ["SESSION_KEY"])
tokens = json.loads(store["_logto_accessTokenMap"])
for token in tokens["x"].values():
    token["expiresAt"] = 0
store["_logto_accessTokenMap"] = json.dumps(tokens)
store.save()
"""


@dataclass
class Instances:
    a: str
    b: str
    provider: DevProvider
    env: dict[str, str]
    users: Path

    def sign_in(self) -> tuple[requests.Session, requests.Session]:
        """Start on A, sign in at the provider, land the callback on B.

        Return the site's browser and the provider's (which holds its session cookie).
        """
        browser, at_provider = requests.Session(), requests.Session()
        start = browser.get(f"{self.a}/logto/sign-in/", allow_redirects=False)
        back = self.provider.authorize(start.headers["Location"], "alice", http=at_provider)
        assert back.startswith(f"{self.a}/logto/callback/?")
        # The balancer keeps the public Host; only the process behind it changes.
        host = urllib.parse.urlsplit(self.a).netloc
        callback = browser.get(
            back.replace(self.a, self.b, 1), headers={"Host": host}, allow_redirects=False
        )
        assert callback.status_code == 302, callback.text
        return browser, at_provider


@pytest.fixture(params=["postgres-redis-db", "postgres-redis-cache", "sqlite-dbcache"])
def instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instances]:
    port_a, port_b = free_port(), free_port()
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
    }
    if request.param.startswith("postgres"):
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        env["DJANGO_SESSION_ENGINE"] = request.param.rsplit("-", 1)[1]
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        env["DJANGO_DATABASE_CACHE"] = "1"
        env["DJANGO_SESSION_ENGINE"] = "db"
    # Refresh tokens rotate on every use (and a reused one revokes the grant): the
    # concurrent-refresh test must then see exactly one refresh per token.
    users = tmp_path / "users.json"
    shutil.copy(ROOT / "devprovider" / "users.json", users)
    provider = DevProvider(
        DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI=f"{b}/logto/back-channel-logout/",
        DEV_PROVIDER_ROTATE_REFRESH_TOKENS="1",
        DEV_PROVIDER_USERS=str(users),
    ).start()
    marker = request.node.get_closest_marker("sync_interval")
    if marker is not None:
        env["LOGTO_SYNC_INTERVAL"] = str(marker.args[0])
    # The balancer's public address is A's: the callback and sign-out return there.
    provider.register_site(a)
    env["LOGTO_ENDPOINT"] = provider.url
    env["LOGTO_API_RESOURCE"] = "http://127.0.0.1:8000/api"  # the dev provider's
    gunicorn = [
        *(sys.executable, "-m", "gunicorn", "config.wsgi:application"),
        *("--bind", f"127.0.0.1:{port_a}", "--workers", "1", "--threads", str(CONCURRENT)),
    ]
    uvicorn = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port_b)]
    servers = []
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "createcachetable")
        for command, port in ((gunicorn, port_a), (uvicorn, port_b)):
            servers.append(run_server(command, env, port, migrate=False))
        yield Instances(a, b, provider, env, users)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        provider.stop()


def test_sign_in_started_on_a_finishes_on_b_and_holds_on_both(instances: Instances) -> None:
    browser, _ = instances.sign_in()

    for origin in (instances.a, instances.b):
        page = browser.get(f"{origin}/").text
        assert "Authenticated" in page
        assert "Alice Admin" in page


def test_back_channel_logout_received_by_b_ends_the_session_used_on_a(
    instances: Instances,
) -> None:
    browser, at_provider = instances.sign_in()
    assert "Alice Admin" in browser.get(f"{instances.a}/").text
    end_session = f"{instances.provider.issuer}/session/end?" + urllib.parse.urlencode(
        {"client_id": "django-demo", "post_logout_redirect_uri": f"{instances.a}/"}
    )

    assert instances.provider.end_session(end_session, http=at_provider) == f"{instances.a}/"

    [delivery] = instances.provider.backchannel()
    assert delivery["target"] == f"{instances.b}/logto/back-channel-logout/"
    assert delivery["status"] == 200
    assert "Not authenticated" in browser.get(f"{instances.a}/").text
    assert "Not authenticated" in browser.get(f"{instances.b}/").text


def test_concurrent_requests_across_instances_refresh_once(instances: Instances) -> None:
    browser, _ = instances.sign_in()
    session_key = str(browser.cookies["sessionid"])
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", EXPIRE_ACCESS_TOKENS],
        cwd=ROOT,
        env={**instances.env, "SESSION_KEY": session_key},
        check=True,
    )
    before = instances.provider.counters().get("token:refresh_token", 0)

    def profile(index: int) -> requests.Response:
        origin = (instances.a, instances.b)[index % 2]
        return requests.get(f"{origin}/profile/", cookies={"sessionid": session_key}, timeout=60)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        responses = list(pool.map(profile, range(CONCURRENT)))

    refreshes = instances.provider.counters().get("token:refresh_token", 0) - before
    print(f"{CONCURRENT} concurrent requests across 2 instances: {refreshes} refreshes")
    assert [response.status_code for response in responses] == [200] * CONCURRENT
    assert all("organization_data" in response.text for response in responses)
    # /profile/ needs two access tokens, each through one refresh for all 20 requests:
    # userinfo's (expired above) and the demo API's (not fetched yet).
    assert refreshes == 2


@pytest.mark.sync_interval(SYNC_INTERVAL)
def test_rights_follow_logto_on_both_instances_within_the_sync_interval(
    instances: Instances,
) -> None:
    browser, _ = instances.sign_in()
    assert browser.get(f"{instances.a}/admin/").status_code == 200
    users = json.loads(instances.users.read_text())
    for user in users:
        if user["username"] == "alice":
            user["roles"] = []
    instances.users.write_text(json.dumps(users))

    time.sleep(SYNC_INTERVAL + 0.2)
    demoted = browser.get(f"{instances.b}/admin/")

    assert demoted.status_code == 403
    assert "No access" in demoted.text
    assert browser.get(f"{instances.a}/admin/").status_code == 403

    instances.provider.set_user_state("alice0k7x2qm", "suspend")
    time.sleep(SYNC_INTERVAL + 0.2)
    signed_out = browser.get(f"{instances.a}/")

    assert signed_out.status_code == 401
    assert "Not authenticated" in browser.get(f"{instances.b}/").text


@pytest.mark.sync_interval(SYNC_INTERVAL)
def test_two_devices_of_one_user_on_two_instances_cost_one_sync_per_interval(
    instances: Instances,
) -> None:
    phone, _ = instances.sign_in()
    laptop, _ = instances.sign_in()  # another browser: its own Django and Logto sessions
    users = json.loads(instances.users.read_text())
    for user in users:
        if user["username"] == "alice":
            user["roles"] = []
    instances.users.write_text(json.dumps(users))
    before = instances.provider.counters().get("token:refresh_token", 0)

    time.sleep(SYNC_INTERVAL + 0.2)
    on_a, on_b = phone.get(f"{instances.a}/admin/"), laptop.get(f"{instances.b}/admin/")

    refreshes = instances.provider.counters().get("token:refresh_token", 0) - before
    assert (on_a.status_code, on_b.status_code) == (403, 403)
    assert refreshes == 1
