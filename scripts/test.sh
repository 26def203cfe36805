#!/usr/bin/env bash
# The whole test suite, set-up included: the Python test helpers in their own virtual environment
# (scripts/setup.sh), one throwaway PostgreSQL cluster for the whole run (scripts/test-postgres.sh; skipped
# when TRAILGUARD_TEST_PG_URL already names a server that answers), then every crate's tests with that
# environment's python and `aws` first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup.sh)
if [ -n "$venv" ]; then
  export TRAILGUARD_PYTHON="$venv/bin/python"
  export PATH="$venv/bin:$PATH"
fi
# One PostgreSQL server for every test of this run (each test makes a database of its own in it).
if [ -z "${TRAILGUARD_TEST_PG_URL:-}" ] || ! psql -X -q -d "$TRAILGUARD_TEST_PG_URL" -c 'SELECT 1' >/dev/null 2>&1; then
  pg=$(bash scripts/test-postgres.sh start)
  eval "export $(printf '%s\n' "$pg" | grep '^TRAILGUARD_TEST_PG_URL=')"
  pg_dir=$(printf '%s\n' "$pg" | sed -n 's/^TRAILGUARD_TEST_PG_DIR=//p')
  trap 'bash scripts/test-postgres.sh stop "$pg_dir"' EXIT
fi
# --no-fail-fast: one failing suite must not hide the others.
cargo test --workspace --locked --no-fail-fast "$@"
