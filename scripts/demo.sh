#!/usr/bin/env bash
# Install what OBSY needs and start `obsy demo` (every role in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system.sh runtime
scripts/python-env.sh
exec .venv/bin/obsy demo "$@"
