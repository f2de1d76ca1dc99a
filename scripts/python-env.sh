#!/usr/bin/env bash
# Create or refresh the project venv (.venv) with OBSY and the given extras.
# Re-installs only when setup.cfg/pyproject.toml changed since the last run.
# Usage: scripts/python-env.sh [extras]   e.g. scripts/python-env.sh test,indi
# The extra "indi" (pyindi-client) is installed with --no-deps: its declared dependencies
# (dbus-python, bottle, requests) are not imported, and dbus-python builds only from source.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
want_indi=""
if [[ ",${extras}," == *",indi,"* ]]; then
    want_indi=1
    extras="$(echo ",${extras}," | sed -e 's/,indi,/,/g' -e 's/^,//' -e 's/,$//')"
fi
python="${OBSY_PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "OBSY needs Python 3.11 or newer as '$python' (set OBSY_PYTHON to another interpreter)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv || {
        echo "Could not create a venv: on Debian/Ubuntu install python3-venv (scripts/install-system.sh does)." >&2
        exit 1
    }
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.obsy-installed"
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1) extras=${extras}"
if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
    spec="."
    [ -n "$extras" ] && spec=".[${extras}]"
    echo "Installing OBSY into .venv (${spec}) ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    echo "$want" > "$stamp"
fi
if [ -n "$want_indi" ]; then
    indi_spec="$(sed -n 's/^ *\(pyindi-client==[0-9.]*\) *$/\1/p' setup.cfg | head -n1)"
    have="$(.venv/bin/python -m pip show pyindi-client 2>/dev/null || true)"
    if ! grep -qx "Version: ${indi_spec#*==}" <<<"$have"; then
        echo "Installing ${indi_spec} into .venv (--no-deps) ..."
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "$indi_spec"
    fi
fi
