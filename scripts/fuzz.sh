#!/usr/bin/env bash
# Fuzzes the parsers that read attacker-controlled input, each for a set time, with cargo-fuzz (libFuzzer):
#   record_reader   CloudTrail bytes: sniffing, gzip, the structural splitter, the parse, the serde-free peek
#   policy_parser   IAM policy text and authorization-details files, through every policy check
#   sigma_rule      Sigma rule YAML: loader, condition parser, matcher
#   fix_script      values rendered into generated shell and boto3 scripts (quoting must round-trip)
#
# ASan is on (the record reader has SIMD unsafe code); FUZZ_SANITIZER=none runs faster without it.
#
#   scripts/fuzz.sh                     # every target, 60 s each
#   SECONDS_PER_TARGET=600 scripts/fuzz.sh policy_parser sigma_rule
#
# Corpora start from ../shared/data and samples/ (copied into fuzz/corpus/, gitignored); a crash is saved
# under fuzz/artifacts/TARGET/ with the command to reproduce it, and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
SHARED=${TRAILGUARD_SHARED_DATA:-../shared/data}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(record_reader policy_parser sigma_rule fix_script)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked
fi
# libFuzzer instrumentation needs unstable flags: a nightly toolchain when there is one, else the stable
# compiler in bootstrap mode (the same compiler, with its unstable flags allowed).
toolchain=()
if rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

# A subshell, so that the pipefail switched off here stays off only here.
seed() (
  # `head` closes the pipe early on purpose: a SIGPIPE in `find` is not a failure here.
  set +o pipefail
  local target=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir"
  [ -n "$(ls -A "$dir")" ] && return 0
  case $target in
    record_reader)
      find "$SHARED/cloudtrail" samples/cloudtrail -type f \( -name '*.json' -o -name '*.gz' \) -size -64k \
        | { head -40 || true; } | while read -r f; do cp "$f" "$dir/$(sha1sum "$f" | cut -c1-16)"; done ;;
    policy_parser)
      find "$SHARED/peer-suites/parliament" "$SHARED/managed-policies" -type f -name '*.json' -size -16k \
        | { head -60 || true; } | while read -r f; do cp "$f" "$dir/$(sha1sum "$f" | cut -c1-16)"; done ;;
    sigma_rule)
      find "$SHARED/sigma-aws/rules" -type f -name '*.yml' \
        | while read -r f; do cp "$f" "$dir/$(sha1sum "$f" | cut -c1-16)"; done ;;
    fix_script)
      printf '%s' "dev-alice" > "$dir/plain"
      printf '%s' $'a\nb; touch /tmp/x $(id) `id` \x27\x27\x27 "q" \\' > "$dir/hostile" ;;
  esac
)

failed=()
for target in "${targets[@]}"; do
  seed "$target"
  mkdir -p "fuzz/artifacts/$target"
  echo "== fuzz $target for ${SECONDS_PER_TARGET}s" >&2
  if ! (cd fuzz && cargo "${toolchain[@]}" fuzz run --sanitizer "${FUZZ_SANITIZER:-address}" "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1); then
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes or hangs in: ${failed[*]} (inputs under fuzz/artifacts/; reproduce with" \
       "cd fuzz && cargo fuzz run TARGET artifacts/TARGET/FILE)" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]} (${SECONDS_PER_TARGET}s each)" >&2
