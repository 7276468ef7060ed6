"""What running one SDK coroutine from sync code costs: asgiref's ``async_to_sync`` (a new
thread, event loop and executor per call, as before 0.3) against the process's one SDK
loop thread (``_sdk._LoopThread``), rounds interleaved, on a coroutine that does nothing
but yield once, so that only the bridge is measured.

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

from logto_auth._sdk import _LoopThread  # noqa: E402


async def nothing() -> int:
    await asyncio.sleep(0)
    return 1


def per_call(calls: int, run: object) -> float:
    """Microseconds per call of ``run(nothing)``."""
    started = time.perf_counter()
    for _ in range(calls):
        run(nothing)  # type: ignore[operator]
    return (time.perf_counter() - started) / calls * 1e6


def main(rounds: int = 5, calls: int = 300) -> dict[str, float]:
    loop = _LoopThread()
    bridges = {
        "async_to_sync": lambda f: async_to_sync(f)(),
        "SDK loop thread": lambda f: loop.run(f()),
    }
    times: dict[str, list[float]] = {name: [] for name in bridges}
    for _ in range(rounds):
        for name, run in bridges.items():
            times[name].append(per_call(calls, run))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["async_to_sync"] / medians["SDK loop thread"]
    print(f"Running a coroutine from sync code, median of {rounds} rounds of {calls} calls:")
    for name, value in medians.items():
        print(f"  {name:<16} {value:8.1f} us per call")
    print(f"  the SDK loop thread is {ratio:.1f}x faster (target >= 2)")
    return {**medians, "ratio": ratio}


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
