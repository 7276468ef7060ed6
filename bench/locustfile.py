"""The load test's virtual users, run by locust in its own virtualenv (``.venv-load``).

``bench/load.py`` runs this file once per step:
``.venv-load/bin/python bench/locustfile.py '<json config>'``; it prints one JSON object.

Two modes:

- ``phases`` (the comparison): one window per kind of request, so that each is measured
  alone and a page's rate is not paced by the sign-ins beside it. First every user signs
  in again and again, each time as a fresh browser, keeping each session; then, in its
  last session, asks for signed-in pages (alternately one that reads who the user is and
  one that reads an access token for the API); then calls the API with that token as a
  bearer token and no cookie, as an API's clients do (not bare Django: it has no API);
  then signs every session it made out (not timed). A window opens once every user is at
  work on its kind (a sign-in already done, the last sign-in finished) and lasts
  ``duration`` seconds; its rate is the requests of that kind that ended inside it.
- ``flow`` (the soak): each user in a closed loop with no pause signs in, asks for PAGES
  pages, calls the API and signs out, for ``duration`` seconds; every user then finishes
  the flow under way.
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
KINDS = ("sign-in", "page", "api")
SETTLE_LIMIT = 180  # seconds a phase may wait for every user to finish the last one's work


class Results:
    """Every site request, by kind: when it ended, its time, its outcome and what it cost
    the server; sign-ins completed, users at work on each phase."""

    def __init__(self) -> None:
        self.ended: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.costs: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.signed_in: list[float] = []  # when each sign-in completed (its callback ended)
        self.at_work: Counter[str] = Counter()
        self.flows = 0

    def record(self, request_type: str, name: str, response_time: float, **kwargs: Any) -> None:
        if kwargs.get("exception") is not None:
            self.errors[f"{name}: {kwargs['exception']}"[:200]] += 1
        started = kwargs.get("start_time") or time.time()
        self.ended[name].append((started + response_time / 1000, response_time))
        response = kwargs.get("response")
        if response is not None:
            for header in ("Queries", "Redis", "Provider"):
                self.costs[name][header.lower()] += int(
                    response.headers.get(f"X-Bench-{header}", 0)
                )


results = Results()
events.request.add_listener(results.record)
state = {"phase": "sign-in"}


class Browser(HttpUser):  # type: ignore[misc]
    wait_time = constant(0)
    host = CONFIG.get("host", "")

    def on_start(self) -> None:
        self.paths = PATHS[CONFIG["rp"]]
        self.provider = DevProvider()
        self.provider.url = CONFIG["provider"]
        self.at_provider = requests.Session()
        # A browser's pages at the provider, each on a new connection: the provider (Node)
        # closes an idle one after 5 s, and a request written as it closes would fail here,
        # in the driver, not in the sites measured.
        self.at_provider.headers["Connection"] = "close"
        self.sessions: list[Any] = []  # the cookies of each session this user signed in
        self.phase = ""
        self.pages = 0
        self.token = ""

    def on_stop(self) -> None:
        self.at_provider.close()

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
    def work(self) -> None:
        try:
            if CONFIG["mode"] == "flow":
                self.flow()
            else:
                self.phases()
        except Exception as error:  # one broken request is an error, not the end of the user
            where = "flow" if CONFIG["mode"] == "flow" else state["phase"]
            results.errors[f"{where}: {type(error).__name__}: {error}"[:200]] += 1

    def phases(self) -> None:
        phase = state["phase"]
        if self.phase == "done":
            gevent.sleep(0.2)  # signed out of everything: idle until stopped
            return
        if phase != self.phase:
            if phase != "sign-in" and not self.sessions:
                self.sign_in()  # every user has a session before the pages begin
            if phase == "api":  # an API client holds a token, not the site's cookies
                self.client.cookies = requests.cookies.RequestsCookieJar()
            self.phase = phase
            results.at_work[phase] += 1
        if phase == "sign-in":
            self.sign_in()
        elif phase == "page":
            self.page()
        elif phase == "api":
            headers = {"Authorization": f"Bearer {self.token}"}
            self.expect("GET", self.paths["api"], "api", 200, headers=headers)
        elif phase == "drain":
            for cookies in self.sessions:
                self.client.cookies = cookies
                self.sign_out()
            self.sessions.clear()
            self.phase = "done"
            results.at_work["done"] += 1

    def page(self) -> None:
        path = self.paths["pages"][self.pages % 2]
        self.pages += 1
        answer = self.expect("GET", path, "page", 200)
        if answer.ok:
            self.token = answer.json().get("access_token", self.token)

    def flow(self) -> None:
        self.sign_in()
        for _ in range(CONFIG["pages"]):
            self.page()
        if self.paths["api"]:
            headers = {"Authorization": f"Bearer {self.token}"}
            self.expect("GET", self.paths["api"], "api", 200, headers=headers)
        self.sign_out()
        self.sessions.clear()
        results.flows += 1

    def sign_in(self) -> None:
        """Sign in as a fresh browser; keep the session's cookies for the sign-out."""
        self.client.cookies = requests.cookies.RequestsCookieJar()
        self.at_provider.cookies.clear()
        if CONFIG["rp"] == "bare":  # two requests, as the others: the form, then the post
            self.expect("GET", self.paths["sign_in"], "sign-in", 200)
            csrf = {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}
            done = self.expect(
                "POST", self.paths["sign_in"], "sign-in", 302, data=BARE_USER, headers=csrf
            )
        else:
            start = self.expect("GET", self.paths["sign_in"], "sign-in", 302)
            back = self.provider.authorize(
                start.headers["Location"], "alice", http=self.at_provider
            )
            done = self.expect("GET", back.removeprefix(self.host), "sign-in", 302)
        if done.status_code == 302:
            results.signed_in.append(time.time())
            self.sessions.append(self.client.cookies)

    def sign_out(self) -> None:
        if "csrftoken" not in self.client.cookies:  # a session that never showed a page
            self.expect("GET", self.paths["pages"][0], "page-before-sign-out", 200)
        csrf = self.client.cookies.get("csrftoken", "")
        headers = {"X-CSRFToken": csrf, "Referer": f"{self.host}/"}
        answer = self.expect("POST", self.paths["sign_out"], "sign-out", 302, headers=headers)
        location = answer.headers.get("Location", "")
        if location.startswith(self.provider.url):  # Logto's end-session page, then home
            self.provider.end_session(location, http=self.at_provider)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def wait_for(condition: Any, limit: float = SETTLE_LIMIT) -> None:
    deadline = time.time() + limit
    while not condition() and time.time() < deadline:
        gevent.sleep(0.1)


def run_phases(users: int, duration: float) -> dict[str, tuple[float, float]]:
    """Switch the users from phase to phase; return each kind's window (start, end)."""
    windows = {}
    kinds = KINDS if PATHS[CONFIG["rp"]]["api"] else KINDS[:2]
    for kind in kinds:
        state["phase"] = kind
        if kind == "sign-in":  # steady state: every user has completed a sign-in
            wait_for(lambda: len(results.signed_in) >= users)
        else:
            wait_for(lambda kind=kind: results.at_work[kind] >= users)
        opened = time.time()
        gevent.sleep(duration)
        windows[kind] = (opened, time.time())
    state["phase"] = "drain"
    wait_for(lambda: results.at_work["done"] >= users)
    return windows


def main() -> None:
    environment = Environment(user_classes=[Browser], events=events, stop_timeout=120)
    runner = environment.create_local_runner()
    started = time.time()
    users, duration = CONFIG["users"], CONFIG["duration"]
    runner.start(users, spawn_rate=users)
    if CONFIG["mode"] == "flow":
        gevent.sleep(duration)
        windows = {kind: (started, started + duration) for kind in KINDS}
    else:
        windows = run_phases(users, duration)
    runner.stop()  # in flow mode each user finishes its flow (stop_timeout)
    runner.greenlet.join(timeout=5) if runner.greenlet else None

    def inside(kind: str) -> list[float]:
        opened, closed = windows.get(kind, (0.0, 0.0))
        return [took for ended, took in results.ended[kind] if opened <= ended <= closed]

    def per_second(kind: str) -> float:
        opened, closed = windows.get(kind, (0.0, 0.0))
        if kind == "sign-in":
            done = sum(1 for ended in results.signed_in if opened <= ended <= closed)
        else:
            done = len(inside(kind))
        return done / (closed - opened) if closed > opened else 0.0

    summary = {
        "users": users,
        "rp": CONFIG["rp"],
        "mode": CONFIG["mode"],
        "seconds": time.time() - started,
        "window": duration,
        "flows": results.flows,
        "sign_ins": len(results.signed_in),
        "requests": {kind: len(ended) for kind, ended in results.ended.items()},
        "costs": {kind: dict(costs) for kind, costs in results.costs.items()},
        "errors": dict(results.errors),
        "per_s": {kind: per_second(kind) for kind in KINDS},
        "by_kind": {
            kind: {
                "p50": percentile(inside(kind), 0.50),
                "p95": percentile(inside(kind), 0.95),
                "p99": percentile(inside(kind), 0.99),
            }
            for kind in KINDS
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
