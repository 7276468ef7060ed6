"""The sign-in, callback and sign-out flow against the real dev provider, under WSGI and
ASGI, with database and cache sessions."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from logto_auth._provider import provider, refresh_token_is_active
from logto_auth._sessions import PENDING_KEY
from logto_auth._sessions import TOKEN_PREFIX as PREFIX
from tests.conftest import Site
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider


def logto_keys(site: Site) -> set[str]:
    return {key for key in site.session.keys() if key.startswith(PREFIX)}  # noqa: SIM118


def test_sign_in_shows_authenticated_home(site: Site, dev_provider: DevProvider) -> None:
    assert b"Not authenticated" in site.get("/").content

    response = site.sign_in(dev_provider, "alice")

    assert response.status_code == 302
    assert response["Location"] == "/"
    page = site.get("/").content.decode()
    assert "Authenticated" in page
    assert "Not authenticated" not in page
    assert "Alice Admin" in page
    assert get_user_model().objects.get().logto_identity.sub in page


def test_authorization_request_is_logto_shaped(site: Site, dev_provider: DevProvider) -> None:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)

    assert query["client_id"] == ["django-demo"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43
    assert len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == ["http://testserver/logto/callback/"]
    scopes = query["scope"][0].split()
    assert {"openid", "offline_access", "profile", "email", "roles"} <= set(scopes)
    assert "urn:logto:resource:organizations" in query["resource"]


def test_sign_up_opens_the_registration_screen(site: Site, dev_provider: DevProvider) -> None:
    url = site.sign_in_url("/logto/sign-up/")
    dev_provider.authorize(url, "bob")

    received = dev_provider.auth_requests()[-1]
    assert received["first_screen"] == "register"
    assert received["interaction_mode"] == "signUp"


def test_pass_through_parameters_reach_the_provider(site: Site, dev_provider: DevProvider) -> None:
    params = {
        "direct_sign_in": "social:azuread",
        "login_hint": "alice@example.com",
        "ui_locales": "fr-CA en",
        "first_screen": "identifier:sign_in",
        "identifier": "email username",
        "organization_id": "acme123",
        "prompt": "none",  # not on the allow-list: dropped
    }
    response = site.sign_in(dev_provider, "alice", **params)
    assert response.status_code == 302

    received = dev_provider.auth_requests()[-1]
    for name, value in params.items():
        if name != "prompt":
            assert received[name] == value
    assert received["prompt"] == "consent"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("first_screen", "admin"),
        ("direct_sign_in", "javascript:alert(1)<"),
        ("ui_locales", "x" * 80),
    ],
)
def test_malformed_pass_through_parameter_answers_400(site: Site, name: str, value: str) -> None:
    response = site.get("/logto/sign-in/", {name: value})

    assert response.status_code == 400
    assert name in response.content.decode()
    assert PENDING_KEY not in site.session


def test_next_is_honoured(site: Site, dev_provider: DevProvider) -> None:
    response = site.sign_in(dev_provider, "carol", next="/profile/?tab=claims")

    assert response.status_code == 302
    assert response["Location"] == "/profile/?tab=claims"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "  //evil.example",
        "https://evil.example/",
        "http://testserver.evil.example/",
    ],
)
def test_open_redirects_land_on_the_site(
    site: Site, dev_provider: DevProvider, target: str
) -> None:
    response = site.sign_in(dev_provider, "carol", next=target)

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_callback_with_wrong_state_keeps_session_and_returns_400(
    site: Site, dev_provider: DevProvider
) -> None:
    session = site.session
    session["cart"] = ["book"]
    session.save()
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")
    before = dict(site.session.items())
    tampered = redirect.replace("state=", "state=x")

    response = site.callback(tampered)

    assert response.status_code == 400
    assert b"expired or was already used" in response.content
    assert dict(site.session.items()) == before
    # The genuine callback still works afterwards.
    assert site.callback(redirect).status_code == 302
    assert site.session["cart"] == ["book"]


def test_replayed_callback_returns_400(site: Site, dev_provider: DevProvider) -> None:
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")
    assert site.callback(redirect).status_code == 302

    response = site.callback(redirect)

    assert response.status_code == 400
    assert b"Authenticated" in site.get("/").content


def test_callback_without_pending_sign_in_returns_400(
    site: Site, dev_provider: DevProvider
) -> None:
    redirect = dev_provider.authorize(Site("wsgi").sign_in_url(), "alice")

    response = site.callback(redirect)

    assert response.status_code == 400
    assert not logto_keys(site)
    assert "_auth_user_id" not in site.session


def test_access_denied_at_provider_returns_400_and_keeps_session(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "bob")
    tokens = {key: site.session[key] for key in logto_keys(site)}
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)["state"][0]

    response = site.get("/logto/callback/", {"error": "access_denied", "state": state})

    assert response.status_code == 400
    assert b"Sign-in was cancelled" in response.content
    assert {key: site.session[key] for key in logto_keys(site)} == tokens
    assert b"Bob Staff" in site.get("/").content


def test_callback_from_another_issuer_returns_400(site: Site, dev_provider: DevProvider) -> None:
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")

    response = site.callback(redirect.replace("iss=", "iss=https%3A%2F%2Fevil.example%2F"))

    assert response.status_code == 400
    assert "_auth_user_id" not in site.session


def test_callback_without_code_returns_400_and_keeps_session(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "bob")
    tokens = {key: site.session[key] for key in logto_keys(site)}
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect).query)

    for code in ({}, {"code": ""}):
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)["state"]
        response = site.get("/logto/callback/", {"state": state, "iss": query["iss"], **code})

        assert response.status_code == 400
        assert b"no authorization code" in response.content
    assert {key: site.session.get(key) for key in tokens} == tokens
    assert b"Bob Staff" in site.get("/").content


def test_two_tabs_signing_in_at_once_both_succeed(site: Site, dev_provider: DevProvider) -> None:
    first = dev_provider.authorize(site.sign_in_url(next="/first/"), "alice")
    second = dev_provider.authorize(site.sign_in_url(next="/second/"), "alice")

    assert site.callback(second)["Location"] == "/second/"
    assert site.callback(first)["Location"] == "/first/"
    assert PENDING_KEY not in site.session


def test_signing_in_as_another_user_replaces_user_and_tokens(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    alice_key = site.session.session_key
    alice_token = site.session["_logto_idToken"]

    site.sign_in(dev_provider, "bob")

    page = site.get("/").content.decode()
    assert "Bob Staff" in page
    assert "Alice Admin" not in page
    assert site.session.session_key != alice_key
    assert site.session["_logto_idToken"] != alice_token


def test_sign_in_rotates_the_session_key(site: Site, dev_provider: DevProvider) -> None:
    site.get("/logto/sign-in/")
    anonymous_key = site.session.session_key

    site.callback(dev_provider.authorize(site.sign_in_url(), "carol"))

    assert site.session.session_key != anonymous_key


def test_inactive_user_gets_403_and_no_session(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "carol")
    get_user_model().objects.update(is_active=False)
    site.post("/logto/sign-out/")

    response = site.sign_in(dev_provider, "carol")

    assert response.status_code == 403
    assert "_auth_user_id" not in site.session
    assert not logto_keys(site)


def test_sign_out_get_shows_a_confirmation_form(site: Site) -> None:
    response = site.get("/logto/sign-out/")

    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_sign_out_reaches_end_session_and_leaves_no_tokens(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    id_token = site.session["_logto_idToken"]

    response = site.post("/logto/sign-out/")

    assert response.status_code == 302
    url = urllib.parse.urlsplit(response["Location"])
    query = urllib.parse.parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{dev_provider.issuer}/session/end"
    assert query["post_logout_redirect_uri"] == ["http://testserver/"]
    assert query["id_token_hint"] == [id_token]
    assert not logto_keys(site)
    assert b"Not authenticated" in site.get("/").content
    assert dev_provider.end_session(response["Location"]) == "http://testserver/"


def test_sign_out_requires_csrf(dev_provider: DevProvider, db: None) -> None:
    strict = Site("wsgi", enforce_csrf_checks=True)
    strict.sign_in(dev_provider, "alice")

    response = strict.post("/logto/sign-out/")

    assert response.status_code == 403
    assert b"Authenticated" in strict.get("/").content


def test_sign_out_when_not_signed_in_goes_home(site: Site, no_network: list[Any]) -> None:
    response = site.post("/logto/sign-out/")

    assert response.status_code == 302
    assert response["Location"] == "http://testserver/"


def test_warm_sign_in_makes_one_provider_call(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "carol")  # warms metadata and keys
    auth_url = site.sign_in_url()
    redirect = dev_provider.authorize(auth_url, "carol")
    before = dev_provider.counters()

    assert site.callback(redirect).status_code == 302

    after = dev_provider.counters()
    made = {path: n - before.get(path, 0) for path, n in after.items() if n != before.get(path, 0)}
    assert made == {"/oidc/token": 1, "token:authorization_code": 1}


def test_cold_process_reads_metadata_once(
    site: Site, dev_provider: DevProvider, cold_provider: None
) -> None:
    before = dev_provider.counters()

    site.sign_in(dev_provider, "carol")

    after = dev_provider.counters()
    for path in ("/oidc/.well-known/openid-configuration", "/oidc/jwks"):
        assert after.get(path, 0) - before.get(path, 0) == 1


# Provider failures: never a 500


def test_provider_stopped_at_sign_in_answers_503(site: Site, settings: Any) -> None:
    # Bound but not listening: connections are refused, and no other process can take
    # the port while the test runs.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        settings.LOGTO = {**settings.LOGTO, "ENDPOINT": f"http://127.0.0.1:{port}"}

        response = site.get("/logto/sign-in/")

    assert response.status_code == 503
    assert b"could not be reached" in response.content


@pytest.mark.integration  # starts a dev provider of its own
def test_provider_stopped_before_callback_answers_503(site: Site, settings: Any) -> None:
    own = DevProvider().start().register_site(TEST_CLIENT_ORIGIN)
    try:
        settings.LOGTO = {**settings.LOGTO, "ENDPOINT": own.url}
        redirect = own.authorize(site.sign_in_url(), "alice")
    finally:
        own.stop()

    response = site.callback(redirect)

    assert response.status_code == 503
    assert "_auth_user_id" not in site.session


class HangingServer:
    """Accepts connections and never answers: a provider that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging() -> Any:
    server = HangingServer()
    yield server
    server.close()


def test_provider_hanging_at_discovery_answers_503_within_timeout(
    site: Site, settings: Any, hanging: HangingServer
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": hanging.url, "TIMEOUT": 0.5}

    started = time.monotonic()
    response = site.get("/logto/sign-in/")

    assert response.status_code == 503
    assert time.monotonic() - started < 5


def test_provider_hanging_at_token_exchange_answers_503(
    site: Site, dev_provider: DevProvider, settings: Any, hanging: HangingServer
) -> None:
    redirect = dev_provider.authorize(site.sign_in_url(), "alice")
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 0.5}
    # A fake for a hostile case: the cached metadata now sends the token request to a
    # server that never answers.
    cache = provider()
    metadata = dict(cache.metadata())
    cache._entries["metadata"].value = {**metadata, "token_endpoint": f"{hanging.url}/token"}
    started = time.monotonic()
    try:
        response = site.callback(redirect)
    finally:
        cache.forget()

    assert response.status_code == 503
    assert b"did not answer in time" in response.content
    assert time.monotonic() - started < 2  # the pooled session adds no timeout of its own


def test_signed_cookie_sessions_fit_a_signed_in_user(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

    wsgi_site.sign_in(dev_provider, "alice")

    assert b"Alice Admin" in wsgi_site.get("/").content
    assert len(wsgi_site.client.cookies[settings.SESSION_COOKIE_NAME].value) <= 3072
    assert "session cookie" not in caplog.text


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_signed_in_cookie_presented_after_sign_out_is_signed_out(
    kind: str, dev_provider: DevProvider, db: None, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    site, other_browser = Site(kind), Site(kind)
    site.sign_in(dev_provider, "alice")
    other_browser.sign_in(dev_provider, "alice")
    name = settings.SESSION_COOKIE_NAME
    signed_in = site.client.cookies[name].value
    assert site.post("/logto/sign-out/").status_code == 302
    # A request that was refreshing the tokens answers after the sign-out, with the
    # signed-in cookie (nothing serialises the requests of a cookie session).
    site.client.cookies[name] = signed_in

    response = site.get("/")

    assert b"Not authenticated" in response.content
    assert response.cookies[name].value == ""  # the browser is told to drop it
    assert b"Authenticated" in other_browser.get("/").content  # only that sign-in ended


def test_oversized_cookie_session_is_logged(
    wsgi_site: Site,
    dev_provider: DevProvider,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    monkeypatch.setattr("logto_auth._flow.COOKIE_LIMIT", 100)

    wsgi_site.sign_in(dev_provider, "alice")

    assert "over the 100 that browsers keep" in caplog.text


def test_sign_out_revokes_the_refresh_token(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "alice")
    refresh_token = site.session["_logto_refreshToken"]
    assert refresh_token_is_active(refresh_token)
    before = dev_provider.counters().get("/oidc/token/revocation", 0)

    assert site.post("/logto/sign-out/").status_code == 302

    assert dev_provider.counters()["/oidc/token/revocation"] == before + 1
    assert not refresh_token_is_active(refresh_token)


def test_sign_out_goes_on_when_revocation_fails(
    site: Site, dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    site.sign_in(dev_provider, "alice")
    metadata = {**provider().metadata(), "revocation_endpoint": "http://127.0.0.1:9/revoke"}
    monkeypatch.setattr(provider(), "metadata", lambda: metadata)

    response = site.post("/logto/sign-out/")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{dev_provider.issuer}/session/end?")
    assert b"Not authenticated" in site.get("/").content
    assert "Could not revoke the refresh token" in caplog.text


LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"


def negotiating(settings: Any, on: bool) -> None:
    """Let the site negotiate each request's language (LocaleMiddleware), or not."""
    stack = [name for name in settings.MIDDLEWARE if name != LOCALE_MIDDLEWARE]
    if on:
        stack.insert(
            stack.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
            LOCALE_MIDDLEWARE,
        )
    settings.MIDDLEWARE = stack


@pytest.mark.parametrize(
    ("accepted", "sent"), [("fr", "fr"), ("pt-BR,pt;q=0.8", "pt-BR"), ("zh-Hans", "zh-CN")]
)
def test_sign_in_sends_the_negotiated_language_as_ui_locales(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any, accepted: str, sent: str
) -> None:
    negotiating(settings, on=True)

    url = wsgi_site.get("/logto/sign-in/", headers={"accept-language": accepted})["Location"]

    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["ui_locales"] == [sent]


def test_sign_in_without_a_negotiated_language_lets_logto_detect_it(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    negotiating(settings, on=False)

    url = wsgi_site.get("/logto/sign-in/", headers={"accept-language": "de"})["Location"]

    assert "ui_locales" not in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def test_a_links_own_ui_locales_wins_over_the_active_language(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("LocaleMiddleware")]
    with translation.override("fr"):
        url = wsgi_site.sign_in_url(ui_locales="de")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["ui_locales"] == ["de"]


# The callback view's hooks


@pytest.fixture
def hooks_seen() -> Any:
    from tests import hook_urls

    hook_urls.SEEN.clear()
    return hook_urls.SEEN


@pytest.mark.urls("tests.hook_urls")
def test_a_callback_subclass_is_told_of_the_sign_in_and_chooses_where_it_lands(
    site: Site, dev_provider: DevProvider, hooks_seen: list[Any]
) -> None:
    response = site.sign_in(dev_provider, "alice", next="/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/welcome/?then=/profile/"
    assert hooks_seen == [("succeeded", ("alice", "alice0k7x2qm"))]
    assert "_auth_user_id" in site.session


@pytest.mark.urls("tests.hook_urls")
def test_a_callback_subclass_may_answer_the_sign_in_itself(
    site: Site, dev_provider: DevProvider, hooks_seen: list[Any]
) -> None:
    response = site.sign_in(dev_provider, "bob")

    assert response.status_code == 200
    assert response.content == b"Bob goes elsewhere"
    assert "_auth_user_id" in site.session


@pytest.mark.urls("tests.hook_urls")
def test_a_callback_subclass_answers_a_failed_sign_in_and_the_session_is_kept(
    site: Site, dev_provider: DevProvider, hooks_seen: list[Any]
) -> None:
    site.sign_in_url()
    session = site.session
    session["cart"] = "3 items"
    session.save()

    response = site.get("/logto/callback/?code=stolen&state=not-ours")

    assert response.status_code == 400
    assert response.content == b"Custom failure page (400)"
    assert hooks_seen == [("failed", "SignInError")]
    assert site.session["cart"] == "3 items"
    assert "_auth_user_id" not in site.session
