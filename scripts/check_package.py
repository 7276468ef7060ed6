"""Build the sdist and the wheel, check what they hold, and render the long description.

In: every file under ``logto_auth/`` that git tracks (modules, templates in any folder,
migrations, ``py.typed``), and the license. Out: the tests, the demo project, the dev
provider, the benchmarks and the scripts. ``twine check`` renders the long description
as PyPI would. Prints the files' names and sizes; exits
non-zero on the first problem.

Usage: .venv/bin/python scripts/check_package.py [--outdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUST = (
    "logto_auth/__init__.py",
    "logto_auth/py.typed",
    "logto_auth/templates/logto_auth/error.html",
    "logto_auth/migrations/0001_initial.py",
)
# What a build reads: copied apart, so that no build/ or egg-info lands in the tree.
SOURCES = ("pyproject.toml", "MANIFEST.in", "LICENSE", "PYPI.md", "logto_auth")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
NEVER = ("tests/", "config/", "devprovider/", "bench/", "scripts/", "templates/home", "manage.py")


def names_in(archive: Path) -> list[str]:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.namelist()
    with tarfile.open(archive) as sdist:
        # Drop the leading "django_logto_auth-X.Y.Z/".
        return [name.partition("/")[2] for name in sdist.getnames()]


def app_files() -> list[str]:
    """Every file under ``logto_auth/`` that git tracks: what the app needs at run time.

    Read from git, not from a list kept by hand, so that a new folder (templates, static
    files, translations) cannot be left out of the package unnoticed.
    """
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed to list the app's files")
    listed = subprocess.run(
        [git, "ls-files", "-z", "--", "logto_auth"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = [name for name in listed.split("\0") if name and not name.endswith(".pyc")]
    if not files:
        raise SystemExit("git lists no file under logto_auth/: run this from a git checkout")
    return files


def problems_of(archive: Path, required: list[str]) -> list[str]:
    names = set(names_in(archive))
    found = [f"{archive.name} lacks {must}" for must in (*MUST, *required) if must not in names]
    found += [
        f"{archive.name} holds {name}"
        for name in names
        if any(name.startswith(never) for never in NEVER)
    ]
    if not any(name.endswith("LICENSE") for name in names):
        found.append(f"{archive.name} lacks the LICENSE file")
    return found


def copy_sources(dest: Path) -> None:
    """Copy what a build reads to ``dest``."""
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=IGNORED)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, dest / name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        outdir = args.outdir or Path(scratch) / "dist"
        source = Path(scratch) / "source"
        copy_sources(source)
        build = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--sdist",
                "--wheel",
                "--outdir",
                str(outdir),
                str(source),
            ],
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            print(build.stdout, build.stderr, file=sys.stderr)
            return 1
        archives = sorted(outdir.glob("django_logto_auth-*"))
        required = app_files()
        found = [problem for archive in archives for problem in problems_of(archive, required)]
        if len(archives) != 2:
            found.append(f"expected an sdist and a wheel, built {[a.name for a in archives]}")
        twine = subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", *map(str, archives)],
            capture_output=True,
            text=True,
        )
        if twine.returncode != 0:
            found.append(f"twine check: {twine.stdout}{twine.stderr}")
        for archive in archives:
            print(f"  {archive.name:48} {archive.stat().st_size:8d} bytes")
    for problem in found:
        print(f"  PROBLEM: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
