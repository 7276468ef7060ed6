"""Load test: two instances of the demo behind nginx, django-logto, mozilla-django-oidc and
bare Django (its own password login, no relying party: the floor).

nginx (round robin) in front of gunicorn (WSGI, 2 workers) and uvicorn (ASGI), sharing a
throwaway PostgreSQL database and a Redis database, against the dev provider; locust
(``bench/locustfile.py``, in ``.venv-load``) plays closed-loop users at each step. The
same scenario runs with django-logto, then mozilla-django-oidc, as the relying party, then
with bare Django (session + authentication middleware, Django's login; no API call).

Per step: sign-ins and signed-in requests per second, p50/p95/p99 of signed-in requests,
errors, and per sign-in and per signed-in request the provider calls, PostgreSQL queries
and Redis commands the servers made (counted per request by ``bench/counting.py``,
checked against the provider's counters, ``pg_stat_database`` and Redis ``INFO``), the
workers' memory, and what is left in the session index and the replay memory.

Usage: .venv/bin/python bench/load.py [USERS ...] [--seconds 20] [--pages 20] [--runs 3]
       [--json figures.json] [--chart docs/load.svg]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from bench.common import markdown_table, site_calls  # noqa: E402
from tests.devprovider import DevProvider  # noqa: E402
from tests.e2e.test_servers import manage, run_server  # noqa: E402
from tests.services import REDIS, free_port, throwaway_database  # noqa: E402

LOAD_VENV = ROOT / ".venv-load"
# The bare floor's user, with the password bench/locustfile.py signs in with.
BARE_USER = (
    "from django.contrib.auth import get_user_model; "
    "get_user_model().objects.create_user('bare-alice', password='bare-alice-password')"
)
LOAD_REQUIREMENTS = ROOT / "bench" / "requirements-load.txt"
RPS = ("logto", "mozilla", "bare")
CALLBACKS = ("/logto/callback/", "/oidc/callback/")  # each relying party's sign-in callback
RSS_EVERY = 10  # seconds between memory samples in a soak
WARM_UP = 60  # seconds of load before a soak's first memory sample
POOL = {"gunicorn": 2, "uvicorn": 10}  # psycopg pool size per process (sync worker: 1 at once)
NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    # Where each request went and how long its upstream took: the callbacks' times by server.
    log_format upstream '$upstream_addr $upstream_response_time $uri';
    access_log {dir}/upstream.log upstream buffer=256k flush=1s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream demo {{
        server 127.0.0.1:{wsgi};
        server 127.0.0.1:{asgi};
        keepalive 64;
        # Idle connections to the servers are dropped before uvicorn drops them (75 s), so
        # that a POST is never written on one the server is closing (a 502 then).
        keepalive_timeout 30s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://demo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def load_python() -> Path:
    """The Python of ``.venv-load``, made or updated from bench/requirements-load.txt."""
    python = LOAD_VENV / "bin" / "python"
    stamp = LOAD_VENV / ".stamp"
    wanted = hashlib.sha256(LOAD_REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        venv.create(LOAD_VENV, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(LOAD_REQUIREMENTS)], check=True)
    stamp.write_text(wanted)
    return python


def nginx_binary() -> str:
    """nginx from Debian, installed when missing (as root)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("nginx is missing: apt-get install nginx")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "nginx"]
    if subprocess.run(install, env=environment, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-qq"], env=environment, check=True)
        subprocess.run(install, env=environment, check=True, capture_output=True)
    return shutil.which("nginx", path="/usr/sbin:/sbin:/usr/bin") or "/usr/sbin/nginx"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@dataclass
class Stack:
    """The balancer, the provider and the shared stores; instances per relying party."""

    workdir: Path
    database_url: str
    redis_url: str
    provider: DevProvider
    port: int
    wsgi_port: int = field(default_factory=free_port)
    asgi_port: int = field(default_factory=free_port)
    servers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    cache_prefix: str = field(default_factory=lambda: f"load{secrets.token_hex(4)}")
    nginx: int = 0  # the balancer's master process

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, rp: str, server: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "bench-" + hashlib.sha256(self.database_url.encode()).hexdigest(),
            "DATABASE_URL": self.database_url,
            "DATABASE_POOL_MAX_SIZE": str(POOL[server]),
            "REDIS_URL": self.redis_url,
            "LOGTO_ENDPOINT": self.provider.url,
            # The demo asks for its API resource from an explicit endpoint only when told.
            "LOGTO_API_RESOURCE": "http://127.0.0.1:8000/api",
            "BENCH_RP": rp,
            "BENCH_CACHE_PREFIX": self.cache_prefix,
        }

    def start(self, rp: str) -> None:
        self.stop()
        python = sys.executable
        commands = {
            "gunicorn": [
                *(python, "-m", "gunicorn", "config.wsgi:application", "--workers", "2"),
                *("--bind", f"127.0.0.1:{self.wsgi_port}", "--timeout", "120"),
            ],
            "uvicorn": [
                *(python, "-m", "uvicorn", "config.asgi:application", "--no-access-log"),
                *("--timeout-keep-alive", "75"),
                *("--port", str(self.asgi_port)),
            ],
        }
        ports = {"gunicorn": self.wsgi_port, "uvicorn": self.asgi_port}
        for name, command in commands.items():
            path = self.workdir / f"{rp}-{name}.log"
            try:
                with path.open("ab") as log:
                    env = self.env(rp, name)
                    self.servers[name] = run_server(
                        command, env, ports[name], migrate=False, log=log
                    )
            except RuntimeError as error:
                raise RuntimeError(f"{error}:\n{path.read_text()[-3000:]}") from None

    def stop(self) -> None:
        for server in self.servers.values():
            server.terminate()
            server.wait(timeout=20)
        self.servers.clear()

    def workers(self) -> dict[str, int]:
        gunicorn = children(self.servers["gunicorn"].pid)
        named = {f"gunicorn worker {n}": pid for n, pid in enumerate(sorted(gunicorn), 1)}
        return {**named, "uvicorn": self.servers["uvicorn"].pid}

    def callback_times(self, log: Path, start: int) -> dict[str, float]:
        """The median upstream time of the sign-in callbacks in ``log`` from byte ``start``,
        by server (from nginx's log: its time waiting for the upstream's answer)."""
        servers = {
            f"127.0.0.1:{self.wsgi_port}": "gunicorn",
            f"127.0.0.1:{self.asgi_port}": "uvicorn",
        }
        times: dict[str, list[float]] = {name: [] for name in servers.values()}
        with log.open("rb") as lines:
            lines.seek(start)
            for line in lines.read().decode().splitlines():
                upstream, took, uri = [*line.split(" "), "", "", ""][:3]
                if uri in CALLBACKS and upstream in servers and took.replace(".", "").isdigit():
                    times[servers[upstream]].append(float(took) * 1000)
        return {name: statistics.median(found) if found else 0.0 for name, found in times.items()}

    def snapshot_rss(self) -> dict[str, float]:
        return {name: rss_mb(pid) for name, pid in self.workers().items()}

    def snapshot(self) -> dict[str, Any]:
        """Server-wide counters, read before and after a step."""
        database = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            xacts = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                [database],
            ).fetchone()
            rows = conn.execute("SELECT count(*) FROM logto_auth_logtosession").fetchone()
        client = redis.Redis.from_url(self.redis_url)
        commands = sum(stat["calls"] for stat in client.info("commandstats").values())
        # SCAN may return a key twice: count each once; one that expired meanwhile not at all.
        pattern = f"{self.cache_prefix}:*:logto_auth:jti:*"
        keys = set(client.scan_iter(match=pattern, count=1000))
        replay = [ttl for ttl in (client.ttl(key) for key in keys) if ttl > 0]
        deliveries = self.provider.backchannel()
        return {
            "backchannel": len(deliveries),
            "backchannel_failed": sum(1 for d in deliveries if d.get("status") != 200),
            "provider": site_calls(self.provider.counters()),
            "xacts": xacts[0] if xacts else 0,
            "logto_sessions": rows[0] if rows else 0,
            "redis_commands": commands,
            "redis_keys": client.dbsize(),
            "replay_keys": len(replay),
            "replay_ttl_max": max(replay, default=0),
            "rss": self.snapshot_rss(),
        }


@contextlib.contextmanager
def stack(workdir: Path) -> Iterator[Stack]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with throwaway_database("logto_load") as database_url:
        redis.Redis.from_url(REDIS).flushdb()
        provider = DevProvider(
            DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI=f"{origin}/logto/back-channel-logout/"
        ).start()
        provider.register_site(origin)
        provider.register([f"{origin}/oidc/callback/"])
        running = Stack(workdir, database_url, REDIS, provider, port)
        conf = workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                dir=workdir, port=port, wsgi=running.wsgi_port, asgi=running.asgi_port
            )
        )
        nginx = subprocess.Popen(
            [nginx_binary(), "-c", str(conf), "-p", str(workdir), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "nginx.log").open("ab"),
        )
        running.nginx = nginx.pid
        try:
            manage(running.env("logto", "gunicorn"), "migrate", "--noinput", "-v", "0")
            manage(running.env("bare", "gunicorn"), "shell", "-v", "0", "-c", BARE_USER)
            yield running
        finally:
            running.stop()
            nginx.terminate()
            nginx.wait(timeout=10)
            provider.stop()
            redis.Redis.from_url(REDIS).flushdb()


def step(
    running: Stack, rp: str, users: int, seconds: float, pages: int, mode: str = "phases"
) -> dict[str, Any]:
    """One step of ``users`` users (``mode``: ``phases`` or ``flow``, bench/locustfile.py),
    each window ``seconds`` long; its figures, the workers' memory sampled every few seconds."""
    config = {
        "host": running.origin,
        "provider": running.provider.url,
        "rp": rp,
        "users": users,
        "duration": seconds,
        "pages": pages,
        "mode": mode,
    }
    before = running.snapshot()
    log = running.workdir / "upstream.log"
    log_start = log.stat().st_size if log.exists() else 0
    started = time.monotonic()
    rss: list[dict[str, float]] = [{"at": 0.0, **before["rss"]}]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        driver = subprocess.Popen(
            [str(load_python()), str(ROOT / "bench" / "locustfile.py"), json.dumps(config)],
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
        )
        deadline = time.monotonic() + 4 * seconds + 900
        while driver.poll() is None:
            if time.monotonic() > deadline:
                driver.kill()
            time.sleep(RSS_EVERY if mode == "flow" else 1)
            rss.append({"at": time.monotonic() - started, **running.snapshot_rss()})
        out.seek(0)
        err.seek(0)
        if driver.returncode:
            raise RuntimeError(f"locust failed:\n{err.read()[-3000:]}")
        result: dict[str, Any] = json.loads(out.read().strip().splitlines()[-1])
    time.sleep(1.5)  # PostgreSQL publishes a backend's counts within a second (nginx its log)
    after = running.snapshot()
    result["callback_upstream_ms"] = running.callback_times(log, log_start)
    result["server"] = {
        key: after[key] - before[key]
        for key in ("provider", "xacts", "redis_commands", "backchannel", "backchannel_failed")
    }
    result["left"] = {
        key: after[key] for key in ("logto_sessions", "redis_keys", "replay_keys", "replay_ttl_max")
    }
    result["rss_before"], result["rss_after"] = before["rss"], after["rss"]
    result["rss_peak"] = {name: max(sample.get(name, 0) for sample in rss) for name in after["rss"]}
    result["rss_samples"] = rss
    return result


def run(
    steps: tuple[int, ...] = (10, 50, 100),
    seconds: float = 20,
    pages: int = 20,
    order: tuple[str, ...] = RPS,
) -> dict[str, Any]:
    """Every step for each relying party (in ``order``), on one stack; the figures by
    relying party."""
    load_python()
    results: dict[str, Any] = {"steps": list(steps), "seconds": seconds, "pages": pages}
    with (
        tempfile.TemporaryDirectory(prefix="logto-load-") as directory,
        stack(Path(directory)) as running,
    ):
        for rp in order:
            running.start(rp)
            step(running, rp, 2, min(2, seconds), 2)  # warm-up: metadata, keys, imports
            results[rp] = [step(running, rp, users, seconds, pages) for users in steps]
        results["max_connections"] = max_connections(running.database_url)
    return results


def soak(users: int, seconds: float, pages: int, rps: tuple[str, ...]) -> dict[str, Any]:
    """``users`` users in closed-loop flows for ``seconds`` per relying party: errors and
    each server's memory before, at its peak during, and after."""
    load_python()
    results: dict[str, Any] = {"users": users, "seconds": seconds, "pages": pages}
    with (
        tempfile.TemporaryDirectory(prefix="logto-soak-") as directory,
        stack(Path(directory)) as running,
    ):
        for rp in rps:
            running.start(rp)
            cold = running.snapshot_rss()  # started and migrated, no request served yet
            # Warm-up at the soak's own concurrency: the first minute fills what a server
            # holds at that level (one thread per concurrent ASGI request, connections,
            # caches); the soak then measures what grows after it.
            step(running, rp, users, WARM_UP, pages, mode="flow")
            results[rp] = step(running, rp, users, seconds, pages, mode="flow")
            results[rp]["rss_cold"] = cold
    return results


def max_connections(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    return int(row[0]) if row else 0


def per(result: dict[str, Any], kind: str, cost: str) -> float:
    """``cost`` per request of ``kind`` (per completed sign-in: its two requests)."""
    total = result["costs"].get(kind, {}).get(cost, 0)
    count = result["sign_ins"] if kind == "sign-in" else result["requests"].get(kind, 0)
    return float(total) / count if count else 0.0


def errors(result: dict[str, Any]) -> int:
    return sum(result["errors"].values())


def rate(result: dict[str, Any], kind: str) -> float:
    """Requests of ``kind`` per second in its window (sign-ins: completed sign-ins)."""
    return float(result["per_s"].get(kind, 0.0))


def figures(result: dict[str, Any]) -> dict[str, float]:
    return {
        "sign-ins/s": rate(result, "sign-in"),
        "pages/s": rate(result, "page"),
        "API req/s": rate(result, "api"),
        "errors": errors(result),
        "provider/sign-in": per(result, "sign-in", "provider"),
        "provider/page": per(result, "page", "provider"),
        "provider/API req": per(result, "api", "provider"),
        "queries/sign-in": per(result, "sign-in", "queries"),
        "queries/page": per(result, "page", "queries"),
        "queries/API req": per(result, "api", "queries"),
        "redis/sign-in": per(result, "sign-in", "redis"),
        "redis/page": per(result, "page", "redis"),
    }


def number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


NAMES = {"logto": "django-logto", "mozilla": "mozilla-django-oidc", "bare": "bare Django"}


def report(results: dict[str, Any]) -> list[str]:
    """The load tables, in Markdown."""
    lines = [
        f"Closed loop, one {results['seconds']:g} s window per kind of request (sign-ins, "
        "then signed-in pages, then bearer API calls; `bench/locustfile.py`). nginx round "
        "robin to gunicorn (2 sync workers) and uvicorn; PostgreSQL (psycopg pool: "
        f"{POOL['gunicorn']} per gunicorn worker, {POOL['uvicorn']} for uvicorn; "
        f"max_connections {results['max_connections']}) and Redis shared.",
        "",
    ]
    header = ["relying party", "users", *figures(results["logto"][0]).keys()]
    rows = []
    for index, users in enumerate(results["steps"]):
        for rp in RPS:
            values = [number(value) for value in figures(results[rp][index]).values()]
            rows.append([NAMES[rp], users, *values])
    lines += markdown_table(header, rows)
    lines += ["", "django-logto against mozilla-django-oidc and bare Django (ours ÷ theirs):", ""]
    ratio_rows = []
    for index, users in enumerate(results["steps"]):
        ours, mozilla, bare = (results[rp][index] for rp in ("logto", "mozilla", "bare"))
        ratio_rows.append(
            [
                users,
                ratio(rate(ours, "sign-in"), rate(mozilla, "sign-in")),
                ratio(rate(ours, "page"), rate(mozilla, "page")),
                ratio(rate(ours, "api"), rate(mozilla, "api")),
                ratio(rate(ours, "page"), rate(bare, "page")),
                ratio(bare["by_kind"]["page"]["p50"], ours["by_kind"]["page"]["p50"]),
                callbacks(ours, mozilla),
            ]
        )
    lines += markdown_table(
        [
            "users",
            "sign-ins vs mozilla",
            "pages vs mozilla",
            "API vs mozilla",
            "pages vs bare",
            "page p50 speed vs bare (bare ÷ ours time)",
            "callback median upstream ms, gunicorn / uvicorn: ours vs mozilla",
        ],
        ratio_rows,
    )
    lines += ["", "Latency in each window (p50 / p95 ms):", ""]
    kind_rows = []
    for index, users in enumerate(results["steps"]):
        for rp in RPS:
            by_kind = results[rp][index]["by_kind"]
            kind_rows.append(
                [
                    NAMES[rp],
                    users,
                    *(
                        f"{by_kind[kind]['p50']:.0f} / {by_kind[kind]['p95']:.0f}"
                        if by_kind[kind]["p50"]
                        else ""
                        for kind in ("sign-in", "page", "api")
                    ),
                ]
            )
    lines += markdown_table(
        ["relying party", "users", "sign-in (each of 2 requests)", "page", "API"], kind_rows
    )
    lines += ["", "Server-wide checks over each step, and what is left after it:", ""]
    check_rows = []
    for index, users in enumerate(results["steps"]):
        for rp in RPS:
            result = results[rp][index]
            headers_provider = sum(cost.get("provider", 0) for cost in result["costs"].values())
            check_rows.append(
                [
                    NAMES[rp],
                    users,
                    result["sign_ins"],
                    f"{result['server']['backchannel']} / {result['server']['backchannel_failed']}",
                    f"{result['server']['provider']} / {headers_provider}",
                    result["server"]["xacts"],
                    result["server"]["redis_commands"],
                    result["left"]["logto_sessions"],
                    result["left"]["replay_keys"],
                    result["left"]["replay_ttl_max"],
                    memory(result),
                ]
            )
    lines += markdown_table(
        [
            "relying party",
            "users",
            "sign-ins",
            "back-channel logouts sent / failed",
            "provider calls: its counters / our headers",
            "PG transactions",
            "Redis commands (INFO, server-wide)",
            "LogtoSession rows left",
            "replay keys",
            "max TTL s",
            "RSS MB before→peak→after (gunicorn 1, 2, uvicorn)",
        ],
        check_rows,
    )
    lines += error_lines([result for rp in RPS for result in results[rp]])
    return lines


def callbacks(ours: dict[str, Any], mozilla: dict[str, Any]) -> str:
    times = [result.get("callback_upstream_ms", {}) for result in (ours, mozilla)]
    return " vs ".join(
        " / ".join(f"{found.get(server, 0):.0f}" for server in ("gunicorn", "uvicorn"))
        for found in times
    )


def memory(result: dict[str, Any]) -> str:
    return ", ".join(
        f"{result['rss_before'][name]:.0f}→{result['rss_peak'][name]:.0f}"
        f"→{result['rss_after'][name]:.0f}"
        for name in result["rss_after"]
    )


def error_lines(steps: list[dict[str, Any]]) -> list[str]:
    found: dict[str, int] = {}
    for result in steps:
        for message, count in result["errors"].items():
            found[message] = found.get(message, 0) + count
    if not found:
        return []
    return ["", "Errors:", *(f"- {count} times: {message}" for message, count in found.items())]


def summary(runs: list[dict[str, Any]]) -> list[str]:
    """The ratios the performance goals name, each the median over the runs."""

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}x" if values else "n/a"

    def of(kind: str, theirs: str, index: int) -> list[float]:
        pairs = [(run["logto"][index], run[theirs][index]) for run in runs]
        return [rate(o, kind) / rate(t, kind) for o, t in pairs if rate(t, kind)]

    rows = []
    for index, users in enumerate(runs[0]["steps"]):
        rows.append(
            [
                users,
                median(of("sign-in", "mozilla", index)),
                median(of("page", "mozilla", index)),
                median(of("page", "bare", index)),
                median(of("api", "mozilla", index)),
                " vs ".join(f"{wsgi_callback(runs, rp, index):.0f}" for rp in ("logto", "mozilla")),
                sum(errors(run[rp][index]) for run in runs for rp in RPS),
            ]
        )
    return [
        f"Median over {len(runs)} run(s), relying parties interleaved (ratio = ours / theirs):",
        "",
        *markdown_table(
            [
                "users",
                "sign-ins vs mozilla (goal >= 1.0)",
                "pages vs mozilla (>= 1.0)",
                "pages vs bare Django (>= 0.95)",
                "bearer API vs mozilla (>= 1.5)",
                "WSGI callback median ms, ours vs mozilla (ours <= theirs)",
                "errors",
            ],
            rows,
        ),
    ]


def wsgi_callback(runs: list[dict[str, Any]], rp: str, index: int) -> float:
    """The median over ``runs`` of the callbacks' median upstream time under gunicorn."""
    return float(
        statistics.median(run[rp][index]["callback_upstream_ms"]["gunicorn"] for run in runs)
    )


def soak_report(results: dict[str, Any]) -> list[str]:
    """Memory over the soak: each server when started (no request yet), after a minute's
    warm-up at the soak's level (the baseline), half-way, at its peak and after; the change
    against the baseline."""

    def at(samples: list[dict[str, float]], name: str, seconds: float) -> float:
        found = [sample[name] for sample in samples if sample["at"] >= seconds and name in sample]
        return found[0] if found else samples[-1].get(name, 0.0)

    rows = []
    for rp in RPS:
        result = results.get(rp)
        if result is None:
            continue
        for name in result["rss_after"]:
            before, after = result["rss_before"][name], result["rss_after"][name]
            half = at(result["rss_samples"], name, results["seconds"] / 2)
            cold = result.get("rss_cold", {}).get(name, 0.0)
            rows.append(
                [
                    NAMES[rp],
                    name,
                    *(f"{value:.0f}" for value in (cold, before, half)),
                    f"{result['rss_peak'][name]:.0f}",
                    f"{after:.0f}",
                    f"{(after - before) / before:+.1%}",
                    f"{(result['rss_peak'][name] - before) / before:+.1%}",
                ]
            )
    flows = ", ".join(
        f"{NAMES[rp]} {results[rp]['flows']} flows, {errors(results[rp])} errors"
        for rp in RPS
        if rp in results
    )
    return [
        f"Soak: {results['users']} users in closed-loop flows (sign-in, {results['pages']} "
        f"pages, API call, sign-out) for {results['seconds']:g} s after {WARM_UP} s of "
        f"warm-up at the same level; {flows}.",
        "",
        *markdown_table(
            [
                "relying party",
                "server",
                "RSS MB started",
                "after warm-up",
                "half-way",
                "peak",
                "after",
                "after vs warm",
                "peak vs warm",
            ],
            rows,
        ),
        *error_lines([results[rp] for rp in RPS if rp in results]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("users", nargs="*", type=int, default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=20, help="each window's length")
    parser.add_argument("--pages", type=int, default=20, help="pages per flow (the soak)")
    parser.add_argument("--runs", type=int, default=1, help="runs, each in another order")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--chart", type=Path, help="draw them here (SVG, bench/chart.py)")
    parser.add_argument(
        "--soak", type=float, metavar="SECONDS", help="instead: one soak of USERS (default 50)"
    )
    parser.add_argument("--rp", action="append", choices=RPS, help="the soak's relying parties")
    arguments = parser.parse_args()
    if arguments.soak:
        users = arguments.users[0] if arguments.users != [10, 50, 100] else 50
        soaked = soak(users, arguments.soak, arguments.pages, tuple(arguments.rp or ("logto",)))
        print("\n".join(soak_report(soaked)))
        if arguments.json:
            arguments.json.write_text(json.dumps(soaked, indent=1))
        return
    runs = []
    for number in range(arguments.runs):
        order = RPS[number % len(RPS) :] + RPS[: number % len(RPS)]  # each leads in turn
        runs.append(run(tuple(arguments.users), arguments.seconds, arguments.pages, order))
        print(f"## Run {number + 1} ({', '.join(order)})\n")
        print("\n".join(report(runs[-1])) + "\n", flush=True)
    print("\n".join(summary(runs)))
    if arguments.json:
        arguments.json.write_text(json.dumps({"runs": runs}, indent=1))
    if arguments.chart:
        figures = arguments.json or Path(tempfile.mkstemp(suffix=".json")[1])
        figures.write_text(json.dumps({"runs": runs}))
        chart = [str(load_python()), str(ROOT / "bench" / "chart.py"), str(figures)]
        subprocess.run([*chart, str(arguments.chart)], check=True)


if __name__ == "__main__":
    main()
