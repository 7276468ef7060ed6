"""The module map: each module of logto_auth imports only modules on lower floors, so
there are no import circles and the bottom never depends on the top. The map in
``docs/development.md`` names every module with its floor, so it cannot go stale."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from types import FrameType

import pytest
from django.http import HttpRequest, HttpResponseBase

from logto_auth import views
from tests.conftest import Site
from tests.devprovider import DevProvider

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "logto_auth"
FLOORS = [
    {"conf", "exceptions", "models", "_memo", "_connections"},
    {
        "_api_users",
        "_sessions",
        "signals",
        "_http",
        "_errors",
        "_roles",
        "_organization_permissions",
    },
    {"storage", "_provider", "_locks", "_organization_data"},
    {"_tokens"},
    {"backends", "_sdk", "_preflight", "_organizations"},
    {"_bearer", "_notifications", "_renewal", "_flow", "checks"},
    {"_organization_context", "decorators", "drf", "views"},
    {"_context", "mixins", "sites", "urls", "admin", "apps", "context_processors"},
    {"middleware"},
]
# Deprecated paths kept for one release: they import their targets only when an old name
# is looked up (module ``__getattr__``), so they are no part of the map.
SHIMS = {"api", "access", "bearer"}
FLOOR = {module: n for n, modules in enumerate(FLOORS) for module in modules}
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", *SHIMS})
MAP_ROW = re.compile(r"^\| `(\w+)\.py` \| (\d+) \| (public|internal) \| .+ \|$", re.MULTILINE)


def imported(module: str) -> set[str]:
    """The logto_auth modules that ``module`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("logto_auth"):
            parts = (node.module or "").split(".")
            names = [alias.name for alias in node.names] if len(parts) == 1 else [parts[1]]
            found.update(name for name in names if name in FLOOR or name in MODULES)
    return found


def documented_map() -> dict[str, tuple[int, str]]:
    """The module map of ``docs/development.md``: module -> (floor, public or internal)."""
    text = (ROOT / "docs" / "development.md").read_text()
    return {name: (int(floor), kind) for name, floor, kind in MAP_ROW.findall(text)}


def test_every_module_has_a_floor() -> None:
    assert set(MODULES) == set(FLOOR)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_lower_floors(module: str) -> None:
    upward = sorted(name for name in imported(module) if FLOOR[name] >= FLOOR[module])
    assert upward == [], f"{module} (floor {FLOOR[module]}) imports {upward}"


def test_docs_map_names_every_module_with_its_floor() -> None:
    expected = {
        module: (FLOOR[module], "internal" if module.startswith("_") else "public")
        for module in MODULES
    }
    assert documented_map() == expected


@pytest.mark.parametrize("module", MODULES)
def test_public_modules_declare_all_and_internal_ones_say_so(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    declares_all = any(
        isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets)
        for node in tree.body
    )
    if module.startswith("_"):
        assert (ast.get_docstring(tree) or "").startswith("Internal: may change in any release.")
    else:
        assert declares_all


# Floor 0 is the ground every module stands on (settings, errors, models), not a module a
# request crosses.
GROUND = {f"logto_auth.{module}" for module in FLOORS[0]}


def test_a_sign_in_callback_crosses_at_most_thirteen_modules(
    wsgi_site: Site, dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    wsgi_site.sign_in(dev_provider, "bob")  # a warm process: metadata and keys cached
    redirect = dev_provider.authorize(wsgi_site.sign_in_url(), "alice")
    crossed: set[str] = set()
    get = views.CallbackView.get

    def traced(view: views.CallbackView, request: HttpRequest) -> HttpResponseBase:
        def called(frame: FrameType, event: str, arg: object) -> None:
            module = frame.f_globals.get("__name__", "")
            if event == "call" and module.startswith("logto_auth") and module not in GROUND:
                crossed.add(module)

        sys.setprofile(called)
        try:
            return get(view, request)
        finally:
            sys.setprofile(None)

    monkeypatch.setattr(views.CallbackView, "get", traced)
    assert wsgi_site.callback(redirect).status_code == 302

    # Nine since the token request goes through the provider's connection pool (_http;
    # its connections, _connections, are ground);
    # ten since the sign-in chooses the current organization (_organizations); twelve since
    # the role mapping (_roles, out of _tokens and backends) and the organization records
    # (_organization_data, out of backends) are modules of their own: the same calls;
    # thirteen since a user saved (the login's last_login) is forgotten by the bearer
    # tokens' memory of users (_api_users, a receiver).
    assert len(crossed) <= 13, sorted(crossed)
    assert {"logto_auth.views", "logto_auth._flow", "logto_auth.backends"} <= crossed
