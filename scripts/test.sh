#!/usr/bin/env bash
# Install what the tests need (Debian packages, venv) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system.sh test
scripts/python-env.sh test,indi,ekos,ml
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
