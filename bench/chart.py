"""Draw the load test's figures (``bench/load.py --json``) as one SVG: sign-ins and signed-in
pages per second and the pages' p50/p95 latency by users, one line per relying party. Run
in ``.venv-load`` (matplotlib), as ``bench/load.py --chart`` does.

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


def median_of(runs: list[dict[str, Any]], rp: str, index: int, *keys: str) -> float:
    def value(step: dict[str, Any]) -> float:
        for key in keys:
            step = step[key]
        return float(step)  # type: ignore[arg-type]

    return statistics.median(value(run[rp][index]) for run in runs)


def draw(runs: list[dict[str, Any]], out: Path) -> None:
    steps = runs[0]["steps"]
    figure, panels = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    signins, pages, latency = panels
    for rp in NAMES:
        if rp not in runs[0]:
            continue
        indexes = range(len(steps))
        for axes, kind in ((signins, "sign-in"), (pages, "page")):
            rates = [median_of(runs, rp, i, "per_s", kind) for i in indexes]
            axes.plot(steps, rates, marker="o", color=STYLE[rp], label=NAMES[rp])
        for key, dash in (("p50", "-"), ("p95", "--")):
            values = [median_of(runs, rp, i, "by_kind", "page", key) for i in indexes]
            latency.plot(
                steps, values, dash, marker="o", color=STYLE[rp], label=f"{NAMES[rp]} {key}"
            )
    signins.set(title="Sign-ins per second", xlabel="users", ylabel="sign-ins/s")
    pages.set(title="Signed-in pages per second", xlabel="users", ylabel="pages/s")
    latency.set(title="Signed-in page latency", xlabel="users", ylabel="ms")
    for axes in panels:
        axes.set_xticks(steps)
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7)
    figure.suptitle(
        f"Median of {len(runs)} run(s), relying parties interleaved; one window per kind",
        fontsize=9,
    )
    figure.savefig(out, format="svg")


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    draw(data["runs"], Path(sys.argv[2]))
