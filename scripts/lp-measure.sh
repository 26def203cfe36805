#!/usr/bin/env bash
# Alternating runs: plain scan vs the usage pass (policy generate, every principal collected at once).
bin=${BIN:-target/release/trailguard}
corpus=${CORPUS:-/tmp/bench-400-lp/json}
out=${OUT:-/tmp/lp-measure.txt}
: > "$out"
for i in 1 2 3 4 5; do
  /usr/bin/time -o "${TMPDIR:-/tmp}/lp-time" -f '%e %U %M' "$bin" scan "$corpus" --format json --fail-on never -o /dev/null >/dev/null 2>&1
  echo "scan $(cat "${TMPDIR:-/tmp}/lp-time")" >> "$out"
  /usr/bin/time -o "${TMPDIR:-/tmp}/lp-time" -f '%e %U %M' "$bin" policy generate --from "$corpus" --principal arn:aws:iam::111122223333:user/alice >/dev/null 2>&1
  echo "usage $(cat "${TMPDIR:-/tmp}/lp-time")" >> "$out"
done
python3 - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for kind in ("scan", "usage"):
    r = [x for x in rows if x[0] == kind]
    e = statistics.median(float(x[1]) for x in r); u = statistics.median(float(x[2]) for x in r); m = statistics.median(int(x[3]) for x in r)
    print(f"{kind:<6} median elapsed {e:6.2f}s  user {u:6.2f}s  peak RSS {m/1024:6.1f} MB   runs: {[x[1] for x in r]}")
PY
