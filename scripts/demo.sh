#!/usr/bin/env bash
# Builds trailguard (release, cargo's progress shown), scans the sample CloudTrail logs bundled in samples/,
# keeps the findings in the embedded SQLite store, and says where the binary is and how to put it on PATH.
# Extra arguments go to `trailguard scan` (e.g. `--format json`, `--since 2023-07-11`).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building trailguard (release; the first build takes a few minutes)" >&2
# Progress goes to stderr as usual; the JSON messages on stdout name the built executable, wherever the
# target directory is (CARGO_TARGET_DIR, .cargo/config.toml).
messages=$(cargo build --release --locked -p trailguard --bin trailguard --message-format=json-render-diagnostics)
bin=$(printf '%s\n' "$messages" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "demo: cargo did not report the trailguard executable" >&2
  exit 2
fi

status=0
"$bin" scan samples/cloudtrail --store .trailguard/trailguard.db "$@" || status=$?

bin_dir=$(dirname "$bin")
cat >&2 <<EOF

demo: the binary is $bin
demo: to run it as \`trailguard\`, either install it into ~/.cargo/bin (on PATH after rustup's set-up):
        cargo install --locked --path crates/trailguard
      or add its directory to PATH for this shell:
        export PATH="$bin_dir:\$PATH"
EOF
if [ "$status" -eq 1 ]; then
  # Exit code 1 means findings at or above --fail-on (high by default): what this sample is made to show.
  echo "demo: findings at or above the --fail-on threshold were reported (exit code 1), as this sample intends" >&2
  exit 0
fi
exit "$status"
