#!/usr/bin/env bash
# Scans the sample CloudTrail logs bundled in samples/ and keeps the findings in the embedded SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p trailguard -- scan samples/cloudtrail --store .trailguard/trailguard.db "$@"
