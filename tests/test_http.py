"""The connection pool (``_connections.pool``, through ``_http``): every provider call of
a process, the SDK's token requests included, goes out on the process's kept
connections, within ``LOGTO['TIMEOUT']``, and a token request is never sent twice. The
unit tests talk to a scripted HTTP server on a local socket; the integration tests count
the dev provider's TCP connections."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from logto.models.oidc import OidcProviderMetadata

from logto_auth import _connections, _http, _sdk
from logto_auth._provider import provider
from logto_auth.exceptions import ProviderError, ProviderUnavailable
from tests.conftest import Site
from tests.devprovider import ROOT, TEST_CLIENT_ORIGIN, DevProvider

API = "http://127.0.0.1:8000/api"  # the dev provider's API resource
TOKENS = {"access_token": "access-1", "token_type": "Bearer", "expires_in": 3600}


class ScriptedServer:
    """An HTTP/1.1 server that keeps connections alive and meets each request, in arrival
    order, with the next action of its script: ``ok`` (a 200 JSON answer), ``drop`` (close
    the connection without answering), ``hang`` (never answer), ``trickle`` (the answer a
    byte every 0.1 s) or ``huge`` (a 2 MB answer). With ``tls``, HTTPS."""

    def __init__(self, *script: str, tls: ssl.SSLContext | None = None) -> None:
        self.script = list(script)
        self.tls = tls
        self.requests: list[tuple[int, str]] = []  # (connection number, request line)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.held.append(conn)
            self.connections += 1
            number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
        except OSError:
            return
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.requests.append((number, line.decode().strip()))
                action = self.script.pop(0) if self.script else "ok"
                if action == "drop":
                    conn.close()
                    return
                if action == "hang":
                    return  # the connection stays open, unanswered (closed by close())
                if action == "hang-briefly":  # so that requests at once overlap
                    time.sleep(0.3)
                fields = {**TOKENS, "sub": "alice0k7x2qm"}
                if action == "huge":
                    fields["padding"] = "x" * 2_000_000
                body = json.dumps(fields).encode()
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
                )
                answer = head.encode() + body
                if action == "trickle":
                    for byte in answer:
                        conn.sendall(bytes([byte]))
                        time.sleep(0.1)
                else:
                    conn.sendall(answer)
        except OSError:
            return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(*script: str, tls: ssl.SSLContext | None = None) -> ScriptedServer:
        servers.append(ScriptedServer(*script, tls=tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def core_at(origin: str) -> _sdk._PooledOidcCore:
    """Our ``OidcCore`` for a provider at ``origin``."""
    return _sdk._PooledOidcCore(
        OidcProviderMetadata(
            issuer=f"{origin}/oidc",
            authorization_endpoint=f"{origin}/oidc/auth",
            token_endpoint=f"{origin}/oidc/token",
            userinfo_endpoint=f"{origin}/oidc/me",
            jwks_uri=f"{origin}/oidc/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["ES384"],
        )
    )


def refresh_at(core: _sdk._PooledOidcCore) -> Any:
    """One refresh-token request through the pool, as ``_sdk.refresh`` makes it."""
    return _sdk._run(core.fetchTokenByRefreshToken, "app", "secret", "refresh-1", API)


def test_a_form_leaves_out_what_it_does_not_have() -> None:
    # A public application's token request has no client secret: no "client_secret=None".
    body, headers = _http._prepared(f"{TEST_CLIENT_ORIGIN}/oidc/token", FORM, None)

    assert body == b"grant_type=refresh_token&client_id=app"
    assert headers == {"Accept": "application/json"}


FORM = {"grant_type": "refresh_token", "client_id": "app", "client_secret": None}


def test_token_requests_from_sync_code_share_one_keep_alive_connection(scripted: Any) -> None:
    server = scripted()
    core = core_at(server.url)

    answers = [refresh_at(core) for _ in range(5)]

    assert [answer.access_token for answer in answers] == ["access-1"] * 5
    assert len(server.requests) == 5
    assert server.connections == 1


def test_token_requests_from_other_threads_share_the_kept_connection(scripted: Any) -> None:
    # As ASGI requests do: each refresh runs in a worker thread (``_sdk.arefresh``).
    server = scripted()
    core = core_at(server.url)
    refresh_at(core)

    for _ in range(3):
        worker = threading.Thread(target=refresh_at, args=(core,))
        worker.start()
        worker.join()

    assert len(server.requests) == 4
    assert server.connections == 1


def test_requests_at_once_each_take_a_connection_and_all_are_kept(scripted: Any) -> None:
    server = scripted("hang-briefly", "hang-briefly")
    core = core_at(server.url)
    workers = [threading.Thread(target=refresh_at, args=(core,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    refresh_at(core)
    refresh_at(core)

    assert len(server.requests) == 4
    assert server.connections == 2


def test_a_token_request_on_a_connection_the_provider_drops_is_not_sent_again(
    scripted: Any,
) -> None:
    # The provider may have processed it: a replayed code or refresh token could cost the
    # user the grant. It fails like an unreachable provider; the next call reconnects.
    server = scripted("ok", "drop", "ok")
    core = core_at(server.url)
    refresh_at(core)

    with pytest.raises(ProviderUnavailable):
        refresh_at(core)

    assert len(server.requests) == 2
    assert refresh_at(core).access_token == "access-1"
    assert server.connections == 2


def test_a_get_on_a_connection_the_provider_drops_is_sent_again_once(scripted: Any) -> None:
    # Idempotent: sent once more on a new connection (discovery, keys, userinfo).
    server = scripted("ok", "drop", "ok")
    _http.fetch_json(f"{server.url}/oidc/me")

    assert _http.fetch_json(f"{server.url}/oidc/me")["sub"] == "alice0k7x2qm"
    assert len(server.requests) == 3
    assert server.connections == 2


def test_a_provider_silent_on_a_kept_connection_is_bounded_by_the_timeout(
    scripted: Any, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 0.5}
    server = scripted("ok", "hang", "ok")
    core = core_at(server.url)
    refresh_at(core)

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        refresh_at(core)

    assert time.monotonic() - started < 2
    assert refresh_at(core).access_token == "access-1"  # not on the silent connection
    assert server.connections == 2


FORKING = """
import os, sys
import django
django.setup()
from logto_auth import _http
_http.fetch_json(sys.argv[1])
_http.fetch_json(sys.argv[1])  # the same connection
pid = os.fork()  # closes the parent's kept connection first
_http.fetch_json(sys.argv[1])  # each process on a connection of its own
if pid == 0:
    sys.exit(0)  # the child closes its connection at exit
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_process_makes_its_own_connection_and_both_exit_without_warnings(
    scripted: Any,
) -> None:
    server = scripted()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-X", "dev", "-W", "ignore::DeprecationWarning", "-c", FORKING]

    done = subprocess.run(
        [*command, f"{server.url}/oidc/me"], env=env, cwd=ROOT, capture_output=True, timeout=60
    )

    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""  # no ResourceWarning
    assert len(server.requests) == 4
    assert server.connections == 3  # parent before the fork, parent after, child


def test_an_answer_that_trickles_in_is_bounded_by_the_timeout(scripted: Any, settings: Any) -> None:
    # Each read waits for what is left of the timeout, not for a timeout of its own.
    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 0.5}
    server = scripted("trickle", "ok")
    core = core_at(server.url)

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer in time"):
        refresh_at(core)

    assert time.monotonic() - started < 1.5
    assert refresh_at(core).access_token == "access-1"
    assert server.connections == 2


def test_an_answer_too_large_is_refused_and_its_connection_not_kept(scripted: Any) -> None:
    server = scripted("huge", "ok")

    with pytest.raises(ProviderError, match="too large"):
        _http.fetch_json(f"{server.url}/oidc/jwks")

    assert _http.fetch_json(f"{server.url}/oidc/jwks")["sub"] == "alice0k7x2qm"
    assert server.connections == 2


def test_closing_the_pool_closes_its_connections_without_warnings(scripted: Any) -> None:
    server = scripted()
    _http.fetch_json(f"{server.url}/oidc/me")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _connections.pool.close()
        gc.collect()

    assert _http.fetch_json(f"{server.url}/oidc/me")["sub"] == "alice0k7x2qm"
    assert server.connections == 2  # the closed one was not used again


def test_a_forked_child_starts_with_no_connection_and_a_free_lock(scripted: Any) -> None:
    # What os.register_at_fork runs in the child: a thread of the parent's may have held
    # the pool's lock at the fork, and never releases it in the child.
    server = scripted()
    _http.fetch_json(f"{server.url}/oidc/me")
    held = _connections.pool._lock
    held.acquire()
    answers: list[Any] = []
    try:
        _connections.pool.start_afresh()
        child = threading.Thread(
            target=lambda: answers.append(_http.fetch_json(f"{server.url}/oidc/me"))
        )
        child.start()
        child.join(timeout=5)
        waited = child.is_alive()  # for the lock a thread of the parent's holds
    finally:
        held.release()
    child.join()

    assert not waited
    assert answers[0]["sub"] == "alice0k7x2qm"
    assert server.connections == 2  # the parent's connection is not the child's


def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a new self-signed certificate for 127.0.0.1, and a client
    context that trusts it (TLS 1.3 on both: its session tickets arrive after the
    handshake, on the connection that is then kept)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as directory:
        cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.minimum_version = ssl.TLSVersion.TLSv1_3
        server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cadata=pem.decode())


def test_an_https_connection_is_kept_between_requests(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Logto Cloud and most tenants are HTTPS: what arrives after the handshake (TLS 1.3
    # session tickets) must not make a kept connection look closed.
    server_tls, client_tls = tls_pair()
    server = scripted(tls=server_tls)
    monkeypatch.setattr(_connections, "_tls", lambda: client_tls)
    core = core_at(server.url)

    answers = [refresh_at(core) for _ in range(3)]
    answers.append(_http.fetch_json(f"{server.url}/oidc/me"))

    assert len(server.requests) == 4
    assert server.connections == 1


# Against the dev provider: connections counted where they arrive


def fresh_sign_in(kind: str, dev: DevProvider) -> None:
    """Sign a new browser in, then make the site refresh (a token for the API) and fetch
    userinfo: three provider calls of the site, each a request on a connection."""
    site = Site(kind)
    assert site.sign_in(dev, "alice").status_code == 302
    if kind == "wsgi":
        assert b"it answered <strong>200</strong>" in site.get("/profile/").content
    else:
        assert site.get("/async/token/", {"resource": API}).json()["token"]
        assert site.get("/async/userinfo/").json()["sub"] == "alice0k7x2qm"


@pytest.mark.urls("tests.urls")
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_ins_refreshes_and_userinfo_from_one_process_reuse_connections(
    kind: str, dev_provider: DevProvider, db: None
) -> None:
    fresh_sign_in(kind, dev_provider)  # discovery and keys cached, a connection opened
    dev_provider.reset()

    for _ in range(5):
        fresh_sign_in(kind, dev_provider)

    counters, connections = dev_provider.counters(), dev_provider.connections()
    assert counters["token:authorization_code"] == 5
    assert counters["token:refresh_token"] == 5
    assert counters["/oidc/me"] == 5
    # One connection carries them all, unless the machine stalled past the keep-alive.
    assert connections["/oidc/token"] <= 2
    assert connections["/oidc/me"] <= 2


@pytest.fixture
def short_keep_alive_provider(settings: Any) -> Iterator[DevProvider]:
    """A provider that closes idle connections after 0.5 s, far below our 4 s."""
    started = DevProvider(DEV_PROVIDER_KEEP_ALIVE_TIMEOUT_MS="500").start()
    started.register_site(TEST_CLIENT_ORIGIN)
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": started.url}
    yield started
    provider().forget()
    started.stop()


@pytest.mark.integration  # starts a dev provider of its own
def test_a_token_request_after_the_provider_closed_the_idle_connection_succeeds(
    short_keep_alive_provider: DevProvider, wsgi_site: Site
) -> None:
    wsgi_site.sign_in(short_keep_alive_provider, "alice")
    time.sleep(2)  # the provider has closed the connection the sign-in used (Node: ~1.3 s)

    assert wsgi_site.access_token(API)
    assert short_keep_alive_provider.connections()["/oidc/token"] == 2


def test_an_idle_connection_is_dropped_before_nodes_keep_alive_timeout(
    dev_provider: DevProvider, wsgi_site: Site
) -> None:
    # Idle for 4.5 s, past our 4 s, before the provider's 5 s: we reconnect rather than
    # send on a connection the provider may close as the request arrives.
    wsgi_site.sign_in(dev_provider, "alice")
    before = dev_provider.connections()["/oidc/token"]
    time.sleep(4.5)

    assert wsgi_site.access_token(API)
    assert dev_provider.connections()["/oidc/token"] == before + 1
