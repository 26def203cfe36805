#!/usr/bin/env bash
# Dashboard benchmark (not a test): a fresh SQLite store filled with FINDINGS findings (the findings of a
# real Stratus Red Team detonation log, cloned under new ids, times over 30 days, 200 principals, 5
# accounts), then each dashboard page requested ROUNDS times in-process (`trailguard web bench`: the
# router, the store query and the template, without the network). Prints the median and worst time per
# page in ms and the process's peak memory. Target: a findings page under 100 ms at 100,000 findings.
#
#   bash scripts/bench-web.sh
#   FINDINGS=20000 ROUNDS=5 bash scripts/bench-web.sh
#
# Environment: FINDINGS (100000), ROUNDS (20), BIN (a trailguard binary; default: builds the release one).
set -euo pipefail
cd "$(dirname "$0")/.."

FINDINGS=${FINDINGS:-100000}
ROUNDS=${ROUNDS:-20}
data=${TRAILGUARD_SHARED_DATA:-../shared/data}
sample=$data/cloudtrail/stratus-red-team/docs/detonation-logs/aws.persistence.iam-create-admin-user.json

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --locked -p trailguard
  BIN=target/release/trailguard
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$BIN" web bench --store "$work/bench.db" --findings "$FINDINGS" --rounds "$ROUNDS" --sample "$sample"
