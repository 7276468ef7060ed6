"""The load test's virtual users, run by locust in its own virtualenv (``.venv-load``).

``bench/load.py`` runs this file once per step:
``.venv-load/bin/python bench/locustfile.py '<json config>'``; it prints one JSON object.

Each user, in a loop and with no pause (a closed loop), plays a fresh browser: signs in
on the provider's login form, asks for PAGES signed-in pages (alternately one that reads
who the user is and one that reads an access token for the API), calls the API with that
token as a bearer token, and signs out. When the step's time is up every user finishes
the flow under way, so each count covers whole flows.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task  # monkey-patches the standard library
from locust.env import Environment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402
import requests  # noqa: E402

from tests.devprovider import DevProvider  # noqa: E402

CONFIG: dict[str, Any] = json.loads(sys.argv[1]) if __name__ == "__main__" else {}
# What each relying party's flow asks for; same shape on both sides.
PATHS: dict[str, dict[str, Any]] = {
    "logto": {
        "sign_in": "/logto/sign-in/",
        "pages": ("/bench/claims/", "/bench/token/"),
        "api": "/api/drf/me/",
        "sign_out": "/logto/sign-out/",
    },
    "mozilla": {
        "sign_in": "/oidc/authenticate/",
        "pages": ("/bench/mozilla-claims/", "/bench/mozilla-token/"),
        "api": "/bench/mozilla-drf/",
        "sign_out": "/oidc/logout/",
    },
    # Django alone: its password login, the same "who am I" page twice, no API.
    "bare": {
        "sign_in": "/bench/bare-sign-in/",
        "pages": ("/bench/mozilla-claims/", "/bench/mozilla-claims/"),
        "api": None,
        "sign_out": "/bench/bare-sign-out/",
    },
}
BARE_USER = {"username": "bare-alice", "password": "bare-alice-password"}


class Results:
    """Every site request, by kind: its time, its outcome and what it cost the server."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.started: dict[str, list[float]] = defaultdict(list)
        self.costs: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.flows = 0

    def record(self, request_type: str, name: str, response_time: float, **kwargs: Any) -> None:
        kind = name
        self.times[kind].append(response_time)
        self.started[kind].append(kwargs.get("start_time") or time.time())
        if kwargs.get("exception") is not None:
            self.errors[f"{kind}: {kwargs['exception']}"[:200]] += 1
        response = kwargs.get("response")
        if response is not None:
            for header in ("Queries", "Redis", "Provider"):
                self.costs[kind][header.lower()] += int(
                    response.headers.get(f"X-Bench-{header}", 0)
                )


results = Results()
events.request.add_listener(results.record)


class Browser(HttpUser):  # type: ignore[misc]
    wait_time = constant(0)
    host = CONFIG.get("host", "")

    def on_start(self) -> None:
        self.paths = PATHS[CONFIG["rp"]]
        self.provider = DevProvider()
        self.provider.url = CONFIG["provider"]

    def expect(self, method: str, path: str, kind: str, status: int, **kwargs: Any) -> Any:
        with self.client.request(
            method, path, name=kind, allow_redirects=False, catch_response=True, **kwargs
        ) as response:
            if response.status_code != status:
                response.failure(f"{response.status_code} (expected {status})")
            else:
                response.success()
            return response

    @task  # type: ignore[untyped-decorator]
    def flow(self) -> None:
        self.client.cookies.clear()  # a new browser: nothing from the last flow
        at_provider = requests.Session()
        try:
            self.sign_in(at_provider)
            token = ""
            for number in range(CONFIG["pages"]):
                page = self.paths["pages"][number % 2]
                answer = self.expect("GET", page, "page", 200)
                token = answer.json().get("access_token", token) if answer.ok else token
            if self.paths["api"]:
                headers = {"Authorization": f"Bearer {token}"}
                self.expect("GET", self.paths["api"], "api", 200, headers=headers)
            self.sign_out(at_provider)
            results.flows += 1
        except Exception as error:  # one broken flow is an error, not the end of the user
            results.errors[f"flow: {type(error).__name__}: {error}"[:200]] += 1
        finally:
            at_provider.close()

    def sign_in(self, at_provider: requests.Session) -> None:
        if CONFIG["rp"] == "bare":  # two requests, as the others: the form, then the post
            self.expect("GET", self.paths["sign_in"], "sign-in", 200)
            csrf = {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}
            self.expect("POST", self.paths["sign_in"], "sign-in", 302, data=BARE_USER, headers=csrf)
            return
        start = self.expect("GET", self.paths["sign_in"], "sign-in", 302)
        back = self.provider.authorize(start.headers["Location"], "alice", http=at_provider)
        callback = back.removeprefix(self.host)
        self.expect("GET", callback, "sign-in", 302)

    def sign_out(self, at_provider: requests.Session) -> None:
        csrf = self.client.cookies.get("csrftoken", "")
        headers = {"X-CSRFToken": csrf, "Referer": f"{self.host}/"}
        answer = self.expect("POST", self.paths["sign_out"], "sign-out", 302, headers=headers)
        location = answer.headers.get("Location", "")
        if location.startswith(self.provider.url):  # Logto's end-session page, then home
            self.provider.end_session(location, http=at_provider)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    environment = Environment(user_classes=[Browser], events=events, stop_timeout=120)
    runner = environment.create_local_runner()
    started = time.time()
    runner.start(CONFIG["users"], spawn_rate=CONFIG["users"])
    gevent.sleep(CONFIG["duration"])
    runner.stop()  # each user finishes its flow (stop_timeout)
    runner.greenlet.join(timeout=5) if runner.greenlet else None
    ended = time.time()
    window = CONFIG["duration"]
    signed_in = results.times["page"] + results.times["api"]
    summary = {
        "users": CONFIG["users"],
        "rp": CONFIG["rp"],
        "seconds": ended - started,
        "flows": results.flows,
        "requests": {kind: len(times) for kind, times in results.times.items()},
        "costs": {kind: dict(costs) for kind, costs in results.costs.items()},
        "errors": dict(results.errors),
        # Rates over the step's own window, not the drain after it.
        "sign_ins_per_s": sum(1 for t in results.started["sign-in"] if t <= started + window)
        / 2
        / window,
        "signed_in_per_s": sum(
            1 for kind in ("page", "api") for t in results.started[kind] if t <= started + window
        )
        / window,
        "p50": percentile(signed_in, 0.50),
        "p95": percentile(signed_in, 0.95),
        "p99": percentile(signed_in, 0.99),
        "by_kind": {
            kind: {"p50": percentile(times, 0.50), "p95": percentile(times, 0.95)}
            for kind, times in results.times.items()
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
