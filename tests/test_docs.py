"""The manual in docs/: it builds in strict mode (a broken link or anchor fails), every
code fence is closed, and the settings reference is the table logto_auth declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from logto_auth.conf import reference_table

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))


def test_the_manual_builds_in_strict_mode(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "quickstart" / "index.html").exists()


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md", ROOT / "PYPI.md"], ids=str)
def test_every_code_fence_is_closed(page: Path) -> None:
    fences = re.findall(r"(?m)^\s*```", page.read_text())
    assert len(fences) % 2 == 0


def test_settings_reference_is_the_declared_table() -> None:
    assert reference_table() in (ROOT / "docs" / "settings.md").read_text()
