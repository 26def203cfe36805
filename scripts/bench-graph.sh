#!/usr/bin/env bash
# Escalation-graph benchmark (not a timed test): the Cloudsplaining example account's full graph, a
# generated account of 10,000 principals and 20,000 policies (time, edges, peak memory), and the median
# re-evaluation of one IAM change. The policy and account crates are built optimised; their
# dependencies keep the dev profile (opt-level 2). Built with `--workspace`, never `-p` (which changes
# feature unification); the first run may still build some AWS SDK crates for the example's features.
# Targets: example < 100 ms; generated < 10 s and < 1 GB; one change < 1 ms median.
set -euo pipefail
cd "$(dirname "$0")/.."
export TRAILGUARD_SHARED_DATA=${TRAILGUARD_SHARED_DATA:-../shared/data}
cargo build -q --workspace --example graph_bench \
    --config 'profile.dev.package.trailguard-policy.opt-level=3' \
    --config 'profile.dev.package.trailguard-account.opt-level=3' \
    --config 'profile.dev.package.trailguard-policy.debug-assertions=false' \
    --config 'profile.dev.package.trailguard-account.debug-assertions=false'
exec target/debug/examples/graph_bench "$@"
