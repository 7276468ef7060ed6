"""OpenID back-channel logout: real logout tokens from the dev provider end Django
sessions; hostile ones (signed here with test keys) answer 400 and end nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.db import SessionStore
from django.db import DatabaseError

from logto_auth import _sessions
from logto_auth._tokens import BACKCHANNEL_LOGOUT_EVENT
from logto_auth.models import LogtoSession
from tests.conftest import Site
from tests.devprovider import DevProvider
from tests.forged import OTHER_P384, P384, RSA, claims, sign

URL = "/logto/back-channel-logout/"


def sign_in_with_provider_session(site: Site, dev: DevProvider) -> requests.Session:
    """Sign in to the site; return the browser that holds the provider's session cookie."""
    browser = requests.Session()
    assert (
        site.callback(dev.authorize(site.sign_in_url(), "alice", http=browser)).status_code == 302
    )
    return browser


def end_at_provider(dev: DevProvider, browser: requests.Session) -> str:
    """Sign out at the provider (as its end-session page does); return its logout token."""
    before = len(dev.backchannel())
    url = f"{dev.issuer}/session/end?client_id=django-demo&post_logout_redirect_uri=http://testserver/"
    dev.end_session(url, http=browser)
    deliveries = dev.backchannel()
    assert len(deliveries) == before + 1
    return str(deliveries[-1]["logout_token"])


def deliver(site: Site, token: str) -> Any:
    return site.post(URL, {"logout_token": token})


def test_logout_token_from_the_provider_ends_the_django_session(
    site: Site, dev_provider: DevProvider
) -> None:
    browser = sign_in_with_provider_session(site, dev_provider)
    assert b"Authenticated" in site.get("/").content
    token = end_at_provider(dev_provider, browser)

    response = deliver(site, token)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"result": "1 session(s) ended"}
    assert b"Not authenticated" in site.get("/").content
    assert not LogtoSession.objects.exists()


def test_sign_in_indexes_the_session_by_logto_sid(site: Site, dev_provider: DevProvider) -> None:
    sign_in_with_provider_session(site, dev_provider)

    row = LogtoSession.objects.get()

    assert row.session_key == site.session.session_key
    assert row.sub == "alice0k7x2qm"
    assert row.sid


def test_logout_ends_only_that_logto_session(site: Site, dev_provider: DevProvider) -> None:
    other = Site(site.kind)
    sign_in_with_provider_session(other, dev_provider)
    browser = sign_in_with_provider_session(site, dev_provider)

    assert deliver(site, end_at_provider(dev_provider, browser)).status_code == 200

    assert b"Not authenticated" in site.get("/").content
    assert b"Authenticated" in other.get("/").content


def test_logout_token_for_an_ended_session_answers_200(
    site: Site, dev_provider: DevProvider
) -> None:
    browser = sign_in_with_provider_session(site, dev_provider)
    site.post("/logto/sign-out/")
    token = end_at_provider(dev_provider, browser)

    response = deliver(site, token)

    assert response.status_code == 200
    assert response.json() == {"result": "0 session(s) ended"}


def test_replayed_logout_token_answers_400(site: Site, dev_provider: DevProvider) -> None:
    token = end_at_provider(dev_provider, sign_in_with_provider_session(site, dev_provider))
    assert deliver(site, token).status_code == 200

    response = deliver(site, token)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_logout_that_failed_to_end_the_sessions_answers_503_and_its_retry_succeeds(
    site: Site, dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = end_at_provider(dev_provider, sign_in_with_provider_session(site, dev_provider))
    end_sessions = _sessions.end_sessions
    calls: list[str | None] = []

    def fail_once(*, sid: str | None = None, sub: str | None = None) -> int:
        calls.append(sid)
        if len(calls) == 1:
            raise DatabaseError("database is locked")
        return end_sessions(sid=sid, sub=sub)

    monkeypatch.setattr(_sessions, "end_sessions", fail_once)
    provider = Site(site.kind, raise_request_exception=False)

    failed = deliver(provider, token)
    assert failed.status_code == 503
    assert failed["Cache-Control"] == "no-store"
    assert b"Authenticated" in site.get("/").content
    response = deliver(provider, token)

    assert response.status_code == 200
    assert response.json() == {"result": "1 session(s) ended"}
    assert b"Not authenticated" in site.get("/").content


def test_logout_while_the_callback_completes_leaves_no_session(
    site: Site, dev_provider: DevProvider
) -> None:
    browser = requests.Session()
    redirect = dev_provider.authorize(site.sign_in_url(), "alice", http=browser)
    delivered: list[Any] = []

    def log_out_at_provider(**kwargs: Any) -> None:
        # After authenticate(), before the new session is indexed: nothing to end yet.
        delivered.append(deliver(Site("wsgi"), end_at_provider(dev_provider, browser)))

    user_logged_in.connect(log_out_at_provider, dispatch_uid="log_out_at_provider")
    try:
        response = site.callback(redirect)
    finally:
        user_logged_in.disconnect(dispatch_uid="log_out_at_provider")

    assert delivered[0].status_code == 200
    assert response.status_code == 400
    assert b"Not authenticated" in site.get("/").content


def test_cookie_session_is_revoked_by_the_logout(
    dev_provider: DevProvider, db: None, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    site = Site("wsgi")
    browser = sign_in_with_provider_session(site, dev_provider)

    assert deliver(site, end_at_provider(dev_provider, browser)).status_code == 200

    assert b"Not authenticated" in site.get("/").content


def test_back_channel_logout_accepts_only_post(wsgi_site: Site) -> None:
    assert wsgi_site.get(URL).status_code == 405


# Hostile tokens, signed with the test keys of tests/forged.py.
SID = "sid-of-alice"


def logout_claims(**changes: Any) -> dict[str, Any]:
    # None removes a claim (in ``sign``).
    return {
        "sid": SID,
        "jti": f"jti-{time.monotonic_ns()}",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        **changes,
    }


def logout_token(**changes: Any) -> str:
    headers = {"typ": "logout+jwt", **changes.pop("headers", {})}
    return sign(headers=headers, **logout_claims(**changes))


HOSTILE: dict[str, Callable[[], str]] = {
    "alg none": lambda: jwt.encode(
        claims(**logout_claims()),
        None,  # type: ignore[arg-type]
        algorithm="none",
        headers={"kid": "p384"},
    ),
    "wrong alg": lambda: sign(RSA, "RS256", "rsa", **logout_claims()),
    "bad signature": lambda: sign(OTHER_P384, **logout_claims()),
    "wrong iss": lambda: logout_token(iss="https://evil.example/oidc"),
    "wrong aud": lambda: logout_token(aud="another-app"),
    "no events": lambda: logout_token(events=None),
    "wrong event": lambda: logout_token(events={"http://schemas.openid.net/event/other": {}}),
    "events not an object": lambda: logout_token(events=[BACKCHANNEL_LOGOUT_EVENT]),
    "with nonce": lambda: logout_token(nonce="n-1"),
    "no sub and no sid": lambda: logout_token(sub=None, sid=None),
    "expired": lambda: logout_token(exp=int(time.time()) - 600, iat=int(time.time()) - 720),
    "no exp": lambda: logout_token(exp=None),
    "exp in a string": lambda: logout_token(exp=str(int(time.time()) + 600)),
    "no iat": lambda: logout_token(iat=None),
    "no jti": lambda: logout_token(jti=None),
    "an ID token": lambda: logout_token(headers={"typ": "JWT"}),
    "no typ": lambda: logout_token(headers={"typ": None}),  # PyJWT leaves a None typ out
    "garbage": lambda: "not.a.jwt",
}


@pytest.fixture
def indexed_session(hostile_provider: None, db: None) -> str:
    """A database session of alice, indexed under ``SID``."""
    session = SessionStore()
    session["_auth_user_id"] = "1"
    session.create()
    assert session.session_key is not None
    LogtoSession.objects.create(sid=SID, sub="u1alice0000a", session_key=session.session_key)
    return session.session_key


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_logout_token_answers_400_and_ends_nothing(
    case: str, indexed_session: str, wsgi_site: Site, no_network: list[Any]
) -> None:
    response = deliver(wsgi_site, HOSTILE[case]())

    assert response.status_code == 400
    assert response["Cache-Control"] == "no-store"
    assert SessionStore().exists(indexed_session)
    assert LogtoSession.objects.filter(session_key=indexed_session).exists()


def test_replayed_jti_answers_400_and_ends_nothing(indexed_session: str, wsgi_site: Site) -> None:
    token = logout_token(sid="another-session")
    assert deliver(wsgi_site, token).status_code == 200

    assert deliver(wsgi_site, token).status_code == 400
    assert SessionStore().exists(indexed_session)


def test_valid_hostile_provider_token_ends_the_indexed_session(
    indexed_session: str, wsgi_site: Site
) -> None:
    response = deliver(wsgi_site, logout_token())

    assert response.status_code == 200
    assert not SessionStore().exists(indexed_session)


def test_token_with_sub_only_ends_every_session_of_the_user(
    indexed_session: str, wsgi_site: Site
) -> None:
    assert deliver(wsgi_site, logout_token(sid=None)).status_code == 200

    assert not SessionStore().exists(indexed_session)


def test_missing_logout_token_answers_400(wsgi_site: Site, indexed_session: str) -> None:
    assert wsgi_site.post(URL, {}).status_code == 400
    assert P384 is not None
