"""What one SDK token request costs the calling process, from sync code: CPU and wall time
per refresh-token request, three ways, rounds interleaved, against a local HTTP server (in
a process of its own) that answers at once, so that only the client's side is measured:

- the SDK's own ``OidcCore`` through asgiref's ``async_to_sync`` (a thread, an event loop
  and an ``aiohttp`` session, so a connection, per call: the SDK used plainly);
- one ``aiohttp`` keep-alive session on an event loop in a thread of its own, which sync
  code waits for (how django-logto sent them before 0.4);
- django-logto: ``_sdk._run`` on ``_PooledOidcCore``, the coroutine run to its end in the
  calling thread, on a kept connection (``_http.send`` over ``_connections``).

Usage: .venv/bin/python bench/bridge.py [ROUNDS] [CALLS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import aiohttp  # noqa: E402
import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from logto.OidcCore import OidcCore  # noqa: E402

from logto_auth import _sdk  # noqa: E402
from tests.test_http import core_at  # noqa: E402

SERVER = (
    "import sys, django\n"
    "django.setup()\n"
    "from tests.test_http import ScriptedServer\n"
    "server = ScriptedServer()\n"
    "print(server.url, flush=True)\n"
    "sys.stdin.read()\n"
)
ARGS = ("app", "secret", "refresh-1", "http://127.0.0.1:8000/api")


class LoopThread:
    """The former design: one loop in a daemon thread, one keep-alive session on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.session: aiohttp.ClientSession | None = None

    async def _post(self, url: str, data: dict[str, str]) -> Any:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        async with asyncio.timeout(5), self.session.post(url, data=data) as answer:
            return await answer.json()

    def post(self, url: str, data: dict[str, str]) -> Any:
        return asyncio.run_coroutine_threadsafe(self._post(url, data), self.loop).result()

    def close(self) -> None:
        if self.session is not None:
            asyncio.run_coroutine_threadsafe(self.session.close(), self.loop).result()


def per_call(calls: int, call: Any) -> tuple[float, float]:
    """CPU and wall microseconds per ``call()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    return (
        (time.process_time() - cpu) / calls * 1e6,
        (time.perf_counter() - wall) / calls * 1e6,
    )


def main(rounds: int = 5, calls: int = 300) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    url = server.stdout.readline().decode().strip()
    try:
        ours = core_at(url)
        plain = OidcCore(ours.metadata)
        loop = LoopThread()
        names = ("client_id", "client_secret", "refresh_token", "resource")
        data = {"grant_type": "refresh_token", **dict(zip(names, ARGS, strict=True))}
        ways: dict[str, Callable[[], Any]] = {
            "SDK plainly (async_to_sync)": lambda: async_to_sync(plain.fetchTokenByRefreshToken)(
                *ARGS
            ),
            "loop thread + aiohttp session": lambda: loop.post(ours.metadata.token_endpoint, data),
            "django-logto (inline, kept)": lambda: _sdk._run(ours.fetchTokenByRefreshToken, *ARGS),
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for way in ways.values():
            way()  # warm: imports, connections
        for _ in range(rounds):
            for name, way in ways.items():
                times[name].append(per_call(calls, way))
        loop.close()
    finally:
        server.terminate()
    medians = {
        name: (statistics.median(c for c, _ in got), statistics.median(w for _, w in got))
        for name, got in times.items()
    }
    ours_cpu = medians["django-logto (inline, kept)"][0]
    print(f"One token request from sync code, medians of {rounds} rounds of {calls} calls:")
    for name, (cpu, wall) in medians.items():
        print(f"  {name:<32} {cpu:7.1f} us CPU {wall:7.1f} us wall  {cpu / ours_cpu:4.1f}x ours")
    return {name: cpu for name, (cpu, _) in medians.items()}


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
