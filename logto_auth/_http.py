"""Internal: may change in any release.

Every HTTP call to the provider: one timeout, one error mapping, one connection pool.

The pool (``pool``) keeps each process's connections to the provider open between calls
and shares them among its threads: a call takes an idle connection (or opens one), sends
its request in the calling thread and gives the connection back. So a steady-state token
request opens no TCP (and no TLS) connection and makes no thread, event loop or session:
it costs what one request and its answer cost. Sync code calls it directly; async code
through ``sync_to_async`` (a thread that is not the one of the database). After a fork
the child starts with no connection (the parent's are closed before it), and the
connections are closed at interpreter exit. Each call, connecting included, ends within
``LOGTO['TIMEOUT']``: every wait on the socket is given what is left of it.

An idle connection is kept ``KEEPALIVE_TIMEOUT`` seconds, less than the 5 s after which
Node's HTTP server (Logto's and the dev provider's) closes it, and is not used again if
the provider closed it meanwhile. A request written on a connection that the server is
closing fails (``RemoteDisconnected``): a GET (discovery, keys, userinfo) is then sent
once more on a new connection, never a POST: a token request may have been processed
before the connection broke, and repeating it would replay an authorization code (the
provider then revokes the tokens it issued for it) or a refresh token that has meanwhile
been rotated. A POST that meets a closing connection fails like any unreachable provider
(``ProviderUnavailable``).

``send`` is the one request (the SDK's token and userinfo requests, ``_sdk.py``);
``fetch_json`` serves the calls of a sign-in (discovery, keys, userinfo, revocation,
introspection) and raises a ``LogtoError`` for anything but a 2xx JSON answer; ``exchange``
serves ``manage.py logto_check`` (urllib, a connection per call), which needs to see the
provider's refusals (status, headers, body, redirect) rather than have them mapped away.
``map_error`` is applied to the SDK's calls as well (``_sdk.py``).
"""

from __future__ import annotations

import atexit
import functools
import http.client
import io
import json
import logging
import os
import select
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
import pydantic
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, ProviderError, ProviderUnavailable

if TYPE_CHECKING:
    import socket

logger = logging.getLogger(__name__)

#: Seconds an idle connection to the provider is kept for the next call: below Node's
#: default ``keepAliveTimeout`` (5 s; Logto runs on Node), so that we drop an idle
#: connection before the server does rather than write a request on it as it closes.
KEEPALIVE_TIMEOUT = 4.0
#: The largest answer read from the provider (its discovery and keys are a few kB).
MAX_ANSWER = 1024 * 1024


def map_error(error: BaseException) -> LogtoError:
    """Return the ``LogtoError`` for a failed provider call."""
    if isinstance(error, LogtoError):
        return error
    if isinstance(error, TimeoutError):
        logger.warning("Provider call timed out after %ss", logto_settings.timeout)
        return ProviderUnavailable(_("The sign-in service did not answer in time."))
    if isinstance(error, urllib.error.HTTPError):
        logger.warning("Provider answered %s for %s", error.code, error.url)
        return ProviderError(_("The sign-in service answered HTTP %(status)s."), status=error.code)
    if isinstance(error, urllib.error.URLError | OSError):
        logger.warning("Provider unreachable: %s", error)
        return ProviderUnavailable(_("The sign-in service could not be reached."))
    logger.warning("Unexpected answer from the provider: %r", error)
    return ProviderError(_("The sign-in service sent an unexpected answer."))


# What a provider call may raise besides LogtoError, for map_error.
PROVIDER_FAILURES = (
    TimeoutError,
    OSError,
    http.client.HTTPException,
    pydantic.ValidationError,
    jwt.PyJWTError,
    ValueError,
)
# Failures of a request written on a kept connection that the server closed meanwhile.
CLOSED_UNDER_US = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Until(io.RawIOBase):
    """A socket's reads, each given what is left until ``deadline`` (so an answer that
    trickles in cannot outlast it)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_left(self._deadline))
        return self._sock.recv_into(buffer)


class _Answer(http.client.HTTPResponse):
    """An ``HTTPResponse`` read within ``deadline``."""

    def __init__(self, sock: socket.socket, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # the socket's own reader: ours replaces it
        self.fp = io.BufferedReader(_Until(sock, deadline))


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("LOGTO['TIMEOUT'] passed")
    return left


Origin = tuple[str, str, int]


class _Pool:
    """The process's idle connections to the provider, by origin, shared by its threads:
    each call takes one (or opens one) and gives it back when its answer is read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[tuple[http.client.HTTPConnection, float]]] = {}

    def take(self, origin: Origin) -> http.client.HTTPConnection | None:
        """The most recently used idle connection to ``origin`` still open, or ``None``."""
        with self._lock:
            idle = self._idle.get(origin, [])
            while idle:
                connection, since = idle.pop()
                if time.monotonic() - since < KEEPALIVE_TIMEOUT and _open(connection):
                    return connection
                connection.close()
        return None

    def give(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(origin, []).append((connection, time.monotonic()))

    def close(self) -> None:
        """Close the idle connections: at interpreter exit, and before a fork (a child
        must not share them)."""
        with self._lock:
            for idle in self._idle.values():
                for connection, _since in idle:
                    connection.close()
            self._idle = {}

    def start_afresh(self) -> None:
        """In a forked child: a lock no thread of the parent's may have held at the fork,
        and no connection of the parent's (closing the child's copy of one leaves the
        parent's open)."""
        self._lock = threading.Lock()
        inherited, self._idle = self._idle, {}
        for idle in inherited.values():
            for connection, _since in idle:
                connection.close()


def _open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is still open: nothing to read on it (the server's close,
    or anything it sent unasked, makes it readable)."""
    sock = connection.sock
    if sock is None:
        return False
    if hasattr(select, "poll"):  # any descriptor, where select() stops at 1024
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    return not select.select([sock], [], [], 0)[0]


pool = _Pool()
atexit.register(pool.close)
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(before=pool.close, after_in_child=pool.start_afresh)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once per process."""
    return ssl.create_default_context()


def _connection(origin: Origin) -> http.client.HTTPConnection:
    """A new connection to ``origin`` (it connects when it first sends)."""
    scheme, host, port = origin
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, context=_tls())
    return http.client.HTTPConnection(host, port)


def _origin(url: str) -> tuple[Origin, str]:
    """The origin of ``url`` (HTTP or HTTPS only) and the request target."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(_("Refusing to fetch a non-HTTP URL: %(url)s"), url=url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target


@sensitive_variables()
def send(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send one request to the provider on a kept connection, within ``LOGTO['TIMEOUT']``;
    return the status and the body of its answer (any status; redirects are not followed).

    Raise ``TimeoutError``, ``OSError`` or ``http.client.HTTPException`` when no answer
    came (``map_error`` maps them), ``ProviderError`` for an answer over ``MAX_ANSWER``.
    """
    deadline = time.monotonic() + logto_settings.timeout
    origin, target = _origin(url)
    headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    request = (method, target, body, headers)
    kept = pool.take(origin)
    try:
        return _exchange(origin, kept or _connection(origin), request, deadline)
    except CLOSED_UNDER_US:
        if kept is None or method != "GET":
            raise
    # The server closed the kept connection as we wrote: a GET once more, on a new one.
    return _exchange(origin, _connection(origin), request, deadline)


@sensitive_variables()
def _exchange(
    origin: Origin,
    connection: http.client.HTTPConnection,
    request: tuple[str, str, bytes | None, dict[str, str]],
    deadline: float,
) -> tuple[int, bytes]:
    """Send ``request`` on ``connection``, read the answer, keep the connection if it may
    serve again (else close it)."""
    method, target, body, headers = request
    try:
        if connection.sock is not None:
            connection.sock.settimeout(_left(deadline))
        else:
            connection.timeout = _left(deadline)  # connecting
        connection.response_class = lambda *args, **kwargs: _Answer(  # type: ignore[assignment]
            *args, deadline=deadline, **kwargs
        )
        connection.request(method, target, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read(MAX_ANSWER + 1)
    except BaseException:
        connection.close()
        raise
    if len(data) > MAX_ANSWER:
        connection.close()
        raise ProviderError(_("The sign-in service sent an answer too large to read."))
    if answer.will_close or not answer.isclosed():
        connection.close()
    else:
        pool.give(origin, connection)
    return answer.status, data


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

    From async code, call it through ``sync_to_async``.

    With ``expect_json=False`` the body is ignored and ``None`` returned.
    """
    body, all_headers = _prepared(url, data, headers)
    try:
        method = "GET" if body is None else "POST"
        status, answer = send(method, url, body=body, headers=all_headers)
        if not 200 <= status < 300:
            logger.warning("Provider answered %s for %s", status, url)
            raise ProviderError(_("The sign-in service answered HTTP %(status)s."), status=status)
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
