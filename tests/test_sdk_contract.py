"""What the app relies on in the ``logto`` SDK beyond its public API (``_sdk.SDK_PRIVATE``),
pinned: a new SDK release that changes any of it fails here, by name, not at a sign-in.
No network: the provider's metadata and keys are seeded, its token endpoint is replaced
on the shared ``OidcCore``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
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
from logto_auth.exceptions import InvalidToken, ProviderUnavailable
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


# The bridge from sync code: one event loop thread per process


def where() -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
    async def here() -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
        return threading.current_thread(), asyncio.get_running_loop()

    return sdk._run(here)


def test_sync_calls_share_one_sdk_loop_and_thread_instead_of_making_their_own() -> None:
    before = threading.active_count()

    first, second, third = where(), where(), where()

    assert first == second == third
    assert first[0] is not threading.current_thread()
    assert first[0].name == "logto-sdk"
    assert threading.active_count() <= before + 1  # at most the loop's own thread, once


def test_a_forked_process_starts_its_own_sdk_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = where()
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a worker forked after a call

    child = where()

    assert child[1] is not parent[1]
    assert where() == child


def test_a_call_on_the_sdk_loop_is_bounded_by_the_timeout(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 0.05}

    async def hang() -> None:
        await asyncio.sleep(5)

    with pytest.raises(ProviderUnavailable):
        sdk._run(hang)
    assert where()  # the loop goes on serving


# The OidcCore methods overridden to send through the pool's keep-alive session


@pytest.mark.parametrize("name", sorted(sdk.SDK_OVERRIDDEN))
def test_the_oidc_core_methods_we_override_have_the_shape_we_override(name: str) -> None:
    method = getattr(OidcCore, name.removeprefix("OidcCore."))
    ours = getattr(sdk._PooledOidcCore, name.removeprefix("OidcCore."))

    assert inspect.iscoroutinefunction(method)
    assert tuple(inspect.signature(method).parameters)[1:] == sdk.SDK_OVERRIDDEN[name]
    assert inspect.signature(ours).parameters.keys() == inspect.signature(method).parameters.keys()


class Recorder:
    """Stands for an ``aiohttp.ClientSession``: records each request, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self) -> Recorder:  # the SDK builds one per request
        return self

    async def __aenter__(self) -> Recorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, url: str, **kwargs: Any) -> Recorder:
        self.sent.append((method, url, kwargs))
        return self

    def post(self, url: str, **kwargs: Any) -> Recorder:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Recorder:
        return self.request("GET", url, **kwargs)

    async def text(self) -> str:
        return '{"error": "invalid_grant"}'

    async def json(self) -> dict[str, Any]:
        return {"access_token": "a", "token_type": "Bearer", "expires_in": 60, "sub": "s"}


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

    @contextlib.asynccontextmanager
    async def pooled() -> Any:
        yield session

    monkeypatch.setattr(sdk, "provider_session", pooled)
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
