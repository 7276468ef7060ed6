"""The users of bearer tokens, remembered per process for ``LOGTO['API_USER_MAX_AGE']``: an
API client's burst of requests reads its user from the database once, each request still
gets a user object of its own, and a change to the user reaches the API at once when saved
in this process, within the max age when saved by another."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logto_auth import _api_users, _memo
from logto_auth.models import LogtoIdentity
from tests.conftest import Site
from tests.test_api import access_token, bearer

pytestmark = [pytest.mark.usefixtures("hostile_provider"), pytest.mark.urls("tests.api_urls")]

SUB = "erin00000001"


@pytest.fixture(params=["wsgi", "asgi"])
def api(request: pytest.FixtureRequest, db: None) -> Site:
    return Site(request.param)


@pytest.fixture
def erin(db: None) -> User:
    user = User.objects.create_user("erin")
    LogtoIdentity.objects.create(user=user, sub=SUB)
    return user


def whoami(site: Site, path: str = "/t/drf/", sub: str = SUB) -> tuple[str | None, int]:
    """The username the API answers for a token of ``sub``, and the queries it cost."""
    with CaptureQueriesContext(connection) as captured:
        response = site.get(path, **bearer(access_token(sub=sub)))
    assert response.status_code == 200, response.content
    return response.json()["username"], len(captured)


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the memory's clock ``seconds`` on."""
    now = time.time() + seconds
    monkeypatch.setattr(_memo, "time", SimpleNamespace(time=lambda: now))


@pytest.mark.parametrize("path", ["/t/drf/", "/t/bare/", "/t/async/"])
def test_a_burst_of_requests_reads_the_user_once(api: Site, erin: User, path: str) -> None:
    assert [whoami(api, path) for _ in range(3)] == [("erin", 1), ("erin", 0), ("erin", 0)]


def test_with_no_max_age_every_request_reads_the_user(api: Site, erin: User, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_USER_MAX_AGE": 0}

    assert [whoami(api) for _ in range(3)] == [("erin", 1)] * 3


def test_the_user_is_read_again_after_the_max_age(
    api: Site, erin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert whoami(api) == ("erin", 1)
    later(monkeypatch, 4.9)
    assert whoami(api) == ("erin", 0)
    later(monkeypatch, 5.1)
    assert whoami(api) == ("erin", 1)


def test_a_user_deactivated_in_this_process_loses_api_access_at_once(api: Site, erin: User) -> None:
    assert whoami(api) == ("erin", 1)

    erin.is_active = False
    erin.save(update_fields=["is_active"])

    assert whoami(api) == (None, 1)


def test_a_user_whose_identity_is_deleted_here_is_anonymous_at_once(api: Site, erin: User) -> None:
    assert whoami(api) == ("erin", 1)

    LogtoIdentity.objects.get(sub=SUB).delete()

    assert whoami(api) == (None, 1)


def test_a_user_deactivated_by_another_process_loses_api_access_within_the_max_age(
    api: Site, erin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert whoami(api) == ("erin", 1)

    # An update sends no signal: this process hears of it as of another process's save.
    User.objects.filter(pk=erin.pk).update(is_active=False)

    assert whoami(api) == ("erin", 0)  # the documented delay, at most the max age
    later(monkeypatch, 5.1)
    assert whoami(api) == (None, 1)


def test_each_request_gets_a_user_object_of_its_own(api: Site, erin: User) -> None:
    token = bearer(access_token(sub=SUB))
    # The first reads the user from the database; the next two take it from the memory.
    assert api.get("/t/mark/", **token).json() == {"had_mark": False, "can": False}
    assert api.get("/t/mark/", **token).json() == {"had_mark": False, "can": False}

    # Granted without saving the user: only a fresh permission cache can see it.
    erin.user_permissions.add(Permission.objects.get(codename="view_group"))

    assert api.get("/t/mark/", **token).json() == {"had_mark": False, "can": True}


def test_the_users_remembered_are_bounded(api: Site, erin: User, settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "API_TOKEN_CACHE_SIZE": 1}
    frank = User.objects.create_user("frank")
    LogtoIdentity.objects.create(user=frank, sub="frank0000001")

    assert whoami(api) == ("erin", 1)
    assert whoami(api, sub="frank0000001") == ("frank", 1)

    assert len(_api_users.recent) == 1
    assert whoami(api) == ("erin", 1)
