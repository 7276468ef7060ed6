"""Protecting views with Logto access tokens: ``logto_auth.decorators``.

Happy paths use tokens minted by the real dev provider (a signed-in user's, a
machine-to-machine application's); hostile tokens are crafted with test keys.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from logto_auth import _bearer, _tokens
from logto_auth._provider import provider
from logto_auth.models import LogtoIdentity
from tests.conftest import Site
from tests.devprovider import DevProvider
from tests.forged import (
    APP_ID,
    ISSUER,
    JWKS,
    OTHER_P384,
    P384,
    PUBLIC_PEM,
    forge,
    get_with_two_authorizations,
    sign,
    unsigned,
)

API = "http://127.0.0.1:8000/api"
ACME = "acme4p9x2k7z"
GLOBEX = "globex8m3q5t"
AT_JWT = {"typ": "at+jwt"}


def bearer(token: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}}


def access_token(**changes: Any) -> str:
    """A crafted access token for ``API``, as Logto would issue it for a user."""
    headers = {**AT_JWT, **changes.pop("headers", {})}
    values = {"aud": API, "scope": "read:profile", "client_id": APP_ID, **changes}
    return sign(headers=headers, **values)


def challenge(response: Any) -> str:
    return str(response["WWW-Authenticate"])


@pytest.fixture
def alice(site: Site, dev_provider: DevProvider) -> Site:
    site.sign_in(dev_provider, "alice")
    return site


# Real tokens from the dev provider


def test_user_token_from_the_provider_is_accepted(alice: Site) -> None:
    token = alice.access_token(API)

    response = Site(alice.kind).get("/api/me/", **bearer(token))

    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == "alice0k7x2qm"
    assert body["scopes"] == ["read:profile"]
    assert body["client_id"] == APP_ID
    assert body["machine"] is False
    assert body["organization_id"] is None


def test_machine_to_machine_token_is_accepted_without_a_user(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    token = dev_provider.machine_token(API, "read:profile write:profile")

    me = wsgi_site.get("/api/me/", **bearer(token))
    drf = wsgi_site.get("/api/drf/me/", **bearer(token))

    assert me.status_code == 200
    assert me.json()["machine"] is True
    assert me.json()["sub"] == me.json()["client_id"] == "django-m2m"
    assert me.json()["scopes"] == ["read:profile", "write:profile"]
    assert drf.status_code == 200
    assert drf.json()["username"] is None


def test_request_user_is_the_django_user_of_the_token(alice: Site) -> None:
    token = alice.access_token(API)

    response = Site(alice.kind).get("/api/drf/me/", **bearer(token))

    assert response.json()["username"] == "alice"


def test_profile_page_shows_the_api_answer_for_the_user(alice: Site) -> None:
    response = alice.get("/profile/")

    assert response.status_code == 200
    assert b"answered <strong>200</strong>" in response.content
    assert b"alice0k7x2qm" in response.content


def test_organization_token_is_accepted_for_its_organization_only(
    alice: Site, dev_provider: DevProvider
) -> None:
    token = alice.access_token(organization_id=ACME)
    client = Site(alice.kind)

    own = client.get(f"/api/organizations/{ACME}/me/", **bearer(token))
    other = client.get(f"/api/organizations/{GLOBEX}/me/", **bearer(token))
    not_an_organization_view = client.get("/api/me/", **bearer(token))

    assert own.status_code == 200
    assert own.json()["organization_id"] == ACME
    assert other.status_code == 403
    assert 'error="insufficient_scope"' in challenge(other)
    assert not_an_organization_view.status_code == 401


def test_api_token_is_refused_where_an_organization_token_is_required(alice: Site) -> None:
    response = Site(alice.kind).get(
        f"/api/organizations/{ACME}/me/", **bearer(alice.access_token(API))
    )

    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)


def test_id_token_and_userinfo_token_are_not_api_tokens(alice: Site) -> None:
    client = Site(alice.kind)
    id_token = alice.session["_logto_idToken"]

    for token in (id_token, alice.access_token()):
        response = client.get("/api/me/", **bearer(token))
        assert response.status_code == 401
        assert challenge(response).startswith('Bearer error="invalid_token"')


@pytest.mark.urls("tests.api_urls")
def test_missing_scope_is_403_naming_it(alice: Site) -> None:
    response = Site(alice.kind).get("/t/write/", **bearer(alice.access_token(API)))

    assert response.status_code == 403
    assert challenge(response) == (
        'Bearer error="insufficient_scope", error_description="Missing scope: write:profile", '
        'scope="write:profile"'
    )
    assert response.json()["error"] == "insufficient_scope"


def test_unknown_kid_refetches_keys_once_then_is_refused(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    provider().metadata()
    provider()._jwks()
    provider()._last_refetch = -60.0
    before = dev_provider.counters().get("/oidc/jwks", 0)
    forged = access_token(key=OTHER_P384, kid="forged", iss=dev_provider.issuer)

    response = wsgi_site.get("/api/me/", **bearer(forged))

    assert response.status_code == 401
    assert dev_provider.counters()["/oidc/jwks"] == before + 1


def test_rotated_key_is_fetched_once_then_accepted(alice: Site, dev_provider: DevProvider) -> None:
    client = Site(alice.kind)
    assert client.get("/api/me/", **bearer(dev_provider.machine_token(API))).status_code == 200
    provider()._last_refetch = -60.0
    dev_provider.rotate_keys()
    before = dev_provider.counters().get("/oidc/jwks", 0)

    response = client.get("/api/me/", **bearer(dev_provider.machine_token(API)))

    assert response.status_code == 200
    assert dev_provider.counters()["/oidc/jwks"] == before + 1


def test_repeated_token_is_verified_once(
    wsgi_site: Site, dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = dev_provider.machine_token(API)
    checks: list[str] = []
    validate = _tokens.validate_jwt

    def counting(token: str, **kwargs: Any) -> dict[str, Any]:
        checks.append(token)
        return validate(token, **kwargs)

    monkeypatch.setattr("logto_auth._bearer.validate_jwt", counting)
    before = dev_provider.calls()

    statuses = [wsgi_site.get("/api/me/", **bearer(token)).status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert checks == [token]
    assert dev_provider.calls() == before


def test_provider_down_on_first_sight_is_503_not_500(settings: Any, wsgi_site: Site) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": "http://127.0.0.1:9", "TIMEOUT": 2}
    provider().forget()

    response = wsgi_site.get("/api/me/", **bearer(access_token()))

    assert response.status_code == 503


# Crafted tokens


HOSTILE_401: dict[str, Callable[[], str]] = {
    "expired": lambda: access_token(exp=int(time.time()) - 3600),
    "not yet valid": lambda: access_token(nbf=int(time.time()) + 3600),
    "issued in the future": lambda: access_token(iat=int(time.time()) + 3600),
    "wrong iss": lambda: access_token(iss="https://evil.example/oidc"),
    "wrong aud": lambda: access_token(aud="https://other.example/api"),
    "aud list": lambda: access_token(aud=[API, "https://other.example/api"]),
    "organization claim on a plain view": lambda: access_token(organization_id=ACME),
    "no typ (an ID token for the API)": lambda: sign(aud=API, scope="read:profile"),
    "no sub": lambda: access_token(sub=None),
    "bad signature": lambda: access_token(key=OTHER_P384),
    "unknown kid": lambda: access_token(key=OTHER_P384, kid="rotated"),
    "alg none": lambda: unsigned(headers=AT_JWT, aud=API, scope="read:profile"),
    "HS256 with the public key": lambda: forge(
        {"alg": "HS256", "kid": "p384", **AT_JWT}, PUBLIC_PEM, "HS256", aud=API
    ),
    "crit header": lambda: access_token(headers={"crit": ["exp"]}),
    "embedded jwk": lambda: access_token(headers={"jwk": JWKS["keys"][0]}),
    "jku header": lambda: access_token(headers={"jku": "https://evil.example/jwks"}),
    "x5c header": lambda: access_token(headers={"x5c": ["MIIB"]}),
    "garbage": lambda: "not.a.jwt",
    "one segment": lambda: "abc",
}


@pytest.mark.usefixtures("hostile_provider")
def test_crafted_valid_token_is_accepted(wsgi_site: Site, no_network: list[Any]) -> None:
    response = wsgi_site.get("/api/me/", **bearer(access_token()))

    assert response.status_code == 200
    assert response.json()["sub"] == "u1alice0000a"
    assert no_network == []


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.parametrize("case", HOSTILE_401)
@pytest.mark.parametrize("path", ["/api/me/", "/api/drf/me/"])
def test_hostile_token_is_401_invalid_token_without_details(
    case: str, path: str, wsgi_site: Site, no_network: list[Any]
) -> None:
    response = wsgi_site.get(path, **bearer(HOSTILE_401[case]()))

    assert response.status_code == 401
    assert challenge(response) == (
        'Bearer error="invalid_token", error_description="The access token is invalid or expired."'
    )
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token is invalid or expired.",
    }
    assert no_network == []


@pytest.mark.usefixtures("hostile_provider")
def test_token_with_exp_in_a_string_is_401_at_every_sight(wsgi_site: Site) -> None:
    token = access_token(exp=str(int(time.time()) + 3600))

    for _ in range(2):  # the second sight would read the verified-token cache
        response = wsgi_site.get("/api/me/", **bearer(token))

        assert response.status_code == 401
        assert 'error="invalid_token"' in challenge(response)


@pytest.mark.usefixtures("hostile_provider")
def test_token_without_scope_claim_is_403(wsgi_site: Site) -> None:
    response = wsgi_site.get("/api/drf/me/", **bearer(access_token(scope=None)))

    assert response.status_code == 403
    assert 'scope="read:profile"' in challenge(response)


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.parametrize(
    ("headers", "status", "www_authenticate"),
    [
        ({}, 401, "Bearer"),
        ({"HTTP_AUTHORIZATION": "Basic YWxpY2U6cHc="}, 401, "Bearer"),
        ({"HTTP_AUTHORIZATION": "Bearer a,Bearer b"}, 400, 'Bearer error="invalid_request"'),
        ({"HTTP_AUTHORIZATION": "Basic YQ==, Bearer b"}, 400, 'Bearer error="invalid_request"'),
    ],
    ids=["none", "basic", "two", "basic and bearer"],
)
@pytest.mark.parametrize("path", ["/api/me/", "/api/drf/me/"])
def test_missing_or_malformed_credentials(
    wsgi_site: Site, path: str, headers: dict[str, str], status: int, www_authenticate: str
) -> None:
    response = wsgi_site.get(path, **headers)

    assert response.status_code == status
    assert challenge(response).startswith(www_authenticate)
    if status == 401:
        # RFC 6750 section 3.1: no error information when no credentials were sent.
        assert challenge(response) == "Bearer"


MALFORMED_TOKENS = {
    "no token": "Bearer",
    "empty token": "Bearer ",
    "space inside": "Bearer a b",
    "outside b64token": "Bearer a!b.c.d",
    "one segment": "Bearer abc",
    "two segments": "Bearer abc.def",
    "four segments": "Bearer a.b.c.d",
    "base64 padding": "Bearer a.b.c==",
}


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.parametrize("case", MALFORMED_TOKENS)
@pytest.mark.parametrize("path", ["/api/me/", "/api/drf/me/"])
def test_malformed_token_is_401_invalid_token(
    case: str, path: str, wsgi_site: Site, no_network: list[Any]
) -> None:
    # RFC 6750 section 3.1: a malformed access token is invalid_token, not invalid_request.
    response = wsgi_site.get(path, HTTP_AUTHORIZATION=MALFORMED_TOKENS[case])

    assert response.status_code == 401
    assert challenge(response) == (
        'Bearer error="invalid_token", error_description="The access token is invalid or expired."'
    )
    assert response.json()["error"] == "invalid_token"
    assert no_network == []


@pytest.mark.usefixtures("hostile_provider")
def test_token_in_the_query_string_is_refused(wsgi_site: Site) -> None:
    response = wsgi_site.get("/api/me/", {"access_token": access_token()})

    assert response.status_code == 400
    assert 'error="invalid_request"' in challenge(response)


@pytest.mark.usefixtures("hostile_provider")
def test_two_authorization_headers_over_a_real_wsgi_server_are_400(live_server: Any) -> None:
    status, www_authenticate = get_with_two_authorizations(
        f"{live_server.url}/api/me/", access_token(), access_token(sub="mallory")
    )

    assert status == 400
    assert www_authenticate.startswith('Bearer error="invalid_request"')


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.django_db
def test_two_authorization_headers_through_the_asgi_handler_are_400() -> None:
    token = access_token().encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/me/",
        "raw_path": b"/api/me/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", b"Bearer " + token),
            (b"authorization", b"Bearer " + token),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }

    messages: list[Mapping[str, Any]] = []

    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.Event().wait()  # the client stays connected until Django answers
        raise AssertionError("unreachable")

    async def send(message: Mapping[str, Any]) -> None:
        messages.append(message)

    async def run() -> Mapping[str, Any]:
        await get_asgi_application()(scope, receive, send)
        return messages[0]

    start = async_to_sync(run)()

    assert start["status"] == 400
    headers = {name.lower(): value for name, value in start["headers"]}
    assert headers[b"www-authenticate"].startswith(b'Bearer error="invalid_request"')


# One policy: the decorator, the mixin (sync and async views) and DRF answer alike


ONE_POLICY_VIEWS = ["decorator", "mixin", "async-mixin", "drf"]
INVALID = (
    401,
    'Bearer error="invalid_token", error_description="The access token is invalid or expired."',
    {"error": "invalid_token", "error_description": "The access token is invalid or expired."},
)
NO_CREDENTIALS = (
    401,
    "Bearer",
    {"error": "unauthorized", "error_description": "A Logto access token is required."},
)
TWO_CREDENTIALS = (
    400,
    'Bearer error="invalid_request", error_description="Send one Authorization header."',
    {"error": "invalid_request", "error_description": "Send one Authorization header."},
)
QUERY_TOKEN = (
    400,
    'Bearer error="invalid_request", error_description="Send the access token in the '
    'Authorization header."',
    {
        "error": "invalid_request",
        "error_description": "Send the access token in the Authorization header.",
    },
)
QUERY_AND_HEADER = (
    400,
    'Bearer error="invalid_request", error_description="Send the access token in one place only."',
    {"error": "invalid_request", "error_description": "Send the access token in one place only."},
)
OTHER_ORGANIZATION = (
    403,
    'Bearer error="insufficient_scope", error_description="The token is for another organization."',
    {"error": "insufficient_scope", "error_description": "The token is for another organization."},
)
MISSING_SCOPE = (
    403,
    'Bearer error="insufficient_scope", error_description="Missing scope: read:profile", '
    'scope="read:profile"',
    {
        "error": "insufficient_scope",
        "error_description": "Missing scope: read:profile",
        "scope": "read:profile",
    },
)
ALICE = "alice0k7x2qm"

# case: (URL under /t/one/, request arguments from the tokens, expected answer)
ONE_POLICY_CASES: dict[str, tuple[str, Callable[[dict[str, str]], dict[str, Any]], Any]] = {
    "user token": (
        "api/{view}/",
        lambda t: bearer(t["user"]),
        (200, None, {"sub": ALICE, "organization_id": None}),
    ),
    "no credentials": ("api/{view}/", lambda t: {}, NO_CREDENTIALS),
    "another scheme": (
        "api/{view}/",
        lambda t: {"HTTP_AUTHORIZATION": "Basic YQ=="},
        NO_CREDENTIALS,
    ),
    "missing scope": ("api/{view}/", lambda t: bearer(t["writer"]), MISSING_SCOPE),
    "empty token": ("api/{view}/", lambda t: {"HTTP_AUTHORIZATION": "Bearer "}, INVALID),
    "space in token": (
        "api/{view}/",
        lambda t: {"HTTP_AUTHORIZATION": f"Bearer {t['user']} x"},
        INVALID,
    ),
    "ID token": ("api/{view}/", lambda t: bearer(t["id"]), INVALID),
    "two headers joined": (
        "api/{view}/",
        lambda t: {"HTTP_AUTHORIZATION": f"Bearer {t['user']},Bearer {t['writer']}"},
        TWO_CREDENTIALS,
    ),
    "token in the query": (
        "api/{view}/",
        lambda t: {"data": {"access_token": t["user"]}},
        QUERY_TOKEN,
    ),
    "token in the header and the query": (
        "api/{view}/",
        lambda t: {"data": {"access_token": t["user"]}, **bearer(t["user"])},
        QUERY_AND_HEADER,
    ),
    "organization token for its organization": (
        f"organization/{{view}}/{ACME}/",
        lambda t: bearer(t["acme"]),
        (200, None, {"sub": ALICE, "organization_id": ACME}),
    ),
    "organization token for another organization": (
        f"organization/{{view}}/{GLOBEX}/",
        lambda t: bearer(t["acme"]),
        OTHER_ORGANIZATION,
    ),
    "organization token on an API view": ("api/{view}/", lambda t: bearer(t["acme"]), INVALID),
    "API token on an organization view": (
        f"organization/{{view}}/{ACME}/",
        lambda t: bearer(t["user"]),
        INVALID,
    ),
}


@pytest.fixture
def alice_tokens(wsgi_site: Site, dev_provider: DevProvider) -> dict[str, str]:
    wsgi_site.sign_in(dev_provider, "alice")
    return {
        "user": wsgi_site.access_token(API),
        "acme": wsgi_site.access_token(organization_id=ACME),
        "id": wsgi_site.session["_logto_idToken"],
        "writer": dev_provider.machine_token(API, "write:profile"),
    }


@pytest.mark.urls("tests.api_urls")
@pytest.mark.parametrize("case", ONE_POLICY_CASES)
def test_decorator_mixins_and_drf_give_the_same_answer(
    case: str, alice_tokens: dict[str, str]
) -> None:
    url, arguments, expected = ONE_POLICY_CASES[case]
    client = Client()

    answers = {}
    for view in ONE_POLICY_VIEWS:
        response = client.get(f"/t/one/{url.format(view=view)}", **arguments(alice_tokens))
        answers[view] = (response.status_code, response.get("WWW-Authenticate"), response.json())

    assert answers == dict.fromkeys(ONE_POLICY_VIEWS, expected)


# case: (method, token, status) on views protected by tests.api_urls.BY_METHOD
BY_METHOD_CASES = [
    ("GET", "reader", 200),
    ("GET", "writer", 403),
    ("HEAD", "reader", 200),  # HEAD runs the GET handler: it needs GET's scopes
    ("HEAD", "writer", 403),
    ("POST", "writer", 200),
    ("POST", "reader", 403),
    ("PUT", "both", 403),  # left out of the dict: refused to every token
    ("DELETE", "both", 403),
    ("OPTIONS", "reader", 200),  # "OPTIONS": [] leaves it open to any valid token
]


@pytest.mark.urls("tests.api_urls")
@pytest.mark.parametrize(("method", "holder", "status"), BY_METHOD_CASES)
def test_scopes_by_method_refuse_methods_left_out(
    db: None, dev_provider: DevProvider, method: str, holder: str, status: int
) -> None:
    scopes = {
        "reader": "read:profile",
        "writer": "write:profile",
        "both": "read:profile write:profile",
    }
    token = bearer(dev_provider.machine_token(API, scopes[holder]))

    answers = {
        view: Client().generic(method, f"/t/one/method/{view}/", **token)
        for view in ONE_POLICY_VIEWS
    }

    assert {view: answer.status_code for view, answer in answers.items()} == dict.fromkeys(
        ONE_POLICY_VIEWS, status
    )
    if status == 403:
        for answer in answers.values():
            assert challenge(answer).startswith('Bearer error="insufficient_scope"')
    assert Client().generic(method, "/t/one/method/decorator/").status_code == 401


# Organization tokens and the view's resource


def organization_token(organization_id: str = ACME, **changes: Any) -> str:
    """A crafted organization token (no API resource), as Logto issues it to any app."""
    return access_token(aud=f"urn:logto:organization:{organization_id}", **changes)


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_organization_view_naming_a_resource_refuses_bare_organization_tokens(
    wsgi_site: Site,
) -> None:
    # Another app of the tenant, with a permission of the same name.
    token = organization_token(client_id="another-app", scope="read:profile")

    response = wsgi_site.get(f"/t/organization-api/{ACME}/", **bearer(token))

    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge(response)


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_organization_view_naming_a_resource_accepts_its_organization_api_tokens(
    wsgi_site: Site,
) -> None:
    own = wsgi_site.get(
        f"/t/organization-api/{ACME}/", **bearer(access_token(organization_id=ACME))
    )
    other_api = wsgi_site.get(
        f"/t/organization-api/{ACME}/",
        **bearer(access_token(aud="https://other.example/api", organization_id=ACME)),
    )

    assert own.status_code == 200
    assert own.json() == {"sub": "u1alice0000a", "organization_id": ACME}
    assert other_api.status_code == 401


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_organization_token_naming_no_organization_is_refused(wsgi_site: Site) -> None:
    named = wsgi_site.get("/t/any-organization/", **bearer(organization_token()))
    nameless = wsgi_site.get("/t/any-organization/", **bearer(organization_token("")))

    assert named.status_code == 200
    assert named.json()["organization_id"] == ACME
    assert nameless.status_code == 401
    assert 'error="invalid_token"' in challenge(nameless)


@pytest.mark.usefixtures("hostile_provider")
def test_organization_view_without_a_resource_needs_no_api_resources(
    wsgi_site: Site, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_RESOURCES": []}

    response = wsgi_site.get(f"/api/organizations/{ACME}/me/", **bearer(organization_token()))

    assert response.status_code == 200
    assert response.json()["organization_id"] == ACME


# Views, users, the cache


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_mixin_view_is_protected_and_csrf_exempt(db: None) -> None:
    client = Client(enforce_csrf_checks=True)

    assert client.get("/t/mixin/").status_code == 401
    assert (
        client.post("/t/mixin/", **bearer(access_token(scope="write:profile"))).status_code == 403
    )
    response = client.post("/t/mixin/", **bearer(access_token()))
    assert response.status_code == 200
    assert response.json() == {"sub": "u1alice0000a", "username": None}


@pytest.mark.urls("tests.api_urls")
@pytest.mark.parametrize("path", ["/t/async/", "/t/async-mixin/"])
def test_async_views_are_protected(site: Site, dev_provider: DevProvider, path: str) -> None:
    site.sign_in(dev_provider, "alice")
    client = Site(site.kind)

    refused = client.get(path, **bearer(dev_provider.machine_token(API, "write:profile")))
    response = client.get(path, **bearer(site.access_token(API)))

    assert client.get(path).status_code == 401
    assert refused.status_code == 403
    assert response.status_code == 200
    assert response.json()["sub"] == "alice0k7x2qm"
    if path == "/t/async/":
        assert response.json()["username"] == "alice"


@pytest.mark.usefixtures("hostile_provider")
def test_bare_decorator_needs_no_scope(wsgi_site: Site) -> None:
    response = wsgi_site.get("/api/me/", **bearer(access_token(scope=None)))

    assert response.status_code == 200
    assert response.json()["scopes"] == []


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_unknown_user_is_anonymous_unless_creation_is_asked(wsgi_site: Site) -> None:
    token = access_token(sub="newuser0001")

    assert wsgi_site.get("/t/bare/", **bearer(token)).json()["username"] is None
    assert not LogtoIdentity.objects.filter(sub="newuser0001").exists()
    created = wsgi_site.get("/t/create/", **bearer(token)).json()["username"]

    assert LogtoIdentity.objects.get(sub="newuser0001").user.get_username() == created
    assert wsgi_site.get("/t/bare/", **bearer(token)).json()["username"] == created


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_inactive_user_is_anonymous(wsgi_site: Site) -> None:
    user = User.objects.create_user("dora", is_active=False)
    LogtoIdentity.objects.create(user=user, sub="dora00000001")

    response = wsgi_site.get("/t/bare/", **bearer(access_token(sub="dora00000001")))

    assert response.json() == {"sub": "dora00000001", "username": None}


@pytest.mark.usefixtures("hostile_provider")
@pytest.mark.urls("tests.api_urls")
def test_cached_token_is_still_checked_for_the_view_audience(wsgi_site: Site) -> None:
    token = access_token()
    assert wsgi_site.get("/api/me/", **bearer(token)).status_code == 200
    assert len(_tokens.verified_tokens) == 1

    assert wsgi_site.get("/t/other-api/", **bearer(token)).status_code == 401


@pytest.mark.urls("tests.api_urls")
def test_a_view_editing_the_claims_does_not_change_them_for_later_requests(
    wsgi_site: Site, dev_provider: DevProvider
) -> None:
    token = bearer(dev_provider.machine_token(API, "read:profile"))

    assert wsgi_site.get("/t/meddle/", **token).status_code == 200
    response = wsgi_site.get("/t/write/", **token)

    assert response.status_code == 403
    assert 'scope="write:profile"' in challenge(response)


@pytest.mark.usefixtures("hostile_provider")
def test_cache_is_bounded_and_forgets_expired_tokens(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_TOKEN_CACHE_SIZE": 2}
    tokens = [access_token(jti=str(n)) for n in range(3)]
    for token in tokens:
        _bearer.validate_access_token(token)

    assert len(_tokens.verified_tokens) == 2
    assert _tokens.verified_tokens.get((ISSUER, tokens[0])) is None
    assert _tokens.verified_tokens.get((ISSUER, tokens[2])) is not None

    settings.LOGTO = {**settings.LOGTO, "LEEWAY": 0}
    expiring = access_token(exp=int(time.time()) + 1)
    _bearer.validate_access_token(expiring)
    assert _tokens.verified_tokens.get((ISSUER, expiring)) is not None
    time.sleep(1.1)
    assert _tokens.verified_tokens.get((ISSUER, expiring)) is None
    with pytest.raises(_bearer.BearerError):
        _bearer.validate_access_token(expiring)


@pytest.mark.usefixtures("hostile_provider")
def test_cache_size_zero_keeps_nothing(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_TOKEN_CACHE_SIZE": 0}

    _bearer.validate_access_token(access_token())

    assert len(_tokens.verified_tokens) == 0


def test_no_api_resource_configured_is_an_improper_configuration(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_RESOURCES": []}

    with pytest.raises(ImproperlyConfigured, match="API_RESOURCES"):
        _bearer.validate_access_token(access_token())


def test_log_lines_carry_no_token(
    wsgi_site: Site, hostile_provider: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = access_token(exp=int(time.time()) - 3600)
    with caplog.at_level("INFO", logger="logto_auth"):
        wsgi_site.get("/api/me/", **bearer(token))

    assert "Refused an access token" in caplog.text
    assert token.split(".")[2] not in caplog.text
    assert json.dumps(jwt.decode(token, options={"verify_signature": False})) not in caplog.text


def test_p384_test_key_is_the_one_in_the_seeded_key_set() -> None:
    assert (
        JWKS["keys"][0]["x"]
        == jwt.algorithms.ECAlgorithm.to_jwk(P384.public_key(), as_dict=True)["x"]
    )
