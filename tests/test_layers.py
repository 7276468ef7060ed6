"""The module map: each module of logto_auth imports only modules on lower floors, so
there are no import circles and the bottom never depends on the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "logto_auth"
FLOORS = [
    {"conf", "exceptions", "models"},
    {"sessions", "signals", "_http", "_errors"},
    {"storage", "_provider", "backends"},
    {"tokens", "checks"},
    {"sdk", "claims", "_bearer", "_notifications", "preflight"},
    {"renewal", "flow", "decorators"},
    {"context", "drf", "views", "mixins"},
    {"middleware", "sites", "urls", "admin", "apps"},
]
# Deprecated shims (one release): they import nothing at module level, only on attribute
# access, and are not part of the map.
SHIMS = {"api", "access", "bearer"}
FLOOR = {module: n for n, modules in enumerate(FLOORS) for module in modules}
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", *SHIMS})


def imported(module: str) -> set[str]:
    """The logto_auth modules that ``module`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("logto_auth"):
            parts = (node.module or "").split(".")
            names = [alias.name for alias in node.names] if len(parts) == 1 else [parts[1]]
            found.update(name for name in names if name in FLOOR or name in MODULES)
    return found


def test_every_module_has_a_floor() -> None:
    assert set(MODULES) == set(FLOOR)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_lower_floors(module: str) -> None:
    upward = sorted(name for name in imported(module) if FLOOR[name] >= FLOOR[module])
    assert upward == [], f"{module} (floor {FLOOR[module]}) imports {upward}"
