"""The manual in docs/: it builds in strict mode (a broken link or anchor fails), every
code fence is closed, the settings reference is the table logto_auth declares, and the API
reference documents exactly what each public module lists in ``__all__``."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from importlib import import_module
from pathlib import Path

import pytest

from logto_auth.conf import reference_table
from tests.test_layers import MODULES, SHIMS

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
PUBLIC_MODULES = [module for module in MODULES if not module.startswith("_")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manual, built once in strict mode; the build's errors fail every test using it."""
    site_dir = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return site_dir


class _Headings(HTMLParser):
    """The ids of the headings mkdocstrings writes (``logto_auth.<module>[.<name>...]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "doc-heading" in (found.get("class") or "").split() and found.get("id"):
            self.ids.append(found["id"] or "")


@pytest.fixture(scope="module")
def reference(site: Path) -> dict[str, set[str]]:
    """The API reference page: each documented module -> the top-level names it shows."""
    parser = _Headings()
    parser.feed((site / "reference" / "index.html").read_text())
    documented: dict[str, set[str]] = {}
    for heading in parser.ids:
        package, module, *names = heading.split(".")
        assert package == "logto_auth", heading
        documented.setdefault(module, set()).update(names[:1])
    return documented


def test_the_manual_builds_in_strict_mode(site: Path) -> None:
    assert (site / "quickstart" / "index.html").exists()
    assert (site / "reference" / "index.html").exists()


def test_api_reference_documents_every_public_module_and_nothing_internal(
    reference: dict[str, set[str]],
) -> None:
    assert sorted(reference) == sorted(PUBLIC_MODULES)
    assert not [module for module in reference if module.startswith("_") or module in SHIMS]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_api_reference_lists_exactly_the_names_in_all(
    module: str, reference: dict[str, set[str]]
) -> None:
    exported = set(import_module(f"logto_auth.{module}").__all__)
    assert reference.get(module, set()) == exported


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md", ROOT / "PYPI.md"], ids=str)
def test_every_code_fence_is_closed(page: Path) -> None:
    fences = re.findall(r"(?m)^\s*```", page.read_text())
    assert len(fences) % 2 == 0


def test_settings_reference_is_the_declared_table() -> None:
    assert reference_table() in (ROOT / "docs" / "settings.md").read_text()
