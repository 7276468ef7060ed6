"""What running one SDK coroutine costs, on a coroutine that does nothing but yield once,
so that only the bridge is measured, rounds interleaved. From sync code: asgiref's
``async_to_sync`` (a new thread, event loop and executor per call, as before 0.3) against
the process's one loop thread (``_http.pool``). From async code: awaiting it on the
server's own loop against the hop to the pool's loop (where the process's one keep-alive
HTTP session lives, so ASGI requests take this hop).

Usage: .venv/bin/python bench/bridge.py [ROUNDS] [CALLS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from asgiref.sync import async_to_sync  # noqa: E402

from logto_auth._http import _Pool  # noqa: E402


async def nothing() -> int:
    await asyncio.sleep(0)
    return 1


def per_call(calls: int, run: object) -> float:
    """Microseconds per call of ``run(nothing)``."""
    started = time.perf_counter()
    for _ in range(calls):
        run(nothing)  # type: ignore[operator]
    return (time.perf_counter() - started) / calls * 1e6


async def aper_call(calls: int, hop: bool, pool: _Pool) -> float:
    """Microseconds per call of ``nothing`` awaited here, or on the pool's loop."""
    started = time.perf_counter()
    for _ in range(calls):
        if hop:
            await pool.arun(nothing())
        else:
            await nothing()
    return (time.perf_counter() - started) / calls * 1e6


def main(rounds: int = 5, calls: int = 300) -> dict[str, float]:
    pool = _Pool()
    bridges = {
        "async_to_sync": lambda f: async_to_sync(f)(),
        "SDK loop thread": lambda f: pool.run(f()),
    }
    times: dict[str, list[float]] = {name: [] for name in [*bridges, "awaited", "hop"]}
    for _ in range(rounds):
        for name, run in bridges.items():
            times[name].append(per_call(calls, run))
        times["awaited"].append(asyncio.run(aper_call(calls, False, pool)))
        times["hop"].append(asyncio.run(aper_call(calls, True, pool)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["async_to_sync"] / medians["SDK loop thread"]
    print(f"Running a coroutine from sync code, median of {rounds} rounds of {calls} calls:")
    for name in bridges:
        print(f"  {name:<16} {medians[name]:8.1f} us per call")
    print(f"  the SDK loop thread is {ratio:.1f}x faster (target >= 2)")
    print("From async code:")
    print(f"  {'awaited on the server loop':<34} {medians['awaited']:8.1f} us per call")
    print(f"  {'on the pool loop (one session)':<34} {medians['hop']:8.1f} us per call")
    print(f"  the hop costs {medians['hop'] - medians['awaited']:.1f} us per SDK call")
    return {**medians, "ratio": ratio}


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
