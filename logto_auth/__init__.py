"""Sign in to Django with Logto."""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def _moved(old: str, names: dict[str, str]) -> Callable[[str], Any]:
    """Return the module ``__getattr__`` of a deprecated path: each of ``names`` resolves
    to the same object in its new module, with a ``DeprecationWarning`` naming it."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} is deprecated; import it from {names[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(names[name]), name)

    return __getattr__
