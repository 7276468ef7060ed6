"""What the app relies on in the ``logto`` SDK beyond its public API (``_sdk.SDK_PRIVATE``),
pinned: a new SDK release that changes any of it fails here, by name, not at a sign-in.
No network: the provider's metadata and keys are seeded, its token endpoint is replaced
on the shared ``OidcCore``."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import urllib.parse
from typing import Any

import logto.OidcCore as oidc_core_module
import pytest
from asgiref.sync import async_to_sync
from logto import LogtoClient, LogtoException
from logto.models.response import TokenResponse
from logto.OidcCore import OidcCore

from logto_auth import _sdk as sdk
from logto_auth.exceptions import InvalidToken
from logto_auth.storage import DictStorage
from tests import forged

pytestmark = pytest.mark.usefixtures("hostile_provider", "no_network")
CALLBACK = "http://testserver/logto/callback/"
NONCE = "nonce-1"
API = "https://api.example"


def token_response(**changes: Any) -> TokenResponse:
    values = {
        "access_token": "access-1",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": forged.sign(nonce=NONCE),
        "refresh_token": "refresh-1",
        "scope": "openid offline_access",
    }
    values.update(changes)
    return TokenResponse(**values)


def answer_token_requests(monkeypatch: pytest.MonkeyPatch, response: TokenResponse) -> None:
    """The token endpoint of the shared ``OidcCore`` answers ``response`` to any grant."""

    async def answer(**kwargs: Any) -> TokenResponse:
        return response

    core = sdk._oidc_core()
    monkeypatch.setattr(core, "fetchTokenByCode", answer)
    monkeypatch.setattr(core, "fetchTokenByRefreshToken", answer)


def signed_in_callback(storage: DictStorage) -> str:
    """Start a sign-in through the SDK's public ``signIn``; return the provider's redirect."""
    url = async_to_sync(sdk._Client(storage, nonce=NONCE).signIn)(CALLBACK)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    return f"{CALLBACK}?code=code-1&state={state}"


def test_the_private_hook_relied_on_has_the_shape_we_override() -> None:
    hook = LogtoClient._handleTokenResponse

    assert "LogtoClient._handleTokenResponse" in sdk.SDK_PRIVATE
    assert inspect.iscoroutinefunction(hook)
    assert list(inspect.signature(hook).parameters) == ["self", "resource", "tokenResponse"]


def test_code_exchange_hands_the_token_response_to_handle_token_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = DictStorage()
    callback = signed_in_callback(storage)
    response = token_response()
    answer_token_requests(monkeypatch, response)

    async_to_sync(sdk._Client(storage, nonce=NONCE).handleSignInCallback)(callback)

    assert storage.get("idToken") == response.id_token
    assert storage.get("refreshToken") == "refresh-1"
    assert sdk.stored_access_token(storage, "") == "access-1"
    assert storage.get("signInSession") is None


def test_code_exchange_stores_nothing_when_our_validation_refuses_the_id_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No sub: the SDK's own verifyIdToken accepts it; ours, run in the override, does not.
    storage = DictStorage()
    callback = signed_in_callback(storage)
    answer_token_requests(monkeypatch, token_response(id_token=forged.sign(nonce=NONCE, sub=None)))

    with pytest.raises(InvalidToken):
        async_to_sync(sdk._Client(storage, nonce=NONCE).handleSignInCallback)(callback)

    assert storage.get("idToken") is None
    assert storage.get("refreshToken") is None
    assert sdk.stored_access_token(storage, "") is None


def test_refresh_hands_the_token_response_and_its_resource_to_handle_token_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = DictStorage({"idToken": forged.sign(), "refreshToken": "refresh-1"})
    answer_token_requests(monkeypatch, token_response(access_token="api-1", id_token=None))

    token = async_to_sync(sdk._Client(storage).getAccessToken)(API)

    assert token == "api-1"
    assert sdk.stored_access_token(storage, API) == "api-1"


def test_refresh_whose_id_token_names_another_user_is_refused_by_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = DictStorage({"idToken": forged.sign(), "refreshToken": "refresh-1"})
    answer_token_requests(monkeypatch, token_response(id_token=forged.sign(sub="u1mallory000")))

    with pytest.raises(InvalidToken, match="another sub"):
        async_to_sync(sdk._Client(storage).getAccessToken)(API)

    assert sdk.stored_access_token(storage, API) is None


def test_the_sdk_reads_access_tokens_in_the_format_we_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = DictStorage()
    sdk.store_access_token(storage, API, "api-1", 3600)

    async def no_refresh(**kwargs: Any) -> TokenResponse:
        raise AssertionError("a stored token was refreshed")

    monkeypatch.setattr(sdk._oidc_core(), "fetchTokenByRefreshToken", no_refresh)

    assert async_to_sync(sdk._Client(storage).getAccessToken)(API) == "api-1"


def test_a_token_within_the_margin_of_its_expiry_is_expired_for_the_sdk_and_for_us() -> None:
    storage = DictStorage()
    sdk.store_access_token(storage, API, "api-1", sdk.ACCESS_TOKEN_MARGIN - 5)

    # No refresh token: the SDK answers None rather than the stale token.
    assert async_to_sync(sdk._Client(storage).getAccessToken)(API) is None
    assert sdk.stored_access_token(storage, API) is None


# Running the SDK: its coroutines end in the calling thread, with no event loop


def test_an_sdk_call_runs_in_the_calling_thread_with_no_event_loop_of_its_own() -> None:
    async def where() -> tuple[threading.Thread, Any]:
        return threading.current_thread(), asyncio._get_running_loop()

    before = threading.active_count()

    assert sdk._run(where) == (threading.current_thread(), None)
    assert threading.active_count() == before


def test_the_sign_in_url_is_built_without_any_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # signIn is a coroutine that awaits nothing that suspends (the metadata is ours).
    def no_loop() -> None:
        raise AssertionError("an event loop was made")

    monkeypatch.setattr(asyncio, "new_event_loop", no_loop)
    storage = DictStorage()

    url = sdk.authorization_url(storage, CALLBACK, None)

    assert url.startswith(f"{forged.ENDPOINT}/oidc/auth?")
    assert storage.get("signInSession")


def test_an_sdk_coroutine_that_waits_on_a_loop_is_refused_by_name() -> None:
    # What a new SDK release that awaited real I/O of its own would do: fail in tests.
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="waits waited on an event loop"):
        sdk._run(waits)


# The OidcCore methods overridden to send through the pool's keep-alive session


@pytest.mark.parametrize("name", sorted(sdk.SDK_OVERRIDDEN))
def test_the_oidc_core_methods_we_override_have_the_shape_we_override(name: str) -> None:
    method = getattr(OidcCore, name.removeprefix("OidcCore."))
    ours = getattr(sdk._PooledOidcCore, name.removeprefix("OidcCore."))

    assert inspect.iscoroutinefunction(method)
    assert tuple(inspect.signature(method).parameters)[1:] == sdk.SDK_OVERRIDDEN[name]
    assert inspect.signature(ours).parameters.keys() == inspect.signature(method).parameters.keys()


class Recorder:
    """Stands for an ``aiohttp.ClientSession`` (the SDK's) and for ``_http.send`` (ours):
    records each request as (method, URL, form without its ``None`` values, headers),
    answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sent: list[tuple[str, str, dict[str, str], dict[str, str]]] = []

    def __call__(self) -> Recorder:  # the SDK builds one per request
        return self

    async def __aenter__(self) -> Recorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, url: str, **kwargs: Any) -> Recorder:
        form = {name: value for name, value in kwargs.get("data", {}).items() if value is not None}
        self.sent.append((method, url, form, kwargs.get("headers", {})))
        return self

    def post(self, url: str, **kwargs: Any) -> Recorder:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Recorder:
        return self.request("GET", url, **kwargs)

    def send(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
        self.request(method, url, **kwargs)
        return self.status, (REFUSAL if self.status != 200 else ANSWER).encode()

    async def text(self) -> str:
        return REFUSAL

    async def json(self) -> dict[str, Any]:
        return json.loads(ANSWER)  # type: ignore[no-any-return]


REFUSAL = '{"error": "invalid_grant"}'
ANSWER = '{"access_token": "a", "token_type": "Bearer", "expires_in": 60, "sub": "s"}'
CALLS = [
    ("fetchTokenByCode", ("app", "secret", CALLBACK, "code-1", "verifier-1")),
    ("fetchTokenByCode", ("app", None, CALLBACK, "code-1", "verifier-1")),
    ("fetchTokenByRefreshToken", ("app", "secret", "refresh-1")),
    ("fetchTokenByRefreshToken", ("app", "secret", "refresh-1", API)),
    ("fetchTokenByRefreshToken", ("app", "secret", "refresh-1", sdk.organization_resource("o1"))),
    ("fetchUserInfo", ("access-1",)),
]


def sent_by(
    core: OidcCore, monkeypatch: pytest.MonkeyPatch, status: int, name: str, args: Any
) -> tuple[list[Any], str]:
    session = Recorder(status)
    monkeypatch.setattr(oidc_core_module.aiohttp, "ClientSession", session)
    monkeypatch.setattr(sdk, "send", session.send)
    try:
        async_to_sync(getattr(core, name))(*args)
        outcome = "answered"
    except LogtoException as error:
        outcome = f"LogtoException({error})"
    return session.sent, outcome


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize(("name", "args"), CALLS)
def test_our_requests_and_refusals_are_the_sdks(
    name: str, args: Any, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = sdk._oidc_core()
    theirs = OidcCore(ours.metadata)

    assert isinstance(ours, sdk._PooledOidcCore)
    assert sent_by(ours, monkeypatch, status, name, args) == sent_by(
        theirs, monkeypatch, status, name, args
    )
