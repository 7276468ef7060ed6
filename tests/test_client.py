"""``request.logto``: claims, access tokens, refresh, organization tokens, userinfo."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.test import RequestFactory

from logto_auth.client import LogtoContext
from logto_auth.exceptions import TokenExpired
from logto_auth.storage import PREFIX
from logto_auth.tokens import validate_jwt
from tests.conftest import Site
from tests.devprovider import DevProvider

API = "http://127.0.0.1:8000/api"


def context_of(site: Site) -> LogtoContext:
    """``request.logto`` for a new request carrying ``site``'s session."""
    request = RequestFactory().get("/")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    request.session = store(site.session.session_key)
    return LogtoContext(request)


def save(context: LogtoContext) -> None:
    context._request.session.save()


@pytest.fixture
def alice(site: Site, dev_provider: DevProvider) -> Site:
    site.sign_in(dev_provider, "alice")
    return site


def test_claims_come_from_the_id_token(alice: Site) -> None:
    logto = context_of(alice)

    assert logto.is_authenticated
    assert logto.claims["username"] == "alice"
    assert logto.claims["roles"] == ["admin"]
    assert "acme4p9x2k7z" in logto.claims["organizations"]
    assert "acme4p9x2k7z:admin" in logto.claims["organization_roles"]
    assert logto.sub == logto.claims["sub"]


def test_unset_profile_claims_are_none(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "carol")

    claims = context_of(site).claims

    assert claims["name"] is None
    assert claims["email"] is None
    assert claims["roles"] == []


def test_anonymous_context_is_empty(db: None, no_network: list[Any]) -> None:
    logto = context_of(Site("wsgi"))

    assert not logto.is_authenticated
    assert logto.claims == {}
    assert logto.sub is None
    assert logto.get_access_token() is None
    assert logto.fetch_user_info() == {}


def test_access_token_from_sign_in_needs_no_network(alice: Site, no_network: list[Any]) -> None:
    token = context_of(alice).get_access_token()

    assert token
    assert no_network == []


def test_resource_token_is_a_jwt_for_the_resource(alice: Site, dev_provider: DevProvider) -> None:
    logto = context_of(alice)
    refresh_before = alice.session["_logto_refreshToken"]
    before = dev_provider.counters().get("token:refresh_token", 0)

    token = logto.get_access_token(API)
    save(logto)

    assert token is not None
    claims = validate_jwt(token, audience=API)
    assert claims["sub"] == logto.sub
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert dev_provider.counters()["token:refresh_token"] == before + 1
    # Refresh tokens rotate: the new one is stored before it is needed again.
    assert alice.session["_logto_refreshToken"] != refresh_before
    assert context_of(alice).get_access_token(API) == token


def expire_access_tokens(context: LogtoContext) -> None:
    """Mark every stored access token expired, in the session's store."""
    session = context._request.session
    tokens = json.loads(session[f"{PREFIX}accessTokenMap"])
    for token in tokens["x"].values():
        token["expiresAt"] = 0
    session[f"{PREFIX}accessTokenMap"] = json.dumps(tokens)
    session.save()


def test_expired_access_token_is_refreshed(alice: Site, dev_provider: DevProvider) -> None:
    logto = context_of(alice)
    old = logto.get_access_token()
    expire_access_tokens(logto)
    before = dev_provider.counters().get("token:refresh_token", 0)

    new = logto.get_access_token()

    assert new
    assert new != old
    assert dev_provider.counters()["token:refresh_token"] == before + 1


def test_organization_token(alice: Site) -> None:
    logto = context_of(alice)
    organization = "acme4p9x2k7z"

    token = logto.get_organization_token(organization)

    assert token is not None
    assert (
        validate_jwt(token, audience=f"urn:logto:organization:{organization}")["sub"] == logto.sub
    )


def test_user_info_has_logto_extended_claims(alice: Site) -> None:
    info = context_of(alice).fetch_user_info()

    assert info["roles"] == ["admin"]
    assert {org["name"] for org in info["organization_data"]} == {"Acme", "Globex"}
    assert "custom_data" in info
    assert "azuread" in info["identities"]


def test_rejected_refresh_token_signs_out_of_logto(alice: Site) -> None:
    logto = context_of(alice)
    logto._storage.set("refreshToken", "revoked-or-reused")
    save(logto)

    with pytest.raises(TokenExpired):
        logto.get_access_token(API)

    assert not logto.is_authenticated
    assert not any(key.startswith(PREFIX) for key in logto._request.session.keys())  # noqa: SIM118


def test_rejected_refresh_in_a_view_shows_401_page(alice: Site) -> None:
    logto = context_of(alice)
    logto._storage.set("refreshToken", "revoked-or-reused")
    logto._storage.set("accessTokenMap", json.dumps({"x": {}}))
    save(logto)

    response = alice.get("/profile/")

    assert response.status_code == 401
    assert b"sign in again" in response.content.lower()


def test_signed_in_page_makes_no_network_call_and_only_django_queries(
    alice: Site, no_network: list[Any], django_assert_num_queries: Any, settings: Any
) -> None:
    # Django's own queries: the session row (unless sessions are cached), the user row.
    expected = 2 if settings.SESSION_ENGINE.endswith(".db") else 1
    with django_assert_num_queries(expected):
        response = alice.get("/")

    assert b"Authenticated" in response.content
    assert no_network == []
