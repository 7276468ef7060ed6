from __future__ import annotations

import json
import shutil
import socket
import urllib.parse
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client, RequestFactory

from logto_auth import _api_users, _organization_data
from logto_auth._context import LogtoContext
from logto_auth._provider import provider
from logto_auth._tokens import verified_tokens
from tests import forged
from tests.devprovider import ROOT, TEST_CLIENT_ORIGIN, DevProvider
from tests.services import REDIS, require_services, throwaway_database

DEAD_BACKCHANNEL_URI = "http://127.0.0.1:9/logto/back-channel-logout/"
# Fixtures that start a dev provider (Node) or need PostgreSQL or Redis: a test that uses
# one, directly or through another fixture, belongs to the integration tier.
INTEGRATION_FIXTURES = frozenset(
    {
        "dev_provider",
        "rotating_dev_provider",
        "private_provider",
        "userinfo_only_tenant",
        "tenant_without_api",
        "redis_url",
        "postgres_database",
    }
)
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test in one tier (marker): ``e2e`` under ``tests/e2e/``; ``integration``
    when it talks to the dev provider, PostgreSQL or Redis (by fixture, or marked so when
    it starts a provider of its own); ``unit`` otherwise: no Node, no server."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        elif any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        elif INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own; yields its URL."""
    require_services()
    with throwaway_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of an empty Redis database, emptied again afterwards."""
    require_services()
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield REDIS
    client.flushdb()


@pytest.fixture(scope="session")
def dev_provider() -> Iterator[DevProvider]:
    """The real development provider, one process for the whole test session."""
    # Back-channel logout tokens are recorded (GET /__dev__/backchannel) but delivered
    # nowhere: tests post them to the site themselves.
    started = DevProvider(DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI=DEAD_BACKCHANNEL_URI).start()
    started.register_site(TEST_CLIENT_ORIGIN)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def rotating_dev_provider() -> Iterator[DevProvider]:
    """A dev provider that rotates refresh tokens on every use and revokes the grant when a
    used one comes back (DEV_PROVIDER_ROTATE_REFRESH_TOKENS=1), for the tests of rotation."""
    started = DevProvider(
        DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI=DEAD_BACKCHANNEL_URI,
        DEV_PROVIDER_ROTATE_REFRESH_TOKENS="1",
    ).start()
    started.register_site(TEST_CLIENT_ORIGIN)
    yield started
    started.stop()


@pytest.fixture
def rotating_provider(rotating_dev_provider: DevProvider, settings: Any) -> DevProvider:
    """Point LOGTO at the rotating dev provider for this test."""
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": rotating_dev_provider.url}
    return rotating_dev_provider


@pytest.fixture(autouse=True)
def logto_settings(request: pytest.FixtureRequest, settings: Any) -> dict[str, Any]:
    """``LOGTO`` for this test: pointed at the dev provider when the test uses it; a unit
    test keeps an endpoint where nothing listens, so that it never reaches a provider."""
    if "dev_provider" in request.fixturenames:
        dev: DevProvider = request.getfixturevalue("dev_provider")
        settings.LOGTO = {**settings.LOGTO, "ENDPOINT": dev.url}
    return settings.LOGTO  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def no_verified_tokens() -> Iterator[None]:
    """Start and end each test with no access token remembered as verified, and none of the
    rows a process remembers (users of tokens, fresh organizations): a test's rows end
    with it."""
    memories = (verified_tokens, _api_users.recent, _organization_data.fresh_lately)
    for memory in memories:
        memory.clear()
    yield
    for memory in memories:
        memory.clear()


@pytest.fixture
def cold_provider(logto_settings: dict[str, Any]) -> None:
    """Start the test with no provider metadata or keys cached anywhere."""
    provider().forget()


@pytest.fixture
def hostile_provider(settings: Any) -> None:
    """An issuer whose metadata and test-made keys are seeded into the cache (no network)."""
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": forged.ENDPOINT}
    forged.seed_provider()


class Site:
    """The Django site seen through its WSGI or its ASGI handler."""

    def __init__(self, kind: str, **defaults: Any) -> None:
        self.kind = kind
        self.client = Client(**defaults) if kind == "wsgi" else AsyncClient(**defaults)

    def get(self, path: str, data: Any = None, **extra: Any) -> Any:
        if self.kind == "wsgi":
            return self.client.get(path, data, **extra)
        return async_to_sync(self.client.get)(path, data, **extra)  # type: ignore[arg-type]

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        if self.kind == "wsgi":
            return self.client.post(path, data, **extra)
        return async_to_sync(self.client.post)(path, data, **extra)  # type: ignore[arg-type]

    @property
    def session(self) -> Any:
        return self.client.session

    def sign_in_url(self, path: str = "/logto/sign-in/", **params: str) -> str:
        response = self.get(path, params)
        assert response.status_code == 302, response.content
        return str(response["Location"])

    def callback(self, provider_redirect: str) -> Any:
        parts = urllib.parse.urlsplit(provider_redirect)
        assert parts.path == "/logto/callback/", provider_redirect
        return self.get(f"{parts.path}?{parts.query}")

    def access_token(self, resource: str = "", organization_id: str | None = None) -> str:
        """``request.logto``'s access token (or organization token) for this site's session."""
        request = RequestFactory().get("/")
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(
            self.session.session_key
        )
        logto = LogtoContext(request)
        if organization_id is None:
            token = logto.get_access_token(resource)
        else:
            token = logto.get_organization_token(organization_id)
        request.session.save()
        assert token is not None
        return token

    def sign_in(self, dev: DevProvider, username: str = "alice", **params: str) -> Any:
        """Sign in through the provider's login page; return the callback's response."""
        return self.callback(dev.authorize(self.sign_in_url(**params), username))


@pytest.fixture(
    params=[(handler, engine) for handler in ("wsgi", "asgi") for engine in ("db", "cache")],
    ids="-".join,
)
def site(request: pytest.FixtureRequest, db: None, settings: Any) -> Site:
    """The site through its WSGI or ASGI handler, with database or cache sessions."""
    handler, engine = request.param
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    return Site(handler)


@pytest.fixture
def wsgi_site(db: None) -> Site:
    return Site("wsgi")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any outgoing connection; yields the list of attempted addresses."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"unexpected network call to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


class PrivateProvider(DevProvider):
    """A dev provider of one test's own, on a copy of the demo users that it can edit."""

    def __init__(self, users: Path, **env: str) -> None:
        shutil.copy(ROOT / "devprovider" / "users.json", users)
        super().__init__(0, DEV_PROVIDER_USERS=str(users), **env)
        self.users = users

    def start(self) -> PrivateProvider:
        super().start()
        self.register_site(TEST_CLIENT_ORIGIN)
        return self

    def edit_user(self, username: str, **changes: Any) -> None:
        users = json.loads(self.users.read_text())
        for user in users:
            if user["username"] == username:
                user.update(changes)
        self.users.write_text(json.dumps(users))


@pytest.fixture
def private_provider(tmp_path: Path, settings: Any) -> Iterator[PrivateProvider]:
    """Start a private dev provider and point LOGTO at it for this test."""
    started = PrivateProvider(tmp_path / "users.json")
    started.start()
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": started.url}
    yield started
    started.stop()


@pytest.fixture
def userinfo_only_tenant(tmp_path: Path, settings: Any) -> Iterator[PrivateProvider]:
    """A private tenant that leaves roles and organizations out of ID tokens (userinfo has
    them), LOGTO pointed at it for this test."""
    started = PrivateProvider(tmp_path / "users.json", DEV_PROVIDER_ID_TOKEN_EXTENDED_CLAIMS="")
    started.start()
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": started.url}
    yield started
    started.stop()


@pytest.fixture
def tenant_without_api(tmp_path: Path) -> Iterator[DevProvider]:
    """A dev provider whose tenant has no API resource, like a fresh Logto tenant."""
    tenant = tmp_path / "tenant.json"
    tenant.write_text(json.dumps({"resources": [], "roles": {}, "organization_roles": {}}))
    started = DevProvider(DEV_PROVIDER_TENANT=str(tenant)).start()
    started.register_site(TEST_CLIENT_ORIGIN)
    yield started
    started.stop()
