"""Internal: may change in any release.

The process's kept connections to the provider, shared by its threads (``pool``): a
request (``request``) takes an idle connection, or opens one, sends in the calling thread
and gives the connection back once its answer is read. So a steady-state request opens no
TCP (and no TLS) connection and makes no thread, event loop or session: it costs what one
request and its answer cost. After a fork the child starts with no connection (the
parent's are closed before it); the connections are closed at interpreter exit. A request,
connecting included, ends within its timeout: every wait on the socket is given what is
left of it, so an answer that trickles in is cut off too.

An idle connection is kept ``KEEPALIVE_TIMEOUT`` seconds, less than the 5 s after which
Node's HTTP server (Logto's and the dev provider's) closes it, and is not used again if
the server closed it meanwhile. A request written on a connection that the server is
closing fails (``RemoteDisconnected``): a GET (discovery, keys, userinfo) is then sent
once more on a new connection, never a POST: a token request may have been processed
before the connection broke, and repeating it would replay an authorization code (the
provider then revokes the tokens it issued for it) or a refresh token that has meanwhile
been rotated.

Standard library only: what the answers mean, and the timeout's setting, are
``_http.py``'s.
"""

from __future__ import annotations

import atexit
import functools
import http.client
import io
import os
import select
import ssl
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from django.views.decorators.debug import sensitive_variables

if TYPE_CHECKING:
    import socket

#: Seconds an idle connection to the provider is kept for the next call: below Node's
#: default ``keepAliveTimeout`` (5 s; Logto runs on Node), so that we drop an idle
#: connection before the server does rather than write a request on it as it closes.
KEEPALIVE_TIMEOUT = 4.0
#: The largest answer read (the provider's discovery and keys are a few kB).
MAX_ANSWER = 1024 * 1024


class TooLarge(http.client.HTTPException):
    """An answer over ``MAX_ANSWER`` bytes (its connection is not kept)."""


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
        raise ValueError(f"not an HTTP URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, parts.hostname, port), target


@sensitive_variables()
def request(
    method: str,
    url: str,
    *,
    timeout: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Send one request on a kept connection, answered within ``timeout`` seconds in all;
    return the status and the body of its answer (any status; redirects are not followed).

    Raise ``TimeoutError``, ``OSError`` or ``http.client.HTTPException`` (``TooLarge`` for
    an answer over ``MAX_ANSWER``) when no answer came, ``ValueError`` for a URL that is
    not HTTP(S).
    """
    deadline = time.monotonic() + timeout
    origin, target = _origin(url)
    message = (method, target, body, headers or {})
    kept = pool.take(origin)
    try:
        return _exchange(origin, kept or _connection(origin), message, deadline)
    except CLOSED_UNDER_US:
        if kept is None or method != "GET":
            raise
    # The server closed the kept connection as we wrote: a GET once more, on a new one.
    return _exchange(origin, _connection(origin), message, deadline)


@sensitive_variables()
def _exchange(
    origin: Origin,
    connection: http.client.HTTPConnection,
    message: tuple[str, str, bytes | None, dict[str, str]],
    deadline: float,
) -> tuple[int, bytes]:
    """Send ``message`` on ``connection``, read the answer, keep the connection if it may
    serve again (else close it)."""
    method, target, body, headers = message
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
        raise TooLarge(f"an answer over {MAX_ANSWER} bytes")
    if answer.will_close or not answer.isclosed():
        connection.close()
    else:
        pool.give(origin, connection)
    return answer.status, data
