"""Deprecated: the bearer-token policy is internal now. Import from the new modules named
below; this path goes in the next minor release."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED = {
    "authorize": "logto_auth._bearer",
}


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = _MOVED[name]
    warnings.warn(
        f"{__name__}.{name} is deprecated; import it from {new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(new), name)
