#!/usr/bin/env bash
# The whole test suite, set-up included: Python test dependencies, then every crate's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# --no-fail-fast: one failing suite must not hide the others.
cargo test --workspace --locked --no-fail-fast "$@"
