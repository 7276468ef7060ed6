"""The deprecated module paths the docs once showed still resolve, for one release, with
a ``DeprecationWarning`` naming the new path."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from logto_auth import _bearer, decorators, mixins


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
