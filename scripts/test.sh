#!/usr/bin/env bash
# The whole test suite, set-up included: the Python test helpers in their own virtual environment
# (scripts/setup.sh), then every crate's tests with that environment's python and `aws` first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup.sh)
if [ -n "$venv" ]; then
  export TRAILGUARD_PYTHON="$venv/bin/python"
  export PATH="$venv/bin:$PATH"
fi
# --no-fail-fast: one failing suite must not hide the others.
cargo test --workspace --locked --no-fail-fast "$@"
