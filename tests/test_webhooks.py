"""Logto webhooks: the signature (with the real Logto sample as a test vector), replays,
and the user events that update, deactivate and sign out Django users."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import DatabaseError

from logto_auth import _sessions
from logto_auth._notifications import REPLAY_TTL, verify
from logto_auth.exceptions import InvalidSignature
from logto_auth.models import LogtoIdentity
from tests.conftest import Site
from tests.devprovider import DevProvider

# What a real Logto 1.42 sent (shared/logto-samples/webhook_user_created.json): a test vector.
SAMPLE_BODY = (
    b'{"event":"User.Created","createdAt":"2026-11-28T16:03:59.696Z","interactionEvent'
    b'":"Register","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KH'
    b'TML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36","applicationId":"0wwng6'
    b'6as72su1ykdwzo4","sessionId":"UwfY6jiO_VlJ7P6X2HF-Ro35jokvEf7LoAggSohWEZN","ip":'
    b'"127.0.0.1","application":{"id":"0wwng66as72su1ykdwzo4","type":"Traditional","na'
    b'me":"Django acceptance test","description":"Traditional web app for Django integ'
    b'ration acceptance tests"},"data":{"id":"18dydlue7oph","username":"acceptance_use'
    b'r5","primaryEmail":null,"primaryPhone":null,"name":null,"avatar":null,"customDat'
    b'a":{},"identities":{},"lastSignInAt":null,"createdAt":1795881839660,"updatedAt":'
    b'1795881839660,"profile":{},"applicationId":null,"cimdClientId":null,"isSuspended'
    b'":false},"hookId":"hr6y6s9aod3ky4oc6hsdy"}'
)
SAMPLE_SIGNATURE = "9cf29c2ba9d5253d3517fe8bdd728d183a0efff5bec666d5bdd1acceb78ad267"
KEY = "7hvHdZqvBpnOGmXNF05tf4zt8wODnhyN"  # the sample's signing key
URL = "/logto/webhooks/"
ALICE = "alice0k7x2qm"


@pytest.fixture(autouse=True)
def signing_key(logto_settings: dict[str, Any], settings: Any) -> None:
    settings.LOGTO = {**logto_settings, "WEBHOOK_SIGNING_KEY": KEY}


def post(site: Site, body: bytes, signature: str | None = "sign") -> Any:
    headers = {}
    if signature == "sign":
        signature = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    if signature is not None:
        headers["logto-signature-sha-256"] = signature
    return site.post(URL, body, content_type="application/json", headers=headers)


def iso(at: float) -> str:
    """The Unix time ``at`` written as Logto writes ``createdAt`` (to the microsecond, so
    that two calls make two events)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event(kind: str, /, *, ago: float = 0, at: float | None = None, **data: Any) -> bytes:
    """A webhook body of an event created ``ago`` seconds ago (negative: in the future), or
    at the Unix time ``at``."""
    created_at = iso(time.time() - ago if at is None else at)
    payload = {"event": kind, "createdAt": created_at, "hookId": "h1"}
    return json.dumps({**payload, "data": {"id": ALICE, **data}}).encode()


@pytest.fixture
def alice(site: Site, dev_provider: DevProvider) -> Site:
    site.sign_in(dev_provider, "alice")
    return site


def alice_user() -> User:
    return LogtoIdentity.objects.select_related("user").get(sub=ALICE).user


RAW = event("User.Deleted")


def test_logto_sample_signature_verifies() -> None:
    verify(SAMPLE_BODY, SAMPLE_SIGNATURE)
    verify(SAMPLE_BODY, SAMPLE_SIGNATURE.upper())
    with pytest.raises(InvalidSignature):
        verify(SAMPLE_BODY + b" ", SAMPLE_SIGNATURE)
    with pytest.raises(InvalidSignature):
        verify(SAMPLE_BODY, SAMPLE_SIGNATURE[:-1] + "0")


def test_logto_sample_is_authentic_but_too_old_to_act_on(wsgi_site: Site) -> None:
    # Sent on 2026-11-28: older than the replay memory, so a replay of it is refused.
    response = post(wsgi_site, SAMPLE_BODY, SAMPLE_SIGNATURE)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_webhook"
    assert "too old" in response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"


def test_logto_sample_sent_now_is_accepted_and_its_event_ignored(wsgi_site: Site) -> None:
    body = SAMPLE_BODY.replace(b"2026-11-28T16:03:59.696Z", iso(time.time()).encode())

    response = post(wsgi_site, body)

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("signature", ["é" * 64, "ü" * 64, "0" * 63 + "é"])
def test_non_hex_signature_answers_401(db: None, kind: str, signature: str) -> None:
    response = post(Site(kind), RAW, signature)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_webhook"


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex"])
def test_missing_or_bad_signature_answers_401(wsgi_site: Site, signature: str | None) -> None:
    response = post(wsgi_site, RAW, signature)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_webhook"


def test_without_a_signing_key_every_webhook_is_refused(wsgi_site: Site, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "WEBHOOK_SIGNING_KEY": ""}

    assert post(wsgi_site, RAW).status_code == 401


def test_signed_body_that_is_not_json_answers_400(wsgi_site: Site) -> None:
    assert post(wsgi_site, b"not json").status_code == 400


def test_signed_body_nested_too_deep_answers_400(wsgi_site: Site) -> None:
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        response = post(wsgi_site, body)

        assert response.status_code == 400
        assert response.json()["error_description"] == "The webhook body is not JSON."


@pytest.mark.parametrize("user_id", [f"{ALICE}\x00", "a" * 256, "", None, 12, "alice@x"])
def test_event_naming_no_plausible_user_is_ignored(wsgi_site: Site, user_id: Any) -> None:
    # PostgreSQL refuses a NUL byte in a query: such an ID must never reach the database.
    response = post(wsgi_site, event("User.Deleted", id=user_id))

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}


def test_data_updated_updates_the_django_user(alice: Site) -> None:
    body = event("User.Data.Updated", name="Alice Renamed", primaryEmail="new@example.com")

    response = post(alice, body)

    assert response.json() == {"result": "user updated"}
    user = alice_user()
    assert user.first_name == "Alice Renamed"
    assert user.email == "new@example.com"
    identity = LogtoIdentity.objects.get(sub=ALICE)
    assert identity.claims["roles"] == ["admin"]  # kept from the last sign-in
    assert b"Authenticated" in alice.get("/").content


def test_suspension_deactivates_the_user_and_ends_all_their_sessions(
    alice: Site, dev_provider: DevProvider
) -> None:
    other_browser = Site(alice.kind)
    other_browser.sign_in(dev_provider, "alice")

    response = post(alice, event("User.SuspensionStatus.Updated", isSuspended=True))

    assert response.json() == {"result": "user deactivated, 2 session(s) ended"}
    assert not alice_user().is_active
    assert b"Not authenticated" in alice.get("/").content
    assert b"Not authenticated" in other_browser.get("/").content


def test_lifting_the_suspension_reactivates_the_user(alice: Site) -> None:
    post(alice, event("User.SuspensionStatus.Updated", isSuspended=True))

    post(alice, event("User.SuspensionStatus.Updated", isSuspended=False))

    assert alice_user().is_active


def test_suspension_while_the_callback_completes_leaves_no_session(
    site: Site, dev_provider: DevProvider
) -> None:
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")
    outcomes: list[Any] = []

    def suspend(**kwargs: Any) -> None:
        # After authenticate(), before the new session is indexed: nothing to end yet.
        body = event("User.SuspensionStatus.Updated", isSuspended=True)
        outcomes.append(post(Site("wsgi"), body).json())

    user_logged_in.connect(suspend, dispatch_uid="suspend")
    try:
        response = site.callback(redirect)
    finally:
        user_logged_in.disconnect(dispatch_uid="suspend")
    post(site, event("User.SuspensionStatus.Updated", isSuspended=False))

    assert outcomes == [{"result": "user deactivated, 0 session(s) ended"}]
    assert response.status_code == 400
    assert alice_user().is_active
    assert b"Not authenticated" in site.get("/").content


def test_deleted_user_is_deactivated_and_signed_out(alice: Site) -> None:
    response = post(alice, event("User.Deleted"))

    assert response.json() == {"result": "user deactivated, 1 session(s) ended"}
    assert not alice_user().is_active
    assert b"Not authenticated" in alice.get("/").content


def test_replayed_event_is_ignored(alice: Site) -> None:
    body = event("User.SuspensionStatus.Updated", isSuspended=True)
    post(alice, body)
    user = alice_user()
    user.is_active = True
    user.save()

    response = post(alice, body)

    assert response.json() == {"result": "replay ignored"}
    assert alice_user().is_active


def test_webhook_replayed_after_replay_memory_expired_is_refused(
    alice: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = event("User.SuspensionStatus.Updated", isSuspended=True)
    assert post(alice, body).json() == {"result": "user deactivated, 1 session(s) ended"}
    user = alice_user()
    user.is_active = True
    user.save()
    # A day later the replay memory (Django's cache) has forgotten the event by itself.
    later = time.time() + REPLAY_TTL + 3600
    monkeypatch.setattr(time, "time", lambda: later)

    response = post(Site("wsgi"), body)

    assert response.status_code == 400
    assert "too old" in response.json()["error_description"]
    assert alice_user().is_active


def test_webhook_older_than_replay_memory_is_refused(alice: Site) -> None:
    response = post(alice, event("User.Deleted", ago=REPLAY_TTL + 1))

    assert response.status_code == 400
    assert alice_user().is_active
    assert b"Authenticated" in alice.get("/").content


def test_webhook_from_the_future_is_refused(alice: Site) -> None:
    response = post(alice, event("User.Deleted", ago=-120))  # LEEWAY is 60 s

    assert response.status_code == 400
    assert "future" in response.json()["error_description"]
    assert alice_user().is_active


def test_webhook_within_clock_leeway_is_accepted(alice: Site) -> None:
    response = post(alice, event("User.Deleted", ago=-30))

    assert response.status_code == 200
    assert not alice_user().is_active


@pytest.mark.parametrize("created_at", [None, "", "yesterday", "2026-11-28", 1795881839660])
def test_webhook_without_a_parseable_created_at_is_refused(alice: Site, created_at: Any) -> None:
    payload: dict[str, Any] = {"event": "User.Deleted", "data": {"id": ALICE}}
    if created_at is not None:
        payload["createdAt"] = created_at

    response = post(alice, json.dumps(payload).encode())

    assert response.status_code == 400
    assert "createdAt" in response.json()["error_description"]
    assert alice_user().is_active


def test_older_event_after_a_newer_one_is_ignored_as_out_of_order(alice: Site) -> None:
    post(alice, event("User.SuspensionStatus.Updated", isSuspended=True))

    response = post(alice, event("User.SuspensionStatus.Updated", ago=60, isSuspended=False))

    assert response.status_code == 200
    assert response.json() == {"result": "out of order: ignored"}
    assert not alice_user().is_active


def test_old_event_replayed_after_a_cache_flush_is_ignored_as_out_of_order(alice: Site) -> None:
    suspension = event("User.SuspensionStatus.Updated", ago=60, isSuspended=True)
    post(alice, suspension)
    post(alice, event("User.SuspensionStatus.Updated", isSuspended=False))
    cache.clear()

    response = post(alice, suspension)

    assert response.json() == {"result": "out of order: ignored"}
    assert alice_user().is_active
    assert LogtoIdentity.objects.get(sub=ALICE).last_event_at is not None


def test_newest_event_replayed_after_a_cache_flush_is_ignored(alice: Site) -> None:
    lifted = event("User.SuspensionStatus.Updated", isSuspended=False)
    assert post(alice, lifted).json() == {"result": "user reactivated"}
    user = alice_user()
    user.is_active = False  # deactivated since, on this site
    user.save()
    cache.clear()  # or another process's LocMemCache, or an eviction

    response = post(alice, lifted)

    assert response.json() == {"result": "replay ignored"}
    assert not alice_user().is_active


def test_distinct_events_created_in_the_same_millisecond_all_apply_once(alice: Site) -> None:
    at = time.time()
    lifted = event("User.SuspensionStatus.Updated", at=at, isSuspended=False)
    renamed = event("User.Data.Updated", at=at, name="Alice Renamed")
    assert post(alice, lifted).json() == {"result": "user reactivated"}
    assert post(alice, renamed).json() == {"result": "user updated"}
    user = alice_user()
    user.is_active = False
    user.save()
    cache.clear()

    assert post(alice, lifted).json() == {"result": "replay ignored"}
    assert post(alice, renamed).json() == {"result": "replay ignored"}
    assert not alice_user().is_active
    assert alice_user().first_name == "Alice Renamed"


def test_event_delivered_twice_at_once_acts_once(
    alice: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = event("User.Deleted")
    end_sessions = _sessions.end_sessions
    ended: list[str | None] = []
    second: list[Any] = []

    def end_while_delivered_again(*, sid: str | None = None, sub: str | None = None) -> int:
        ended.append(sub)
        if len(ended) == 1:  # the second delivery arrives while the first is acting
            second.append(post(Site("wsgi"), body))
        return end_sessions(sid=sid, sub=sub)

    monkeypatch.setattr(_sessions, "end_sessions", end_while_delivered_again)

    first = post(alice, body)

    assert first.json() == {"result": "user deactivated, 1 session(s) ended"}
    assert second[0].json() == {"result": "replay ignored"}
    assert ended == [ALICE]


def test_event_that_failed_to_apply_is_applied_when_logto_retries(
    alice: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = event("User.Deleted")
    end_sessions = _sessions.end_sessions
    calls: list[str | None] = []

    def fail_once(*, sid: str | None = None, sub: str | None = None) -> int:
        calls.append(sub)
        if len(calls) == 1:
            raise DatabaseError("database is locked")
        return end_sessions(sid=sid, sub=sub)

    monkeypatch.setattr(_sessions, "end_sessions", fail_once)
    logto = Site("wsgi", raise_request_exception=False)

    assert post(logto, body).status_code == 503
    response = post(logto, body)

    assert response.json() == {"result": "user deactivated, 1 session(s) ended"}
    assert not alice_user().is_active


def test_unknown_event_is_accepted(wsgi_site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="logto_auth")

    response = post(wsgi_site, event("OrganizationScope.Created"))

    assert response.status_code == 200
    assert response.json() == {"result": "ignored"}
    assert "OrganizationScope.Created" in caplog.text


def test_event_for_an_unknown_user_is_accepted(wsgi_site: Site) -> None:
    response = post(wsgi_site, event("User.Deleted", id="nobody"))

    assert response.json() == {"result": "user deactivated, 0 session(s) ended"}


def test_webhooks_accept_only_post(wsgi_site: Site) -> None:
    assert wsgi_site.get(URL).status_code == 405


def test_events_apply_in_order_when_the_database_holds_naive_times(
    alice: Site, settings: Any
) -> None:
    settings.USE_TZ = False
    post(alice, event("User.SuspensionStatus.Updated", isSuspended=True))

    response = post(alice, event("User.SuspensionStatus.Updated", ago=60, isSuspended=False))

    assert response.json() == {"result": "out of order: ignored"}
    assert not alice_user().is_active
