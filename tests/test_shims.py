"""The deprecated module paths the docs once showed still resolve, for one release, with
a ``DeprecationWarning`` naming the new path."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.cache import SessionStore
from django.test import RequestFactory

from logto_auth import _bearer, decorators, mixins
from logto_auth._context import LogtoContext


def moved(old: str, name: str) -> object:
    module = importlib.import_module(f"logto_auth.{old}")
    return getattr(module, name)


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("api", "logto_token_required", decorators),
        ("api", "LogtoTokenRequiredMixin", mixins),
        ("access", "logto_role_required", decorators),
        ("access", "LogtoRoleRequiredMixin", mixins),
        ("bearer", "authorize", _bearer),
    ],
)
def test_deprecated_path_warns_and_returns_the_same_object(
    old: str, name: str, new: ModuleType
) -> None:
    message = rf"logto_auth\.{old}\.{name} is deprecated; import it from {new.__name__}$"
    with pytest.warns(DeprecationWarning, match=message):
        found = moved(old, name)

    assert found is getattr(new, name)


def test_deprecated_path_does_not_resolve_names_it_never_had() -> None:
    with pytest.raises(AttributeError):
        moved("api", "no_such_name")


@pytest.mark.parametrize(
    ("old", "new"), [("sync", "refresh_from_logto"), ("async_", "arefresh_from_logto")]
)
def test_old_names_of_the_periodic_sync_warn_and_call_the_new_one(
    old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    logto = LogtoContext(request)
    calls: list[str] = []

    async def arecord() -> None:
        calls.append(new)

    monkeypatch.setattr(logto, new, arecord if new.startswith("a") else lambda: calls.append(new))
    message = rf"request\.logto\.{old}\(\) is deprecated; call request\.logto\.{new}\(\) instead\."
    with pytest.warns(DeprecationWarning, match=message):
        async_to_sync(getattr(logto, old))() if old == "async_" else getattr(logto, old)()

    assert calls == [new]
