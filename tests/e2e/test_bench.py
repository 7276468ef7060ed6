"""The benchmark report at its smallest (``bench/report.py --short``), as CI runs it, so
the benchmarks cannot rot: every count holds (provider calls, errors, queries, what is
left behind); no time is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.devprovider import ROOT
from tests.services import require_services

# The short report runs every benchmark once (the load test: three windows per relying
# party), about two minutes on a busy 2-core machine: beyond the suite's default timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def run_short_report(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    figures = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "bench/report.py", "--short", "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return done.stdout, json.loads(figures.read_text())


@pytest.fixture(scope="module")
def short_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    require_services()
    if os.geteuid() != 0 and not any(
        Path(folder, "nginx").exists() for folder in ("/usr/sbin", "/usr/bin")
    ):
        pytest.skip("nginx is missing and cannot be installed without root")
    return run_short_report(tmp_path_factory.mktemp("bench"))


def test_short_report_prints_every_section(short_report: tuple[str, dict[str, Any]]) -> None:
    text, _ = short_report

    assert text.startswith("# django-logto benchmark report (short)")
    for section in ("Sign-in and the periodic sync", "API tokens", "Middleware", "Load", "Growth"):
        assert f"## {section}" in text


def test_sign_in_api_and_middleware_counts(short_report: tuple[str, dict[str, Any]]) -> None:
    _, figures = short_report
    signin, api, stack = figures["signin"], figures["api"], figures["stack"]

    assert signin["sign_in"]["django-logto (warm process)"] == 1
    assert signin["per_request"] == 0
    assert signin["per_hour"] <= 3600 // signin["interval"]
    assert api["ours"] == 0
    assert api["theirs"] == api["requests"]
    assert stack["queries"]["ours"] == stack["queries"]["bare"]


def test_load_without_errors_and_with_the_expected_provider_calls(
    short_report: tuple[str, dict[str, Any]],
) -> None:
    _, figures = short_report
    load = figures["load"]

    for rp in ("logto", "mozilla", "bare"):
        for step in load[rp]:
            assert step["errors"] == {}, (rp, step["errors"])
            assert step["sign_ins"] >= step["users"]
            # A window per kind: each measured something.
            assert step["per_s"]["sign-in"] > 0
            assert step["per_s"]["page"] > 0
            assert (step["per_s"]["api"] > 0) == (rp != "bare")
            # Every session signed out: nothing is left in the session index.
            assert step["left"]["logto_sessions"] == 0
    [ours] = load["logto"]
    [theirs] = load["mozilla"]
    assert ours["costs"]["sign-in"]["provider"] == ours["sign_ins"]  # the code for tokens
    assert ours["costs"]["api"]["provider"] == 0
    # The first token for the API in a session comes from the provider, then no more:
    # each user asks for pages in one session.
    assert ours["costs"]["page"]["provider"] == ours["users"]
    # A bearer token costs no provider call and no session, and its user is read once per
    # LOGTO['API_USER_MAX_AGE'] (5 s, longer than the window) in each of the 3 servers.
    assert ours["costs"]["api"]["queries"] <= 3 * ours["users"] < ours["requests"]["api"]
    assert ours["costs"]["api"].get("redis", 0) == 0
    assert theirs["costs"]["api"]["provider"] == theirs["requests"]["api"]  # userinfo each time


def test_ending_sessions_leaves_nothing_and_the_index_stays_bounded(
    short_report: tuple[str, dict[str, Any]],
) -> None:
    _, figures = short_report
    ends = figures["growth"]["ends"]

    assert all(end["left"] == 0 for end in ends)
    # Ending one Logto session costs the same whatever else the user has open.
    assert len({end["sid_queries"] for end in ends}) == 1
    assert figures["growth"]["pruning"]["after"] == 1
