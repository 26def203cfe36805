#!/usr/bin/env bash
# Throughput benchmark: builds trailguard in release mode, generates the corpus once (bench-data/,
# gitignored), runs `trailguard bench` (raw limits, pipeline, full scan with every rule, peak memory, each
# phase in its own process), then a plain Python `json` loop over the same files doing the same filter,
# and prints the speed-ups against the targets.
#
#   scripts/bench.sh                   # 600 MB corpus, all cores, built-in rules + SigmaHQ rules
#   SIZE_MB=100 THREADS=1 scripts/bench.sh
#
# Environment: SIZE_MB (600), CORPUS (bench-data), THREADS (0 = all cores), SIGMA (Sigma rule directory,
# empty to skip), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-600}
CORPUS=${CORPUS:-bench-data}
THREADS=${THREADS:-0}
SIGMA=${SIGMA-../shared/data/sigma-aws/rules}
PYTHON=${PYTHON:-python3}

cargo build --release -p trailguard
bin=target/release/trailguard

sigma_args=()
if [[ -n "$SIGMA" && -d "$SIGMA" ]]; then
    sigma_args=(--sigma "$SIGMA")
fi

echo "== trailguard bench (release, $(nproc) cores on this machine)"
"$bin" bench --corpus "$CORPUS" --generate --size-mb "$SIZE_MB" --threads "$THREADS" \
    "${sigma_args[@]}" --save "$CORPUS/results.jsonl"

echo
echo "== Python baseline: json.load per file, then a loop doing the same event filter"
for format in gz json; do
    "$PYTHON" - "$CORPUS/$format" > "$CORPUS/python-$format.json" <<'PY'
import gzip, json, os, resource, sys, time

# The events the built-in rules dispatch on: what a Python scanner would have to pick out.
WATCH = {
    "CreatePolicyVersion", "SetDefaultPolicyVersion", "CreatePolicy", "PutUserPolicy", "PutGroupPolicy",
    "PutRolePolicy", "AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy", "CreateAccountAlias",
    "DeleteAccountAlias", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "CreateUser",
    "UpdateAssumeRolePolicy", "DeactivateMFADevice", "DeleteVirtualMFADevice", "DeleteAccountPasswordPolicy",
    "UpdateAccountPasswordPolicy", "ConsoleLogin", "StopLogging", "DeleteTrail", "UpdateTrail",
    "PutEventSelectors",
}
root = sys.argv[1]
start = time.perf_counter()
records = hits = json_bytes = 0
for directory, _, files in sorted(os.walk(root)):
    for name in sorted(files):
        path = os.path.join(directory, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            data = handle.read()
        json_bytes += len(data)
        for record in json.loads(data)["Records"]:
            records += 1
            if record.get("eventName") in WATCH or record.get("userIdentity", {}).get("type") == "Root":
                hits += 1
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"records": records, "hits": hits, "json_bytes": json_bytes, "seconds": seconds, "peak_rss_mb": peak_mb}))
PY
done

"$PYTHON" - "$CORPUS" <<'PY'
import json, sys
corpus = sys.argv[1]
results = [json.loads(line) for line in open(f"{corpus}/results.jsonl")]
targets = {"gz": 5.0, "json": 10.0}
print(f"{'format':<6} {'python s':>9} {'python rec/s':>13} {'python MB':>10} {'scan s':>8} {'speed-up':>9} {'target':>7}")
for fmt in ("gz", "json"):
    py = json.load(open(f"{corpus}/python-{fmt}.json"))
    scans = [r for r in results if r["format"] == fmt and r["phase"] == "scan"]
    if not scans:
        continue
    scan = scans[0]
    speedup = py["seconds"] / scan["seconds"]
    verdict = "met" if speedup >= targets[fmt] else "NOT met"
    print(f"{fmt:<6} {py['seconds']:>9.2f} {py['records'] / py['seconds']:>13.0f} {py['peak_rss_mb']:>10.1f} "
          f"{scan['seconds']:>8.2f} {speedup:>8.1f}x {targets[fmt]:>6.0f}x {verdict}")
    if py["records"] != scan["records"]:
        print(f"  warning: python saw {py['records']} records, trailguard {scan['records']}")
PY
