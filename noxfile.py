"""The support matrix: every Django and Python pair django-logto is tested on.

``./scripts/test`` runs every tier (browser included) on the newest pair in ``.venv`` and,
through ``nox``, the unit and integration tiers on the other pairs (the adopter test too on
the oldest). An interpreter that is missing fails the run with a message naming it: a leg is
never skipped. Each leg has its own virtualenv under ``.nox/``, kept while its pins hold.

    .venv/bin/nox -s tests               # every leg
    .venv/bin/nox -s "tests(3.11-django5.2)" -- tests/test_views.py
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
nox.options.sessions = ["tests"]

# Django -> the exact pins tested with it (Django itself, and the stubs mypy reads).
DJANGO = {
    "5.2": ["Django==5.2.19", "django-stubs==5.2.9"],
    "6.0": ["Django==6.0.10", "django-stubs==6.0.9"],
    "6.1": ["Django==6.1.3", "django-stubs==6.1.2"],
}
# The legs nox runs; the newest pair (Python 3.13, Django 6.1) is .venv's, run in full by
# ./scripts/test. Django 6.x needs Python 3.12+.
LEGS = [("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "5.2")]
OLDEST = ("3.11", "5.2")  # also runs the adopter test, as the newest leg does
NEWEST = ("3.13", "6.1")


def interpreter(session: nox.Session, version: str) -> str:
    """Return the path of Python ``version``: on PATH, or where pyenv keeps it."""
    found = shutil.which(f"python{version}")
    if found and os.access(found, os.X_OK) and "/shims/" not in found:
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for path in sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}")):
        return path
    session.error(
        f"Python {version} is not on this machine (looked on PATH and in {root}/versions): "
        "install it; a leg of the support matrix is never skipped."
    )


def requirements(django: str) -> list[str]:
    """The pinned development requirements, with ``django``'s pins in place of the newest."""
    names = {re.split(r"[=<>\[]", pin)[0].lower() for pin in DJANGO[django]}
    pins: list[str] = []
    for file in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / file).read_text().splitlines():
            line = line.split("#")[0].strip()
            name = re.split(r"[=<>\[]", line)[0].lower()
            if line and not line.startswith("-r") and name not in names:
                pins.append(line)
    return [*pins, *DJANGO[django]]


def leg_venv(session: nox.Session, py: str, django: str) -> Path:
    """Return the bin folder of the leg's virtualenv, made or updated to its pins."""
    venv = ROOT / ".nox" / f"py{py}-django{django}"
    if not (venv / "bin" / "python").exists():
        session.run(interpreter(session, py), "-m", "venv", str(venv), external=True)
    bin_dir = venv / "bin"
    stamp, wanted = venv / ".pins", "\n".join(requirements(django))
    if not stamp.exists() or stamp.read_text() != wanted:
        session.run(str(bin_dir / "pip"), "install", "-q", "--upgrade", "pip", external=True)
        session.run(str(bin_dir / "pip"), "install", "-q", *wanted.split("\n"), external=True)
        stamp.write_text(wanted)
    return bin_dir


@nox.session(name="install", python=False)
@nox.parametrize(("py", "django"), LEGS, ids=[f"{p}-django{d}" for p, d in LEGS])
def install(session: nox.Session, py: str, django: str) -> None:
    """Make (or update) one leg's virtualenv without running anything."""
    leg_venv(session, py, django)


@nox.session(name="tests", python=False)
@nox.parametrize(("py", "django"), LEGS, ids=[f"{p}-django{d}" for p, d in LEGS])
def tests(session: nox.Session, py: str, django: str) -> None:
    """The unit and integration tiers on one Python and Django pair (and, on the oldest,
    the adopter test), on both cores."""
    bin_dir = leg_venv(session, py, django)
    session.run(
        str(bin_dir / "python"),
        "-c",
        "import django, sys; print('Python', sys.version.split()[0], 'Django', django.__version__)",
        external=True,
    )
    tiers = "unit or integration"
    session.run(
        str(bin_dir / "pytest"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "-m",
        f"{tiers} or adopter" if (py, django) == OLDEST else tiers,
        *session.posargs,
        external=True,
    )
