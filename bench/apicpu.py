"""The bearer API under the load test's topology, with a driver that costs next to nothing:
requests per second and CPU per request in each process, django-logto against
mozilla-django-oidc, side by side.

The load test's stack (``bench/load.py``: nginx round robin → gunicorn with 2 sync workers
and uvicorn, PostgreSQL, Redis, the dev provider); for each relying party one user signs in
and takes an access token for the demo API; then ``ab`` (Apache Bench, a C client: Debian's
``apache2-utils``) sends REQUESTS requests, CONCURRENCY at a time with keep-alive, to the
same DRF view as the load test's API window — through the balancer, then to the gunicorn
workers alone, then to uvicorn alone. The CPU each process spent (``/proc/<pid>/stat``)
is divided by the requests: where a request's time goes, by process, and which process
bounds the rate. A third row, the ceiling, runs the same DRF view on mozilla-django-oidc's
stack with no authentication at all: no authenticator can be faster here than that, so
its ratio to mozilla-django-oidc bounds what any ratio can be. Rounds interleave the
relying parties; the figures are their medians.

Usage: .venv/bin/python bench/apicpu.py [--requests 4000] [--concurrency 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.common import interleaved, markdown_table, median_of  # noqa: E402
from bench.load import NAMES as RP_NAMES  # noqa: E402
from bench.load import Stack, children, stack  # noqa: E402

# The load test's API window: each relying party's sign-in, its page that hands out the
# session's access token, and the DRF view that takes it as a bearer token.
NAMES = {**RP_NAMES, "ceiling": "no authentication"}
PATHS = {
    "logto": ("/logto/sign-in/", "/bench/token/", "/api/drf/me/"),
    "mozilla": ("/oidc/authenticate/", "/bench/mozilla-token/", "/bench/mozilla-drf/"),
}
# The ceiling: mozilla-django-oidc's stack and the same DRF view with no authentication at
# all, the rate no authenticator could beat here (``bench/urls.py``'s ``CeilingView``).
CEILING = "/bench/ceiling/"
RPS = ("logto", "mozilla", "ceiling")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (a process that is gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (its backends serve every connection)."""
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def processes(running: Stack) -> dict[str, list[int]]:
    workers = running.workers()
    assert running.provider.process is not None
    return {
        "gunicorn": [pid for name, pid in workers.items() if name.startswith("gunicorn")],
        "uvicorn": [workers["uvicorn"]],
        "provider": [running.provider.process.pid],
        "postgres": postgres_pids(),
        "nginx": [running.nginx, *children(running.nginx)],
    }


def sign_in(running: Stack, rp: str) -> requests.Session:
    """Sign alice in to ``rp`` as a new browser does (start, the provider's pages,
    callback); return the browser, holding the session."""
    browser = requests.Session()
    start = browser.get(running.origin + PATHS[rp][0], allow_redirects=False)
    back = running.provider.authorize(start.headers["Location"], "alice", http=requests.Session())
    done = browser.get(back, allow_redirects=False)
    if done.status_code != 302:
        raise RuntimeError(f"sign-in failed: {done.status_code} {done.text[:300]}")
    return browser


def access_token(running: Stack, rp: str) -> str:
    """Sign alice in to ``rp``; the session's token for the demo API."""
    token: str = sign_in(running, rp).get(running.origin + PATHS[rp][1]).json()["access_token"]
    return token


def on_a_stack(
    name: str,
    rounds: int,
    rps: tuple[str, ...],
    measure: Callable[..., dict[str, Any]],
    *sizes: int,
) -> list[dict[str, Any]]:
    """``measure(running, rp, *sizes)`` for each relying party in ``rounds`` interleaved
    rounds, on one new stack."""
    with (
        tempfile.TemporaryDirectory(prefix=f"logto-{name}-") as directory,
        stack(Path(directory)) as running,
    ):
        return interleaved(rounds, rps, lambda rp: measure(running, rp, *sizes))


def hammer(url: str, token: str, total: int, concurrency: int) -> float:
    """``ab``'s requests per second for ``total`` GETs of ``url`` with the bearer token;
    any failed or non-2xx answer stops the benchmark."""
    header = f"Authorization: Bearer {token}"
    command = ["ab", "-q", "-k", "-n", str(total), "-c", str(concurrency), "-H", header, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if (failed and int(failed[1])) or non_2xx:
        raise RuntimeError(f"ab saw failures:\n{out}")
    rate = re.search(r"Requests per second:\s+([\d.]+)", out)
    assert rate, out
    return float(rate[1])


def measure(running: Stack, rp: str, total: int, concurrency: int) -> dict[str, Any]:
    """Per target (balancer, gunicorn alone, uvicorn alone): rate and CPU ms per request."""
    running.start("mozilla" if rp == "ceiling" else rp)
    token = "none" if rp == "ceiling" else access_token(running, rp)
    api = CEILING if rp == "ceiling" else PATHS[rp][2]
    targets = {
        "balancer": running.origin,
        "gunicorn": f"http://127.0.0.1:{running.wsgi_port}",
        "uvicorn": f"http://127.0.0.1:{running.asgi_port}",
    }
    hammer(running.origin + api, token, 200, concurrency)  # warm: imports, keys, pools
    figures: dict[str, Any] = {}
    for target, origin in targets.items():
        pids = processes(running)
        before = {name: cpu_seconds(found) for name, found in pids.items()}
        rate = hammer(origin + api, token, total, concurrency)
        spent = {
            name: (cpu_seconds(found) - before[name]) * 1000 / total for name, found in pids.items()
        }
        figures[target] = {"rate": rate, "cpu_ms": spent}
    return figures


def report(rounds: list[dict[str, Any]], total: int, concurrency: int) -> list[str]:
    def median(rp: str, target: str, *keys: str) -> float:
        return median_of(rounds, rp, target, *keys)

    targets = ("balancer", "gunicorn", "uvicorn")
    rates = []
    for target in targets:
        ours, theirs, ceiling = (median(rp, target, "rate") for rp in RPS)
        rates.append(
            [
                target,
                *(f"{rate:.0f}" for rate in (ours, theirs, ceiling)),
                f"{ours / theirs:.2f}x",
                f"{ceiling / theirs:.2f}x",
            ]
        )
    names = list(rounds[0]["logto"]["balancer"]["cpu_ms"])
    costs = []
    for rp in RPS:
        for target in targets:
            spent = [median(rp, target, "cpu_ms", name) for name in names]
            costs.append(
                [NAMES[rp], target, *(f"{value:.2f}" for value in spent), f"{sum(spent):.2f}"]
            )
    return [
        f"Bearer API (DRF), {total} requests, {concurrency} at a time (`ab`, keep-alive); "
        f"medians of {len(rounds)} interleaved round(s).",
        "",
        *markdown_table(
            [
                "target",
                "django-logto req/s",
                "mozilla req/s",
                "no authentication req/s",
                "ratio",
                "ceiling ratio",
            ],
            rates,
        ),
        "",
        "CPU milliseconds per request, by process (all requests, whichever served them):",
        "",
        *markdown_table(["relying party", "target", *names, "total"], costs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    if not shutil.which("ab"):
        sys.exit("ab is missing: apt-get install apache2-utils")
    sizes = (arguments.requests, arguments.concurrency)
    rounds = on_a_stack(
        "apicpu", arguments.rounds, RPS, lambda running, rp: measure(running, rp, *sizes)
    )
    print("\n".join(report(rounds, arguments.requests, arguments.concurrency)))


if __name__ == "__main__":
    main()
