#!/usr/bin/env bash
# The whole test suite, set-up included: the Python test helpers in their own virtual environment
# (scripts/setup.sh), one throwaway PostgreSQL cluster for the whole run (scripts/test-postgres.sh; skipped
# when TRAILGUARD_TEST_PG_URL already names a server that answers), then every crate's tests with that
# environment's python and `aws` first on PATH; then, in a full run, the browser tests (tests/browser/:
# scripts/setup-browser.sh installs Debian's chromium and the pinned playwright-core, and
# tests/browser/run.mjs drives a real `trailguard web` in headless Chromium).
#
#   bash scripts/test.sh                      # everything: every crate's tests, then the browser tests
#   bash scripts/test.sh --test NAME [FILTER] # a partial run: cargo test arguments, no browser tests
#   bash scripts/test.sh --browser            # only the browser tests (builds the test binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."

# Chained with &&: `set -e` does not apply inside a function called as `browser_tests || ...`. The
# binary comes from `cargo test --no-run` (a no-op after the crate tests): `cargo build` would resolve
# features without dev-dependencies and rebuild part of the AWS SDK.
browser_tests() {
  bash scripts/setup-browser.sh &&
    cargo test --workspace --locked --no-run &&
    node tests/browser/run.mjs --bin "$PWD/target/debug/trailguard"
}
if [ "${1:-}" = "--browser" ]; then
  browser_tests
  exit
fi

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
# --no-fail-fast: one failing suite must not hide the others; nor may failing crate tests hide the browser's.
status=0
cargo test --workspace --locked --no-fail-fast "$@" || status=$?
if [ $# -eq 0 ]; then
  browser_tests || status=$?
fi
exit $status
