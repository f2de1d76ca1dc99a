#!/usr/bin/env bash
# Benchmarks (not part of the test suite). Usage: scripts/bench.sh [--frames N] ...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system.sh test
scripts/python-env.sh test
exec .venv/bin/python -m tests.bench.bench_ingest "$@"
