"""Strict JWT validation and the shared metadata/key cache.

Hostile tokens no real provider would send are signed here with keys made for the test;
key rotation and the cache run against the real dev provider.
"""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.core.signals import got_request_exception
from django.views.debug import ExceptionReporter

from logto_auth import _notifications
from logto_auth._provider import provider
from logto_auth._tokens import validate_id_token
from logto_auth.exceptions import InvalidToken, ProviderError
from tests.conftest import Site
from tests.devprovider import DevProvider
from tests.forged import (
    APP_ID,
    ENDPOINT,
    JWKS,
    OTHER_P384,
    P256,
    P384,
    PUBLIC_PEM,
    RSA,
    claims,
    forge,
    sign,
    unsigned,
)


@pytest.mark.usefixtures("hostile_provider")
def test_valid_token_is_accepted(no_network: list[Any]) -> None:
    assert validate_id_token(sign(nonce="n-1"), nonce="n-1")["sub"] == "u1alice0000a"
    assert no_network == []


HOSTILE: dict[str, Callable[[], str]] = {
    "alg none": unsigned,
    # Algorithm confusion: the public key used as an HMAC secret.
    "HS256 with the public key": lambda: forge(
        {"alg": "HS256", "kid": "p384"}, PUBLIC_PEM, "HS256"
    ),
    "RS256 not advertised": lambda: sign(RSA, "RS256", "rsa"),
    "key of another curve": lambda: forge({"alg": "ES384", "kid": "p256"}, P256, "ES256"),
    "bad signature": lambda: sign(OTHER_P384),
    "unknown kid": lambda: sign(OTHER_P384, kid="rotated"),
    "no kid": lambda: jwt.encode(claims(), P384, algorithm="ES384"),
    "wrong issuer": lambda: sign(iss="https://evil.example/oidc"),
    "issuer without /oidc": lambda: sign(iss=ENDPOINT),
    "wrong audience": lambda: sign(aud="another-app"),
    "audience list": lambda: sign(aud=[APP_ID, "another-app"]),
    "expired": lambda: sign(exp=int(time.time()) - 3600),
    "issued in the future": lambda: sign(iat=int(time.time()) + 3600),
    "no exp": lambda: sign(exp=None),
    "exp in a string": lambda: sign(exp=str(int(time.time()) + 3600)),
    "iat in a string": lambda: sign(iat=str(int(time.time()))),
    "nbf in a string": lambda: sign(nbf=str(int(time.time()))),
    "exp true": lambda: sign(exp=True),
    "no iat": lambda: sign(iat=None),
    "no sub": lambda: sign(sub=None),
    "empty sub": lambda: sign(sub=""),
    "crit header": lambda: sign(headers={"crit": ["exp"]}),
    "embedded jwk": lambda: sign(headers={"jwk": JWKS["keys"][0]}),
    "jku header": lambda: sign(headers={"jku": "https://evil.example/jwks"}),
    "x5u header": lambda: sign(headers={"x5u": "https://evil.example/cert"}),
    "garbage": lambda: "not.a.jwt",
    "empty": lambda: "",
}


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_token_is_rejected(case: str, no_network: list[Any]) -> None:
    with pytest.raises(InvalidToken):
        validate_id_token(HOSTILE[case]())
    assert no_network == []


@pytest.mark.usefixtures("hostile_provider")
def test_nonce_must_match() -> None:
    with pytest.raises(InvalidToken, match="nonce"):
        validate_id_token(sign(nonce="other"), nonce="expected")
    with pytest.raises(InvalidToken, match="nonce"):
        validate_id_token(sign(), nonce="expected")


@pytest.mark.usefixtures("hostile_provider")
def test_small_clock_skew_is_tolerated() -> None:
    assert validate_id_token(sign(iat=int(time.time()) + 20))


# Against the real dev provider


def test_rotated_key_is_fetched_once_then_accepted(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    wsgi_site.sign_in(dev_provider, "carol")  # warm: keys cached
    provider()._last_refetch = -60.0
    dev_provider.rotate_keys()
    before = dev_provider.counters().get("/oidc/jwks", 0)

    response = wsgi_site.sign_in(dev_provider, "alice")

    assert response.status_code == 302
    assert dev_provider.counters()["/oidc/jwks"] == before + 1


def test_unknown_kids_are_refetched_at_most_once_per_interval(dev_provider: DevProvider) -> None:
    provider().metadata()
    provider()._jwks()  # the keys held, whichever test ran before: only refetches counted
    provider()._last_refetch = -60.0
    before = dev_provider.counters().get("/oidc/jwks", 0)

    for kid in ("forged-1", "forged-2", "forged-3"):
        with pytest.raises(InvalidToken):
            validate_id_token(
                jwt.encode(claims(iss=dev_provider.issuer), P384, "ES384", headers={"kid": kid})
            )

    assert dev_provider.counters()["/oidc/jwks"] == before + 1


def test_metadata_is_shared_through_the_django_cache(dev_provider: DevProvider) -> None:
    provider().forget()
    kid = provider()._jwks()["keys"][0]["kid"]
    provider()._entries.clear()  # a new process: nothing in memory, Django's cache warm
    before = dev_provider.calls()

    assert provider().metadata()["issuer"] == dev_provider.issuer
    assert provider().key(kid) is not None
    assert dev_provider.calls() == before


def test_discovery_with_another_issuer_is_refused(settings: Any, dev_provider: DevProvider) -> None:
    # The dev provider names itself {origin}/oidc; an ENDPOINT with another host spelling
    # (localhost for 127.0.0.1) reaches it but must not be trusted as that issuer.
    settings.LOGTO = {
        **settings.LOGTO,
        "ENDPOINT": dev_provider.url.replace("127.0.0.1", "localhost"),
    }
    provider().forget()

    with pytest.raises(ProviderError, match="issuer"):
        provider().metadata()


# A JOSE header nested thousands of levels deep: parsers that recurse blow their stack.
NESTED = ".".join(
    [base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("="), "e30", "c2ln"]
)


@pytest.mark.usefixtures("hostile_provider")
def test_deeply_nested_header_is_an_invalid_token() -> None:
    with pytest.raises(InvalidToken):
        validate_id_token(NESTED)


def test_deeply_nested_header_answers_4xx_at_every_endpoint(wsgi_site: Site) -> None:
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {NESTED}"}

    assert wsgi_site.get("/api/me/", **bearer).status_code == 401
    assert wsgi_site.get("/api/drf/me/", **bearer).status_code == 401
    logout = wsgi_site.post("/logto/back-channel-logout/", {"logout_token": NESTED})
    assert logout.status_code == 400


def report_of(function: Callable[[], Any]) -> str:
    """Django's HTML error report (as DEBUG pages and admin mails show it) of ``function``."""
    try:
        function()
    except Exception:
        return ExceptionReporter(None, *sys.exc_info()).get_traceback_html()
    raise AssertionError("no exception")


SECRET = sign()


@pytest.mark.usefixtures("hostile_provider")
def test_error_reports_never_show_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("decode failed")

    monkeypatch.setattr(jwt, "decode", broken)

    assert "decode failed" in (html := report_of(lambda: validate_id_token(SECRET)))
    assert SECRET not in html
    assert SECRET[:40] not in html


def test_back_channel_logout_token_is_hidden_from_error_reports(
    wsgi_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(token: str) -> dict[str, Any]:
        raise RuntimeError("cannot end sessions")

    monkeypatch.setattr(_notifications, "validate_logout_token", broken)
    reports: list[str] = []

    def report(sender: Any, request: Any, **kwargs: Any) -> None:
        reports.append(ExceptionReporter(request, *sys.exc_info()).get_traceback_html())

    got_request_exception.connect(report)
    try:
        with pytest.raises(RuntimeError):
            wsgi_site.post("/logto/back-channel-logout/", {"logout_token": SECRET})
    finally:
        got_request_exception.disconnect(report)

    assert "cannot end sessions" in reports[0]
    assert SECRET not in reports[0]
