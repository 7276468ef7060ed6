"""Internal: may change in any release.

Every HTTP call to the provider: one timeout, one error mapping, one connection pool.

The pool (``pool``) is one event loop per process, in a daemon thread, and on it one
``aiohttp`` session whose connections to the provider are kept alive between calls: the
SDK's token requests (``_sdk.py``) and the calls of a sign-in made here share them, so a
steady-state token request opens no TCP (and no TLS) connection, makes no thread, no
event loop and no HTTP session. Sync code waits for the loop (``pool.run``), async code
awaits it (``pool.arun``); after a fork the child starts its own loop and session, and the
session is closed at interpreter exit.

An idle connection is kept ``KEEPALIVE_TIMEOUT`` seconds, less than the 5 s after which
Node's HTTP server (Logto's and the dev provider's) closes it: a request written on a
connection the server is closing fails with ``ServerDisconnectedError``. ``aiohttp``
retries such a failure once for idempotent requests (GET: discovery, keys, userinfo), never
for a POST: a token request may have been processed before the connection broke, and
repeating it would replay an authorization code (the provider then revokes the tokens it
issued for it) or a refresh token that has meanwhile been rotated. A POST that meets a
closing connection fails like any unreachable provider (``ProviderUnavailable``).

``fetch_json`` serves the calls of a sign-in (discovery, keys, userinfo, revocation,
introspection) through the pool and raises a ``LogtoError`` for anything but a 2xx JSON
answer; ``exchange`` serves ``manage.py logto_check`` (urllib, a connection per call),
which needs to see the provider's refusals (status, headers, body, redirect) rather than
have them mapped away. ``map_error`` is applied to the SDK's calls as well (``_sdk.py``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import jwt
import pydantic
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, ProviderError, ProviderUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Seconds an idle connection to the provider is kept for the next call: below Node's
#: default ``keepAliveTimeout`` (5 s; Logto runs on Node), so that we drop an idle
#: connection before the server does rather than write a request on it as it closes.
KEEPALIVE_TIMEOUT = 4.0


def map_error(error: BaseException) -> LogtoError:
    """Return the ``LogtoError`` for a failed provider call (either HTTP stack)."""
    if isinstance(error, LogtoError):
        return error
    if isinstance(error, TimeoutError):
        logger.warning("Provider call timed out after %ss", logto_settings.timeout)
        return ProviderUnavailable(_("The sign-in service did not answer in time."))
    if isinstance(error, urllib.error.HTTPError):
        logger.warning("Provider answered %s for %s", error.code, error.url)
        return ProviderError(_("The sign-in service answered HTTP %(status)s."), status=error.code)
    if isinstance(error, urllib.error.URLError | ConnectionError | aiohttp.ClientConnectionError):
        logger.warning("Provider unreachable: %s", error)
        return ProviderUnavailable(_("The sign-in service could not be reached."))
    logger.warning("Unexpected answer from the provider: %r", error)
    return ProviderError(_("The sign-in service sent an unexpected answer."))


# What a provider call may raise besides LogtoError, for map_error.
PROVIDER_FAILURES = (
    TimeoutError,
    OSError,
    aiohttp.ClientError,
    pydantic.ValidationError,
    jwt.PyJWTError,
    ValueError,
)


class _Pool:
    """One event loop per process, in a daemon thread, with one keep-alive ``aiohttp``
    session on it for every call to the provider: a call makes no thread, no event loop,
    no session and (mostly) no connection of its own. Started at the first call, and
    again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._pid = 0
        # A parent's open session, inherited by a fork it could not close first: never
        # used, closed or collected here (its sockets and loop are the parent's).
        self._inherited: list[aiohttp.ClientSession] = []

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                if self._session is not None and not self._session.closed:
                    self._inherited.append(self._session)
                self._session = None
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="logto-sdk", daemon=True
                )
                self._thread.start()
            return self._loop

    def session(self) -> aiohttp.ClientSession | None:
        """The pool's session, when called on the pool's loop; else ``None``."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if running is not self._loop or self._pid != os.getpid():
            return None
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_TIMEOUT)
            # No timeout of its own: every call is bounded by LOGTO['TIMEOUT'] as a whole.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for it (it bounds its own time)."""
        loop = self.loop()
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("A blocking provider call on the provider's own loop.")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` run on the loop, from another event loop (or this one)."""
        loop = self.loop()
        if asyncio.get_running_loop() is loop:
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    def close(self) -> None:
        """Close the session and its connections: at interpreter exit, and before a fork
        (a child must not share them, and then inherits a closed session, nothing to leak).
        """
        loop, session = self._loop, self._session
        if loop is None or session is None or self._pid != os.getpid() or not loop.is_running():
            return
        if threading.current_thread() is self._thread:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=2)


pool = _Pool()
atexit.register(pool.close)
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(before=pool.close)


@contextlib.asynccontextmanager
async def provider_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The pool's session on the pool's loop; elsewhere, a session for this call only."""
    shared = pool.session()
    if shared is not None:
        yield shared
        return
    async with aiohttp.ClientSession() as own:
        yield own


async def _fetch(url: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    async with asyncio.timeout(logto_settings.timeout), provider_session() as session:
        method = "GET" if body is None else "POST"
        if body is not None:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        async with session.request(method, url, data=body, headers=headers) as response:
            if not 200 <= response.status < 300:
                logger.warning("Provider answered %s for %s", response.status, url)
                raise ProviderError(
                    _("The sign-in service answered HTTP %(status)s."), status=response.status
                )
            return await response.read()


def _prepared(
    url: str, data: dict[str, str] | None, headers: dict[str, str] | None
) -> tuple[bytes | None, dict[str, str]]:
    """The body and headers of a request to ``url``, which must be an HTTP(S) URL."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ProviderError(_("Refusing to fetch a non-HTTP URL: %(url)s"), url=url)
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    return body, {"Accept": "application/json", **(headers or {})}


@sensitive_variables()
def fetch_json(
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    expect_json: bool = True,
) -> Any:
    """GET (or POST ``data``) ``url`` within the configured timeout and return its JSON.

    Through the pool: call it from sync code (async code through ``sync_to_async``).

    With ``expect_json=False`` the body is ignored and ``None`` returned.
    """
    body, all_headers = _prepared(url, data, headers)
    try:
        answer = pool.run(_fetch(url, body, all_headers))
        return json.loads(answer) if expect_json else None
    except PROVIDER_FAILURES as error:
        raise map_error(error) from error


@dataclass
class Answer:
    """What the provider answered, refusals and redirects included."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or ``{}`` when it is not one (an HTML error page)."""
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def error(self) -> str:
        """The OAuth ``error`` of the body or of the redirect's query, or ``""``."""
        found = self.json().get("error")
        if isinstance(found, str):
            return found
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.header("location")).query)
        return query.get("error", [""])[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the answer itself: where it points tells the outcome


@sensitive_variables()
def exchange(
    url: str, *, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """GET (or POST ``data``) ``url`` once, following no redirect, and return the answer.

    HTTP errors are answers too; only an unreachable or silent provider raises
    (``ProviderUnavailable``).
    """
    opener = urllib.request.build_opener(_NoRedirect)
    body, all_headers = _prepared(url, data, headers)
    request = urllib.request.Request(url, data=body, headers=all_headers)  # noqa: S310
    try:
        try:
            response = opener.open(request, timeout=logto_settings.timeout)
        except urllib.error.HTTPError as refusal:
            response = refusal
        with response:
            text = response.read(256 * 1024).decode("utf-8", "replace")
            found = {name.lower(): value for name, value in response.headers.items()}
            return Answer(response.status or 0, found, text)
    except PROVIDER_FAILURES as error:
        raise map_error(error) from error
