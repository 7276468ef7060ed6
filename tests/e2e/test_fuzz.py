"""Property-based fuzzing of every endpoint that takes input from anyone on the internet:
the sign-in callback, back-channel logout, webhooks and the bearer-protected API views.

Alice is signed in once, through the real dev provider, in the browser that then sends
every generated request. After each one:

- the answer is not a 5xx, and carries no traceback;
- alice is still signed in (the home page says "Authenticated") with the same Logto
  tokens in her session;
- none of the tables that say who is who changed: users, groups and group memberships,
  ``LogtoIdentity``, ``LogtoMembership``, ``LogtoSession`` and the sessions table
  (a callback with a valid pending state may consume that state from the session, and
  only that; a validly signed webhook may act, but names no user of the site or carries a
  ``createdAt`` that must be refused, so it changes nothing either).

Tokens signed with a key the provider holds, with claims of any shape, are thrown at
back-channel logout and the API views of an issuer whose keys the tests hold: no 5xx, and
a session indexed under another Logto session and user stays.

CI runs a fixed number of examples per endpoint, derandomized (the same run every time).
``LOGTO_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/e2e/test_fuzz.py`` runs that many
random examples per endpoint instead (``HYPOTHESIS_PROFILE=long`` picks 10,000).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
import requests
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logto_auth._notifications import HANDLERS, REPLAY_TTL, SIGNATURE_HEADER
from logto_auth._sessions import PENDING_KEY, TOKEN_PREFIX
from logto_auth._tokens import BACKCHANNEL_LOGOUT_EVENT
from logto_auth.conf import logto_settings
from logto_auth.models import LogtoIdentity, LogtoMembership, LogtoSession
from tests import forged
from tests.conftest import Site
from tests.devprovider import DevProvider

ALICE = "alice0k7x2qm"  # alice's Logto sub in the dev provider
WEBHOOK_KEY = "fuzz-webhook-signing-key"
API = "http://127.0.0.1:8000/api"


def fuzz(ci_examples: int) -> settings:
    """``ci_examples`` reproducible examples, or a long random run chosen by the environment."""
    long_run = os.environ.get("LOGTO_FUZZ_EXAMPLES") or (
        "10000" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else ""
    )
    return settings(
        max_examples=int(long_run) if long_run else ci_examples,
        derandomize=not long_run,
        deadline=None,
        database=None,
        print_blob=True,
        # One signed-in browser for all the examples of a test is the point: its session
        # must survive them all. Huge values are wanted, not a slow generator's accident.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# Generated text ------------------------------------------------------------------------

UNICODE = st.characters(codec="utf-8")  # every code point a URL or a body can carry
LATIN1 = st.characters(max_codepoint=0xFF)  # what a WSGI environ string can hold
CONTROL = st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\u2028\u2029\ufeff")
B64URL = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def huge(chars: st.SearchStrategy[str], smallest: int = 1_000) -> st.SearchStrategy[str]:
    """A long run of one character (cheap to generate, expensive to handle badly)."""
    return st.builds(lambda char, n: char * n, chars, st.integers(smallest, 20_000))


TEXT = st.one_of(
    st.text(UNICODE, max_size=40),
    st.text(CONTROL, max_size=10),
    st.text(LATIN1, max_size=40),
    huge(UNICODE),
    st.sampled_from(["", " ", "null", "undefined", "%", "%00", "../", "'", '"', "<script>"]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def nested(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels deep (a parser's recursion limit is the target)."""
    opening, closing = ('{"a":', "}") if kind == "object" else ("[", "]")
    return opening * depth + "1" + closing * depth


NESTED_JSON = st.builds(nested, st.integers(1, 200_000), st.sampled_from(["array", "object"]))


# JWT-shaped strings: garbage segments, JOSE headers and claims of any shape, real
# signatures by keys the provider does not hold, real kids with wrong signatures.
KIDS: list[str] = []  # the dev provider's, filled in by the ``provider_kids`` fixture


@st.composite
def jose_header(draw: st.DrawFn, typ: str) -> dict[str, Any]:
    header = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "alg": st.sampled_from(["ES384", "ES256", "RS256", "HS256", "none", "NONE"])
                | JSON_VALUES,
                "typ": st.sampled_from([typ, typ.upper(), f"application/{typ}", "JWT"])
                | JSON_VALUES,
                "crit": JSON_VALUES,
                "jku": st.just("https://evil.example/jwks") | JSON_VALUES,
                "jwk": JSON_VALUES,
                "x5c": JSON_VALUES,
                "cty": JSON_VALUES,
            },
        )
    )
    kid = draw(st.none() | st.sampled_from(KIDS or ["none-yet"]) | JSON_VALUES)
    if kid is not None:
        header["kid"] = kid
    return header


@st.composite
def token_claims(draw: st.DrawFn, audience: str) -> dict[str, Any]:
    # Relative to now when sent, so that the same draw makes the same kind of token.
    near = st.integers(-(10**6), 10**6).map(lambda delta: int(time.time()) + delta)
    # A number in a string, or with a fraction: what a lenient int() still takes.
    times = near | near.map(str) | near.map(float) | st.sampled_from([0, -1, 2**63]) | JSON_VALUES
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "iss": st.sampled_from([logto_settings.issuer, forged.ISSUER]) | JSON_VALUES,
                "aud": st.sampled_from([audience, [audience], "other"]) | JSON_VALUES,
                "sub": st.just(ALICE) | JSON_VALUES,
                "sid": JSON_VALUES,
                "jti": JSON_VALUES,
                "iat": times,
                "exp": times,
                "nbf": times,
                "scope": st.just("read:profile") | JSON_VALUES,
                "events": st.just({BACKCHANNEL_LOGOUT_EVENT: {}}) | JSON_VALUES,
                "organization_id": JSON_VALUES,
                "client_id": JSON_VALUES,
            },
        )
    )


def es384_signature(signing_input: bytes) -> bytes:
    algorithm = jwt.algorithms.get_default_algorithms()["ES384"]
    signature: bytes = algorithm.sign(signing_input, forged.P384)
    return signature


@st.composite
def jwt_shaped(draw: st.DrawFn, typ: str, audience: str) -> str:
    kind = draw(st.sampled_from(["segments", "json", "signed"]))
    if kind == "segments":
        segments = draw(st.lists(st.text(B64URL, max_size=60), min_size=1, max_size=5))
        return ".".join(segments)
    header = json.dumps(draw(jose_header(typ))).encode()
    payload = json.dumps(draw(token_claims(audience))).encode()
    signing_input = f"{b64url(header)}.{b64url(payload)}".encode()
    if kind == "signed":
        signature = es384_signature(signing_input)
    else:
        signature = draw(st.binary(max_size=120))
    return f"{signing_input.decode()}.{b64url(signature)}"


def tokens(typ: str, audience: str) -> st.SearchStrategy[str]:
    return jwt_shaped(typ, audience) | TEXT


# What every example must leave as it was ----------------------------------------------


def rows() -> dict[str, Any]:
    """The rows that say who is who and who is signed in."""
    return {
        "users": list(User.objects.order_by("pk").values()),
        "user groups": list(User.groups.through.objects.order_by("pk").values()),
        "groups": list(Group.objects.order_by("pk").values()),
        "identities": list(LogtoIdentity.objects.order_by("pk").values()),
        "memberships": list(LogtoMembership.objects.order_by("pk").values()),
        "logto sessions": list(LogtoSession.objects.order_by("pk").values()),
        "sessions": list(Session.objects.order_by("pk").values()),
    }


def decoded_sessions(*, without: str = "") -> dict[str, dict[str, Any]]:
    sessions = {}
    for session in Session.objects.all():
        data = session.get_decoded()
        data.pop(without, None)
        sessions[session.session_key] = data
    return sessions


def logto_tokens(site: Site) -> dict[str, Any]:
    return {key: value for key, value in site.session.items() if key.startswith(TOKEN_PREFIX)}


def assert_handled(response: Any) -> None:
    """Not a server error, and nothing of one in the page."""
    assert response.status_code < 500, response.content[:500]
    body = response.content
    assert b"Traceback" not in body
    assert b"Exception Value" not in body


class SignedIn:
    """Alice's browser, and what must stay as it is whatever that browser sends."""

    def __init__(self, site: Site) -> None:
        self.site = site
        site.get("/")  # the first page keeps the organizations' names in the session
        self.tokens = logto_tokens(site)
        assert {f"{TOKEN_PREFIX}idToken", f"{TOKEN_PREFIX}refreshToken"} <= set(self.tokens)
        self.assert_signed_in()

    def assert_signed_in(self) -> None:
        page = self.site.get("/").content.decode()
        assert "Authenticated" in page
        assert "Not authenticated" not in page
        assert logto_tokens(self.site) == self.tokens


@pytest.fixture
def provider_kids(dev_provider: DevProvider) -> None:
    keys = requests.get(f"{dev_provider.issuer}/jwks", timeout=10).json()["keys"]
    KIDS[:] = [key["kid"] for key in keys]


@pytest.fixture
def alice(
    wsgi_site: Site, dev_provider: DevProvider, settings: Any, provider_kids: None
) -> SignedIn:
    # No sync and no re-validation during a long run: they would rewrite the session and
    # the identity row on their own, which is not what is under test here.
    settings.LOGTO = {
        **settings.LOGTO,
        "SYNC_INTERVAL": None,
        "REVALIDATE_INTERVAL": 0,
        "WEBHOOK_SIGNING_KEY": WEBHOOK_KEY,
    }
    assert wsgi_site.sign_in(dev_provider, "alice").status_code == 302
    return SignedIn(wsgi_site)


# The callback ----------------------------------------------------------------------------

CALLBACK = "/logto/callback/"
CALLBACK_FIELDS = ["state", "code", "iss", "error", "error_description"]


def encoded(value: str | bytes) -> str:
    """``value`` percent-encoded as a query value; bytes may be any bytes (invalid UTF-8)."""
    if isinstance(value, bytes):
        return urllib.parse.quote_from_bytes(value, safe="")
    return urllib.parse.quote(value, safe="")


QUERY_VALUES = st.one_of(
    TEXT.map(encoded),
    st.binary(max_size=40).map(encoded),
    st.text(LATIN1, max_size=40),  # not encoded at all: stray &, =, %, + and #
)
QUERY_NAMES = st.sampled_from(CALLBACK_FIELDS) | st.text(LATIN1, max_size=8).map(encoded)
QUERY_PAIRS = st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES), max_size=10)


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


def callback(site: Site, query: str) -> Any:
    # The raw query string, as a browser (or an attacker) sends it.
    return site.get(CALLBACK, QUERY_STRING=query)


@fuzz(400)
@given(query=QUERY_PAIRS.map(query_string) | st.text(LATIN1, max_size=300))
def test_callback_without_a_pending_sign_in_answers_400_and_changes_nothing(
    alice: SignedIn, query: str
) -> None:
    before = rows()

    response = callback(alice.site, query)

    assert_handled(response)
    assert response.status_code == 400
    assert rows() == before
    alice.assert_signed_in()


@fuzz(300)
@given(
    garbage=QUERY_PAIRS,
    iss=st.sampled_from(["correct", "absent"]) | QUERY_VALUES,
    position=st.integers(0, 10),
)
def test_callback_with_a_valid_state_and_garbage_answers_4xx_and_keeps_the_session(
    alice: SignedIn, garbage: list[tuple[str, str]], iss: str, position: int
) -> None:
    sign_in = alice.site.get("/logto/sign-in/")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(sign_in["Location"]).query)["state"][0]
    pairs = [(name, value) for name, value in garbage if name not in ("state", "iss")]
    if iss == "correct":
        pairs.append(("iss", encoded(logto_settings.issuer)))
    elif iss != "absent":
        pairs.append(("iss", iss))
    # The valid state first (the one the view reads), garbage states after it.
    pairs.insert(0, ("state", state))
    pairs[1:1] = [(name, value) for name, value in garbage if name == "state"][:position]
    before = rows()
    sessions_before = decoded_sessions(without=PENDING_KEY)

    response = callback(alice.site, query_string(pairs))

    assert_handled(response)
    assert 400 <= response.status_code < 500
    # Consuming the pending state is the one change allowed: a state works once.
    assert PENDING_KEY not in alice.site.session or state not in alice.site.session[PENDING_KEY]
    after = rows()
    assert {k: v for k, v in after.items() if k != "sessions"} == {
        k: v for k, v in before.items() if k != "sessions"
    }
    assert decoded_sessions(without=PENDING_KEY) == sessions_before
    alice.assert_signed_in()


# Back-channel logout ---------------------------------------------------------------------

BACK_CHANNEL = "/logto/back-channel-logout/"
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=nonsense",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "application/json",
        "text/plain",
        "",
    ]
) | st.text(LATIN1, max_size=40)


FORM = "application/x-www-form-urlencoded"


@st.composite
def back_channel_requests(draw: st.DrawFn) -> tuple[bytes, str]:
    """The body and content type of one back-channel logout delivery."""
    token = draw(tokens("logout+jwt", logto_settings.app_id))
    kind = draw(st.sampled_from(["multipart", "urlencoded", "repeated", "raw", "bytes"]))
    if kind == "multipart":
        # Field names are not escaped by the encoder: some bodies are malformed on purpose.
        extra = draw(st.dictionaries(st.text(UNICODE, min_size=1, max_size=8), TEXT, max_size=3))
        return encode_multipart(BOUNDARY, {**extra, "logout_token": token}), MULTIPART_CONTENT
    if kind in ("urlencoded", "repeated"):
        values = [token, *draw(st.lists(tokens("logout+jwt", "x"), max_size=3))]
        count = len(values) if kind == "repeated" else 1
        body = urllib.parse.urlencode([("logout_token", v) for v in values[:count]])
        return body.encode(), FORM
    if kind == "raw":
        prefix = draw(st.sampled_from([b"logout_token=", b"", b"logout_token", b"&&="]))
        # Invalid UTF-8 more often than not.
        return prefix + draw(st.binary(max_size=300)), draw(st.just(FORM) | CONTENT_TYPES)
    return draw(st.binary(max_size=300) | TEXT.map(str.encode)), draw(CONTENT_TYPES)


def post(site: Site, path: str, body: bytes, content_type: str, **headers: str) -> Any:
    """POST ``body`` as it is: the test client would re-encode it for some content types."""
    return site.client.generic("POST", path, body, content_type=content_type, headers=headers)


@fuzz(500)
@given(request=back_channel_requests())
def test_back_channel_logout_refuses_garbage_and_ends_nothing(
    alice: SignedIn, request: tuple[bytes, str]
) -> None:
    body, content_type = request
    before = rows()

    response = post(alice.site, BACK_CHANNEL, body, content_type)

    assert_handled(response)
    # No generated token is signed by the provider: each one is refused.
    assert response.status_code == 400
    assert rows() == before
    alice.assert_signed_in()


# Webhooks --------------------------------------------------------------------------------

WEBHOOKS = "/logto/webhooks/"


def iso(at: datetime) -> str:
    return at.isoformat()


OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
ANY_TIME = st.datetimes(timezones=OFFSETS | st.none()).map(iso)
BAD_TIME = st.one_of(
    st.datetimes(timezones=st.none()).map(iso),  # no time zone
    TEXT,
    JSON_VALUES,
    # Older than a day, or ahead of the clock by more than the leeway (with room to spare).
    st.integers(REPLAY_TTL + 600, 10**10).map(
        lambda ago: iso(datetime.now(UTC) - timedelta(seconds=min(ago, 6 * 10**10)))
    ),
    st.deferred(
        lambda: st.integers(logto_settings.leeway + 600, 10**9).map(
            lambda ahead: iso(datetime.now(UTC) + timedelta(seconds=ahead))
        )
    ),
)


def recent() -> st.SearchStrategy[str]:
    return st.integers(-30, REPLAY_TTL - 600).map(
        lambda ago: iso(datetime.now(UTC) - timedelta(seconds=ago))
    )


@st.composite
def webhook_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event dict. One naming alice always has a ``createdAt`` that must be refused;
    any other names no user of the site, so acting on it changes nothing either."""
    names_alice = draw(st.booleans())
    user = ALICE if names_alice else draw(TEXT.filter(lambda sub: sub != ALICE))
    created_at = draw(BAD_TIME if names_alice else ANY_TIME | recent() | BAD_TIME)
    data = draw(
        st.fixed_dictionaries(
            {"id": st.just(user)},
            optional={
                "isSuspended": st.booleans() | JSON_VALUES,
                "name": JSON_VALUES,
                "username": JSON_VALUES,
                "primaryEmail": JSON_VALUES,
                "avatar": JSON_VALUES,
                "customData": JSON_VALUES,
            },
        )
    )
    event = draw(st.sampled_from([*HANDLERS, "User.Created", "PostSignIn"]) | JSON_VALUES)
    body: dict[str, Any] = {"event": event, "createdAt": created_at, "data": data}
    drop = draw(st.sets(st.sampled_from(sorted(body))))
    return {name: value for name, value in body.items() if name not in drop}


WEBHOOK_BODIES = st.one_of(
    webhook_events().map(lambda event: json.dumps(event).encode()),
    st.binary(max_size=300),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    NESTED_JSON.map(str.encode),
    huge(UNICODE).map(str.encode),
)


def hmac_hex(body: bytes, key: str = WEBHOOK_KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@st.composite
def webhook_requests(draw: st.DrawFn) -> tuple[bytes, str | None, str, bool]:
    """A body, its signature header, the content type, and whether the signature is good."""
    body = draw(WEBHOOK_BODIES)
    kind = draw(st.sampled_from(["good", "good upper", "good spaced", "other key", "garbage"]))
    signature: str | None
    if kind == "good":
        signature = hmac_hex(body)
    elif kind == "good upper":
        signature = hmac_hex(body).upper()
    elif kind == "good spaced":
        signature = f" {hmac_hex(body)}\t"
    elif kind == "other key":
        signature = hmac_hex(body, draw(st.text(UNICODE, max_size=30)))
    else:
        signature = draw(st.none() | st.text(LATIN1, max_size=80))
    good = kind.startswith("good")
    content_type = draw(st.just("application/json") | CONTENT_TYPES)
    return body, signature, content_type, good


@fuzz(500)
@given(request=webhook_requests())
def test_webhook_with_any_body_and_signature_changes_nothing(
    alice: SignedIn, request: tuple[bytes, str | None, str, bool]
) -> None:
    body, signature, content_type, good = request
    headers = {} if signature is None else {SIGNATURE_HEADER: signature}
    before = rows()

    response = post(alice.site, WEBHOOKS, body, content_type, **headers)

    assert_handled(response)
    if good:
        assert response.status_code in (200, 400)
    else:
        assert response.status_code == 401
    assert rows() == before
    alice.assert_signed_in()


# Bearer tokens on the API views ----------------------------------------------------------

# An organization ID with a slash would not reach the view (404): it has none.
ORGANIZATIONS = st.text(UNICODE.filter(lambda char: char != "/"), max_size=30)
API_PATHS = st.sampled_from(["/api/me/", "/api/drf/me/"]) | ORGANIZATIONS.map(
    lambda organization: f"/api/organizations/{encoded(organization) or 'acme'}/me/"
)
SCHEMES = st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", "DPoP", ""]) | st.text(
    LATIN1, max_size=10
)
SEPARATORS = st.sampled_from([" ", "  ", "\t", "", " \t "])


def latin1(value: str) -> str:
    """A header value as a WSGI server hands it over (its bytes read as Latin-1)."""
    return value.encode("utf-8", "surrogatepass").decode("latin-1")


@st.composite
def authorizations(draw: st.DrawFn) -> str:
    credentials = [
        draw(SCHEMES) + draw(SEPARATORS) + draw(tokens("at+jwt", API))
        for _ in range(draw(st.integers(1, 3)))
    ]
    # Two headers reach the view joined by a comma, as servers join them.
    return latin1(draw(st.sampled_from([", ", ",", " , "])).join(credentials))


@fuzz(500)
@given(
    path=API_PATHS,
    authorization=st.none() | authorizations(),
    query=st.none() | QUERY_VALUES.map(lambda token: f"access_token={token}"),
)
def test_api_refuses_any_forged_or_garbage_bearer_token(
    alice: SignedIn, path: str, authorization: str | None, query: str | None
) -> None:
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    if query is not None:
        extra["QUERY_STRING"] = query
    before = rows()

    response = alice.site.get(path, **extra)

    assert_handled(response)
    assert response.status_code in (400, 401), response.content[:300]
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert rows() == before
    alice.assert_signed_in()


# Tokens signed with a key the provider holds, with claims of any shape ------------------
#
# An issuer whose keys the tests hold (``hostile_provider``): what a token's signature
# vouches for is fuzzed too. No browser is signed in here (the issuer is not the dev
# provider); a session indexed under another Logto session stands for the site's users.

INDEXED_SID = "sid-of-someone-else"
INDEXED_SUB = "sub-of-someone-else"


def signed_by_provider(header: dict[str, Any], claims: dict[str, Any]) -> str:
    header = {**header, "alg": "ES384", "kid": "p384"}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(es384_signature(signing_input.encode()))}"


@st.composite
def provider_signed(draw: st.DrawFn, typ: str, audience: str) -> str:
    """A token the provider signed, with a plausible base whose claims are then fuzzed."""
    now = int(time.time())
    base = {
        "iss": forged.ISSUER,
        "aud": audience,
        "sub": "u-fuzz",
        "sid": "sid-fuzz",
        "jti": "jti-fuzz",
        "iat": now,
        "exp": now + 600,
        "scope": "read:profile",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    changes = draw(token_claims(audience))
    drop = draw(st.sets(st.sampled_from(sorted(base))))
    claims = {name: value for name, value in {**base, **changes}.items() if name not in drop}
    # Never the indexed session: whatever the provider signs about others leaves it alone.
    for name, indexed in (("sid", INDEXED_SID), ("sub", INDEXED_SUB)):
        if claims.get(name) == indexed:
            claims[name] = "someone-new"
    header = draw(st.fixed_dictionaries({"typ": st.just(typ) | JSON_VALUES}))
    return signed_by_provider(header, claims)


@pytest.fixture
def indexed_session(hostile_provider: None, db: None, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": None}
    session = Session.objects.create(session_key="k" * 32, session_data="", expire_date=FAR)
    LogtoSession.objects.create(sid=INDEXED_SID, sub=INDEXED_SUB, session_key=session.pk)


FAR = datetime(2100, 1, 1, tzinfo=UTC)


@fuzz(200)
@given(token=provider_signed("logout+jwt", forged.APP_ID), again=st.booleans())
def test_back_channel_logout_of_provider_signed_tokens_never_fails(
    indexed_session: None, token: str, again: bool
) -> None:
    site = Site("wsgi")
    before = rows()

    for _ in range(2 if again else 1):  # a replay of the same token
        response = site.post(BACK_CHANNEL, {"logout_token": token})

        assert_handled(response)
        assert response.status_code in (200, 400)
    assert rows() == before


@fuzz(200)
@given(
    token=provider_signed("at+jwt", API),
    path=st.sampled_from(["/api/me/", "/api/drf/me/", "/api/organizations/o1/me/"]),
)
def test_api_with_provider_signed_tokens_never_fails(
    indexed_session: None, token: str, path: str
) -> None:
    site = Site("wsgi")
    before = rows()

    for _ in range(2):  # the second sight comes from the verified-token cache
        response = site.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")

        assert_handled(response)
        assert response.status_code in (200, 400, 401, 403), response.content[:300]
    assert rows() == before
