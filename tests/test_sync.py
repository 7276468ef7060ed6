"""Rights that follow Logto within SYNC_INTERVAL, without signing in again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache

from logto_auth import _context, _provider
from logto_auth._renewal import _published_key
from logto_auth._sessions import CHECKED_KEY, SYNCED_KEY, end_sessions
from logto_auth.backends import LogtoBackend
from logto_auth.models import LogtoIdentity
from tests.conftest import PrivateProvider, Site
from tests.test_context import context_of
from tests.test_tokens import report_of

pytestmark = pytest.mark.urls("tests.urls")
INTERVAL = 1.0
ALICE, CAROL = "alice0k7x2qm", "carol0p5d1hs"


@pytest.fixture
def syncing(private_provider: PrivateProvider, settings: Any) -> PrivateProvider:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": INTERVAL}
    return private_provider


def user(sub: str) -> Any:
    return get_user_model().objects.get(logto_identity__sub=sub)


def after_interval(site: Site) -> Any:
    """Wait for the interval to pass, then make an ordinary request of the signed-in user."""
    time.sleep(INTERVAL + 0.05)
    return site.get("/")


def test_a_demoted_admin_loses_admin_within_the_interval(
    site: Site, syncing: PrivateProvider
) -> None:
    site.sign_in(syncing, "alice")
    assert user(ALICE).is_superuser
    syncing.edit_user("alice", roles=[])

    response = after_interval(site)

    assert response.status_code == 200
    assert b"Authenticated" in response.content
    alice = user(ALICE)
    assert not alice.is_superuser
    assert not alice.is_staff
    assert LogtoIdentity.objects.get(sub=ALICE).roles == []


def test_a_promoted_user_gains_admin_within_the_interval(
    site: Site, syncing: PrivateProvider
) -> None:
    site.sign_in(syncing, "carol")
    assert not user(CAROL).is_staff
    syncing.edit_user("carol", roles=["admin"])

    after_interval(site)

    assert user(CAROL).is_superuser
    assert site.get("/need/admin/").status_code == 200


@pytest.mark.parametrize("action", ["suspend", "delete"])
def test_a_user_suspended_or_deleted_in_logto_is_signed_out_with_a_clear_page(
    site: Site, syncing: PrivateProvider, action: str
) -> None:
    site.sign_in(syncing, "alice")
    syncing.set_user_state(ALICE, action)

    response = after_interval(site)

    assert response.status_code == 401
    assert b"sign-in has expired" in response.content
    assert b"Not authenticated" in site.get("/").content


def test_requests_within_the_interval_make_no_provider_call(
    site: Site, syncing: PrivateProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 60}
    site.sign_in(syncing, "alice")
    before = syncing.calls()

    for _ in range(5):
        assert site.get("/").status_code == 200

    assert syncing.calls() == before


def test_one_sync_per_interval_costs_one_refresh(site: Site, syncing: PrivateProvider) -> None:
    site.sign_in(syncing, "alice")
    before = syncing.counters()

    after_interval(site)
    for _ in range(3):
        site.get("/")

    after = syncing.counters()
    assert after.get("token:refresh_token", 0) - before.get("token:refresh_token", 0) == 1
    assert after.get("/oidc/me", 0) == before.get("/oidc/me", 0)  # roles are in the ID token


def test_provider_outage_keeps_the_session_and_the_rights_and_retries_next_interval(
    wsgi_site: Site, syncing: PrivateProvider, caplog: pytest.LogCaptureFixture
) -> None:
    wsgi_site.sign_in(syncing, "alice")
    syncing.stop()
    caplog.set_level(logging.WARNING, logger="logto_auth")

    response = after_interval(wsgi_site)
    wsgi_site.get("/")

    assert response.status_code == 200
    assert b"Authenticated" in response.content
    assert user(ALICE).is_superuser
    assert len([r for r in caplog.records if "Could not sync" in r.getMessage()]) == 1
    assert wsgi_site.session[SYNCED_KEY] > time.time() - INTERVAL


def test_sync_off_never_calls_the_provider(
    wsgi_site: Site, private_provider: PrivateProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": None}
    wsgi_site.sign_in(private_provider, "alice")
    private_provider.edit_user("alice", roles=[])
    before = private_provider.calls()

    after_interval(wsgi_site)

    assert private_provider.calls() == before
    assert user(ALICE).is_superuser


@pytest.fixture
def userinfo_only_tenant(userinfo_only_tenant: PrivateProvider, settings: Any) -> PrivateProvider:
    """conftest's tenant without roles in ID tokens, synced every ``INTERVAL``."""
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": INTERVAL}
    return userinfo_only_tenant


def test_sync_reads_userinfo_when_the_id_token_lacks_roles(
    site: Site, userinfo_only_tenant: PrivateProvider
) -> None:
    site.sign_in(userinfo_only_tenant, "alice")
    assert user(ALICE).is_superuser
    userinfo_only_tenant.edit_user("alice", roles=["staff"])

    after_interval(site)

    alice = user(ALICE)
    assert alice.is_staff
    assert not alice.is_superuser
    assert LogtoIdentity.objects.get(sub=ALICE).roles == ["staff"]


def test_concurrent_requests_due_for_a_sync_make_one_refresh(
    syncing: PrivateProvider, settings: Any, db: None
) -> None:
    # Cache sessions: threads do not share the in-memory test database.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    alice = Site("wsgi")
    alice.sign_in(syncing, "alice")
    time.sleep(INTERVAL + 0.05)
    contexts = [context_of(alice) for _ in range(8)]
    before = syncing.counters().get("token:refresh_token", 0)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda context: context.refresh_from_logto(), contexts))

    assert syncing.counters()["token:refresh_token"] == before + 1


ENDPOINTS = {"SYNC_INTERVAL": SYNCED_KEY, "REVALIDATE_INTERVAL": CHECKED_KEY}


def due(site: Site, key: str) -> None:
    """Make the sync or revalidation of ``site``'s session due at its next request, with no
    claims of the user published by an earlier sync to adopt instead."""
    logto = context_of(site)
    logto._request.session[key] = 0
    logto._request.session.save()
    cache.delete(_published_key(str(logto.sub)))


@pytest.fixture
def signed_out_midway(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Return ``arm()``: from then on, sign the user out elsewhere (a sign-out or back-channel
    logout deletes their Django sessions) while a sync or revalidation talks to the provider.
    Armed after the sign-in, which also syncs the user and would be undone."""
    sync_user, is_active = LogtoBackend.sync_user, _provider.refresh_token_is_active

    def sync_then_sign_out(self: LogtoBackend, *args: Any, **kwargs: Any) -> Any:
        user = sync_user(self, *args, **kwargs)
        end_sessions(sub=ALICE)
        return user

    def introspect_then_sign_out(token: str) -> bool:
        active = is_active(token)
        end_sessions(sub=ALICE)
        return active

    def arm() -> None:
        monkeypatch.setattr(LogtoBackend, "sync_user", sync_then_sign_out)
        monkeypatch.setattr(_context, "refresh_token_is_active", introspect_then_sign_out)

    return arm


@pytest.mark.parametrize("setting", ENDPOINTS)
def test_a_sync_racing_a_sign_out_signs_out_without_a_500(
    site: Site,
    private_provider: PrivateProvider,
    settings: Any,
    setting: str,
    signed_out_midway: Callable[[], None],
) -> None:
    settings.LOGTO = {**settings.LOGTO, setting: 60}
    site.sign_in(private_provider, "alice")
    due(site, ENDPOINTS[setting])
    signed_out_midway()

    response = site.get("/")

    assert response.status_code == 401
    assert b"sign in again" in response.content.lower()
    assert b"Not authenticated" in site.get("/").content


@pytest.mark.parametrize("handler", ["sync", "async"])
def test_a_sync_that_cannot_save_the_session_shows_no_token_in_the_error_report(
    wsgi_site: Site, syncing: PrivateProvider, monkeypatch: pytest.MonkeyPatch, handler: str
) -> None:
    wsgi_site.sign_in(syncing, "alice")  # database sessions
    due(wsgi_site, SYNCED_KEY)
    logto = context_of(wsgi_site)
    refresh_token, id_token = logto._tokens.storage.get("refreshToken"), str(logto.id_token)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database refused the write")

    monkeypatch.setattr(Session, "save", refuse)
    sync = (
        logto.refresh_from_logto if handler == "sync" else async_to_sync(logto.arefresh_from_logto)
    )

    report = report_of(sync)

    assert "the database refused the write" in report
    assert refresh_token
    assert refresh_token not in report
    assert id_token.split(".")[0] not in report  # the header of every ID token it signs
