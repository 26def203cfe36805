#!/usr/bin/env bash
# Formats the rule files. They are declared inside the `register!` macro, where `cargo fmt` does not
# look, so `cargo fmt --all` leaves them alone; .ci/run checks them with the same command and --check.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files 'crates/trailguard-rules/src/rules/*.rs' | xargs rustfmt --edition 2021 "$@"
