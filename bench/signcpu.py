"""Sign-ins under the load test's topology, process by process: sign-ins per second and the
CPU each process spends per sign-in, django-logto against mozilla-django-oidc.

The load test's stack (``bench/load.py``: nginx round robin → gunicorn with 2 sync workers
and uvicorn, PostgreSQL, Redis, the dev provider). THREADS browsers in this process sign
alice in over and over (the sign-in's start, the provider's login pages, the callback: the
load test's sign-in window), SIGN_INS in all per relying party and round; the CPU time of
each server process (``/proc/<pid>/stat``) is divided by the sign-ins. The provider's
share includes its login pages, which the browsers ask for. Rounds interleave the relying
parties; the figures are their medians.

Usage: .venv/bin/python bench/signcpu.py [--sign-ins 400] [--threads 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.apicpu import cpu_seconds, on_a_stack, processes, sign_in  # noqa: E402
from bench.common import markdown_table, median_of  # noqa: E402
from bench.load import NAMES, Stack  # noqa: E402

RPS = ("logto", "mozilla")
WARM_UP = 40


def sign_ins(running: Stack, rp: str, total: int, threads: int) -> None:
    failures: list[BaseException] = []

    def browse(count: int) -> None:
        try:
            for _ in range(count):
                sign_in(running, rp)
        except BaseException as error:  # reported below: a failed sign-in ends the benchmark
            failures.append(error)

    workers = [threading.Thread(target=browse, args=(total // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise RuntimeError(f"sign-ins failed: {failures[0]!r}")


def measure(running: Stack, rp: str, total: int, threads: int) -> dict[str, Any]:
    running.start(rp)
    sign_ins(running, rp, WARM_UP, threads)  # imports, keys, pools, connections
    pids = processes(running)
    before = {name: cpu_seconds(found) for name, found in pids.items()}
    started = time.monotonic()
    sign_ins(running, rp, total, threads)
    took = time.monotonic() - started
    done = total // threads * threads
    spent = {name: (cpu_seconds(pids[name]) - before[name]) * 1000 / done for name in pids}
    return {"rate": done / took, "cpu_ms": spent}


def report(rounds: list[dict[str, Any]], total: int, threads: int) -> list[str]:
    names = list(rounds[0]["logto"]["cpu_ms"])
    rows = []
    for rp in RPS:
        spent = [median_of(rounds, rp, "cpu_ms", name) for name in names]
        rows.append(
            [
                NAMES[rp],
                f"{median_of(rounds, rp, 'rate'):.1f}",
                *(f"{value:.2f}" for value in spent),
                f"{sum(spent):.2f}",
            ]
        )
    return [
        f"Sign-ins, {total} per relying party and round by {threads} browsers; medians of "
        f"{len(rounds)} interleaved round(s). CPU milliseconds per sign-in, by process:",
        "",
        *markdown_table(["relying party", "sign-ins/s", *names, "total"], rows),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sign-ins", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    sizes = (arguments.sign_ins, arguments.threads)
    rounds = on_a_stack(
        "signcpu", arguments.rounds, RPS, lambda running, rp: measure(running, rp, *sizes)
    )
    print("\n".join(report(rounds, arguments.sign_ins, arguments.threads)))


if __name__ == "__main__":
    main()
