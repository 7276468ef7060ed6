"""Draw the load test's figures (``bench/load.py --json``) as one SVG: signed-in requests per
second and p50/p95 latency by users, one line per relying party. Run in ``.venv-load``
(matplotlib), as ``bench/load.py --chart`` does.

Usage: .venv-load/bin/python bench/chart.py RESULTS.json OUT.svg
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = {"logto": "django-logto", "mozilla": "mozilla-django-oidc", "bare": "bare Django"}
STYLE = {"logto": "#5d4fdb", "mozilla": "#d1242f", "bare": "#656d76"}


def median_of(runs: list[dict[str, Any]], rp: str, index: int, key: str) -> float:
    return statistics.median(float(run[rp][index][key]) for run in runs)


def draw(runs: list[dict[str, Any]], out: Path) -> None:
    steps = runs[0]["steps"]
    figure, (rate, latency) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for rp in NAMES:
        if rp not in runs[0]:
            continue
        throughput = [median_of(runs, rp, i, "signed_in_per_s") for i in range(len(steps))]
        rate.plot(steps, throughput, marker="o", color=STYLE[rp], label=NAMES[rp])
        for key, dash in (("p50", "-"), ("p95", "--")):
            values = [median_of(runs, rp, i, key) for i in range(len(steps))]
            latency.plot(
                steps, values, dash, marker="o", color=STYLE[rp], label=f"{NAMES[rp]} {key}"
            )
    rate.set(title="Signed-in requests per second", xlabel="users", ylabel="req/s")
    latency.set(title="Signed-in request latency", xlabel="users", ylabel="ms")
    for axes in (rate, latency):
        axes.set_xticks(steps)
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
    rate.legend(fontsize=8)
    latency.legend(fontsize=7)
    figure.suptitle(f"Median of {len(runs)} run(s), relying parties interleaved", fontsize=9)
    figure.savefig(out, format="svg")


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    draw(data["runs"], Path(sys.argv[2]))
