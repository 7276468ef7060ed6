# Sourced by scripts/demo and scripts/test: make the virtualenv and the dev provider's
# node_modules match the pinned requirements, installing only what changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

newest_python() {  # the newest CPython 3.12+ on PATH or in pyenv's versions (Django 6.1 needs 3.12)
  local version candidate
  for version in 3.13 3.12; do
    for candidate in "$(command -v "python$version" 2>/dev/null)" \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
      [ -x "$candidate" ] && "$candidate" -c 'import sys' 2>/dev/null && { echo "$candidate"; return; }
    done
  done
  echo "Python 3.12 or newer is needed (the demo and the full test run use Django 6.1)." >&2
  exit 1
}
PY="${PYTHON:-$(newest_python)}"

stamp_ok() {  # stamp_ok NAME FILES... : true when FILES are unchanged since the last install
  local name=$1; shift
  local sum; sum=$(cat "$@" | sha256sum | cut -d' ' -f1)
  [ -f "$VENV/.stamp-$name" ] && [ "$(cat "$VENV/.stamp-$name")" = "$sum" ] && return 0
  echo "$sum" > "$VENV/.stamp-$name.new"; return 1
}
stamp_save() { mv "$VENV/.stamp-$1.new" "$VENV/.stamp-$1"; }

python_env() {  # python_env REQUIREMENTS_FILE
  local requirements=$1
  if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])')" != "$("$PY" -c 'import sys; print(sys.version_info[:2])')" ]; then
    say "Replacing .venv: it was made with another Python than $PY"
    rm -rf "$VENV"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtualenv in .venv ($("$PY" --version))"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
  fi
  if ! stamp_ok "$(basename "$requirements")" requirements*.txt pyproject.toml; then
    say "Installing Python packages from $requirements"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    stamp_save "$(basename "$requirements")"
  fi
}

node_env() {
  command -v node >/dev/null || { echo "Node.js 22 LTS (or 20) is needed for the dev provider." >&2; exit 1; }
  if ! stamp_ok npm devprovider/package-lock.json || [ ! -d devprovider/node_modules ]; then
    say "Installing the dev provider's npm packages"
    (cd devprovider && npm ci --no-audit --no-fund --loglevel=error)
    [ -f "$VENV/.stamp-npm.new" ] && stamp_save npm || true
  fi
}
