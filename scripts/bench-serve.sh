#!/usr/bin/env bash
# Service benchmark (not a test): `trailguard serve` against a local moto server (S3 and SQS, from the
# test environment of scripts/setup.sh) on this machine.
#
#   1. Throughput: OBJECTS CloudTrail files (RECORDS records each, cut from ../shared/data/cloudtrail and
#      repeated under new keys, gzipped) are put into a bucket whose notifications fill a queue; then
#      `serve --drain` with 1, 2 and 4 workers empties it into a fresh SQLite store. Objects/s, records/s,
#      the process's peak RSS (/usr/bin/time), and moto's share of the wall time (the CPU seconds moto's
#      server process spent meanwhile, from /proc). The same objects are then scanned by `trailguard scan`,
#      from the local files and from the bucket (`s3://`), with one thread, for comparison.
#   2. Memory: 1 worker on twice the objects: its peak must not grow with the queue.
#   3. Latency: 2 workers wait on an empty queue while LATENCY_OBJECTS files are put at LATENCY_RATE a
#      second; an observer polls the store every 10 ms for each object's processed-objects row. PutObject
#      returned -> row committed (the row is written in the findings' transaction): p50 and p95.
#   4. The 1-worker run and `scan s3://` again, on a moto whose ReceiveMessage does not count the whole
#      queue once per message it hands out (see below): the worker's own speed, without moto's O(queue²).
#
#   bash scripts/bench-serve.sh
#   OBJECTS=200 bash scripts/bench-serve.sh
#
# Environment: OBJECTS (400), RECORDS (100), LATENCY_OBJECTS (100), LATENCY_RATE (10), ROUNDS of
# part 4 (3), PORT (5099), BIN (a trailguard binary; default: builds the release one).
set -euo pipefail
cd "$(dirname "$0")/.."

OBJECTS=${OBJECTS:-400}
RECORDS=${RECORDS:-100}
LATENCY_OBJECTS=${LATENCY_OBJECTS:-100}
LATENCY_RATE=${LATENCY_RATE:-10}
ROUNDS=${ROUNDS:-3}
port=${PORT:-5099}
data=${TRAILGUARD_SHARED_DATA:-../shared/data}

if [[ -z "${BIN:-}" ]]; then
  cargo build --release --locked -p trailguard
  BIN=target/release/trailguard
fi
venv=$(bash scripts/setup.sh)
python=$venv/bin/python
work=$(mktemp -d)

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$python" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
serving=
cleanup() {
  [[ -n "$serving" ]] && kill "$serving" 2>/dev/null || true
  kill "$moto" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do
  "$python" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/')" 2>/dev/null && break
  sleep 0.2
done

# The helpers: `make DIR COUNT` writes the objects; `queue NAME` makes a bucket NAME whose object creations
# go to a queue NAME (dead-letter queue after 3 receives) and prints the queue's URL; `upload DIR BUCKET`;
# `cpu PID` prints a process's CPU seconds so far.
helpers=$work/helpers.py
cat >"$helpers" <<'PY'
import gzip, json, os, sys
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "make":
    data, out, count, per = args[0], args[1], int(args[2]), int(args[3])
    records = []
    for sub in ("invictus-ir/CloudTrail", "stratus-red-team/docs/detonation-logs"):
        folder = os.path.join(data, "cloudtrail", sub)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                doc = json.load(open(os.path.join(folder, name)))
                records += doc["Records"] if isinstance(doc, dict) else doc
    chunks = [records[i:i + per] for i in range(0, len(records) - per + 1, per)]
    for n in range(count):
        key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T%04dZ_%06d.json.gz" % (n % 2400, n)
        path = os.path.join(out, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(gzip.compress(json.dumps({"Records": chunks[n % len(chunks)]}).encode(), 6))
    print(sum(len(chunks[n % len(chunks)]) for n in range(count)))
elif cmd == "cpu":
    fields = open("/proc/%s/stat" % args[0]).read().rsplit(")", 1)[1].split()
    print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
else:
    import boto3
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    if cmd == "queue":
        name = args[0]
        dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket=name)
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        # moto's s3:TestEvent: the worker acknowledges it.
        print(url)
    elif cmd == "upload":
        root, bucket = args
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                s3.upload_file(path, bucket, os.path.relpath(path, root))
PY

echo "== objects: $OBJECTS (and $((2 * OBJECTS))) CloudTrail files of $RECORDS records, gzipped" >&2
records=$("$python" "$helpers" make "$data" "$work/objects" "$OBJECTS" "$RECORDS")
records2=$("$python" "$helpers" make "$data" "$work/objects2" "$((2 * OBJECTS))" "$RECORDS")

results=$work/results.tsv
# One drained run: NAME WORKERS DIR RECORDS -> a line of $results.
drain() {
  local name=$1 workers=$2 dir=$3 recs=$4 count
  count=$(find "$dir" -type f | wc -l)
  local url
  url=$("$python" "$helpers" queue "$name")
  "$python" "$helpers" upload "$dir" "$name"
  local moto_before moto_after start end
  moto_before=$("$python" "$helpers" cpu "$moto")
  start=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$work/time" "$BIN" serve --queue "$url" --store "$work/$name.db" \
    --workers "$workers" --drain --quiet --endpoint-url "$AWS_ENDPOINT_URL" 2>"$work/$name.err" \
    || { cat "$work/$name.err" >&2; exit 1; }
  end=$(date +%s.%N)
  moto_after=$("$python" "$helpers" cpu "$moto")
  read -r peak_kb user sys <"$work/time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${5:-serve $workers}" "$count" "$recs" "$(echo "$end - $start" | bc)" \
    "$peak_kb" "$(echo "$user + $sys" | bc)" "$(echo "$moto_after - $moto_before" | bc)" >>"$results"
}

: >"$results"
for workers in 1 2 4; do
  echo "== serve --drain, $workers workers" >&2
  drain "bench-w$workers" "$workers" "$work/objects" "$records"
done
echo "== serve --drain, 1 worker, twice the objects" >&2
drain "bench-double" 1 "$work/objects2" "$records2"

# One `scan` with one thread: INPUT LABEL -> a line of $results.
scan() {
  local input=$1 label=$2 moto_before moto_after start end
  moto_before=$("$python" "$helpers" cpu "$moto")
  start=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$work/time" "$BIN" scan "$input" --threads 1 --format json --fail-on never \
    -o /dev/null --endpoint-url "$AWS_ENDPOINT_URL" 2>"$work/scan.err" || { cat "$work/scan.err" >&2; exit 1; }
  end=$(date +%s.%N)
  moto_after=$("$python" "$helpers" cpu "$moto")
  read -r peak_kb user sys <"$work/time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$OBJECTS" "$records" "$(echo "$end - $start" | bc)" \
    "$peak_kb" "$(echo "$user + $sys" | bc)" "$(echo "$moto_after - $moto_before" | bc)" >>"$results"
}
echo "== trailguard scan, one thread: the local files, then s3:// on moto" >&2
scan "$work/objects" "scan local"
scan "s3://bench-w1/AWSLogs/" "scan s3"

echo "== latency: 2 workers waiting, $LATENCY_OBJECTS objects put at $LATENCY_RATE/s" >&2
url=$("$python" "$helpers" queue bench-latency)
# The test event moto queues when notifications are configured, out of the way first.
"$BIN" serve --queue "$url" --store "$work/latency.db" --workers 2 --drain --quiet \
  --endpoint-url "$AWS_ENDPOINT_URL" 2>/dev/null
"$BIN" serve --queue "$url" --store "$work/latency.db" --workers 2 --quiet \
  --endpoint-url "$AWS_ENDPOINT_URL" 2>"$work/latency.err" &
serving=$!
sleep 2
"$python" - "$work/objects" "$work/latency.db" "$LATENCY_OBJECTS" "$LATENCY_RATE" >"$work/latency.json" <<'PY'
import json, os, sqlite3, sys, threading, time, boto3
root, store, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
files = sorted(os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns)[:count]
put, seen = {}, {}
def observe():
    db = sqlite3.connect(store)
    deadline = time.time() + count / rate + 120
    while len(seen) < len(files) and time.time() < deadline:
        now = time.time()
        for (key,) in db.execute("SELECT key FROM processed_objects"):
            seen.setdefault(key, now)
        time.sleep(0.01)
watcher = threading.Thread(target=observe)
watcher.start()
s3 = boto3.client("s3")
start = time.time()
for i, path in enumerate(files):
    key = "latency/" + os.path.relpath(path, root)
    time.sleep(max(0.0, i / rate - (time.time() - start)))
    with open(path, "rb") as f:
        s3.put_object(Bucket="bench-latency", Key=key, Body=f.read())
    put[key] = time.time()
watcher.join()
lat = sorted((seen[k] - put[k]) * 1000 for k in put if k in seen)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(json.dumps({"objects": len(put), "committed": len(lat), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": lat[-1]}))
PY
kill -TERM "$serving"
wait "$serving" || true
serving=

echo "== 1 worker and scan s3:// on a moto that reads the retention period directly" >&2
# moto 5.2 checks each message it hands out against the queue's retention period by building every
# queue attribute, three of them counts over all queued messages: one ReceiveMessage costs O(queue²),
# so moto's time per object grows with the queue (SQS's does not). This moto reads the retention
# period directly; nothing else changes.
cat >"$work/moto_direct.py" <<'PY'
import sys
from moto.core.utils import unix_time
from moto.sqs.models import SQSBackend
def retained(self, queue_name, message):
    period = self.get_queue(queue_name).message_retention_period
    return period + message.sent_timestamp / 1000 > unix_time()
SQSBackend.is_message_valid_based_on_retention_period = retained
from moto.server import main
main(sys.argv[1:])
PY
kill "$moto"
wait "$moto" 2>/dev/null || true
"$python" "$work/moto_direct.py" -H 127.0.0.1 -p "$((port + 1))" >"$work/moto-direct.log" 2>&1 &
moto=$!
export AWS_ENDPOINT_URL=http://127.0.0.1:$((port + 1))
for _ in $(seq 100); do
  "$python" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/')" 2>/dev/null && break
  sleep 0.2
done
# Alternating rounds (the median is compared): one run of each is noisy on a shared machine.
for round in $(seq "$ROUNDS"); do
  drain "direct-$round" 1 "$work/objects" "$records" "serve 1 direct"
  scan "s3://direct-$round/AWSLogs/" "scan s3 direct"
done

"$python" - "$results" "$work/latency.json" <<'PY'
import json, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
print(f"{'run':<18} {'objects':>7} {'records':>8} {'seconds':>8} {'objects/s':>9} {'records/s':>9} {'peak MB':>8} {'MB/worker':>9} {'CPU s':>6} {'moto CPU':>8}")
base, rates = {}, {}
for label, objects, records, seconds, peak_kb, cpu, moto_cpu in rows:
    objects, records, seconds, peak, cpu, moto_cpu = int(objects), int(records), float(seconds), int(peak_kb) / 1024, float(cpu), float(moto_cpu)
    workers = int(label.split()[1]) if label.split()[1].isdigit() else 1
    print(f"{label + (' (2x)' if objects > int(rows[0][1]) else ''):<18} {objects:>7} {records:>8} {seconds:>8.2f} {objects / seconds:>9.1f} {records / seconds:>9.0f} {peak:>8.1f} {peak / workers:>9.1f} {cpu:>6.2f} {moto_cpu / seconds:>7.0%}")
    base.setdefault(label, objects / seconds)
    rates.setdefault(label, []).append(objects / seconds)
one, scan_s3, scan_local = base.get("serve 1"), base.get("scan s3"), base.get("scan local")
if one and scan_s3:
    print(f"1 worker vs `scan s3://` (one thread): {scan_s3 / one:.2f}x slower (goal: within 2x); vs local files: {scan_local / one:.1f}x")
median = lambda xs: sorted(xs)[len(xs) // 2]
direct, scan_direct = rates.get("serve 1 direct"), rates.get("scan s3 direct")
if direct and scan_direct:
    print(f"the same on moto without its O(queue²) receive, median of {len(direct)}: {median(scan_direct) / median(direct):.2f}x slower (goal: within 2x)")
peaks = {r[0] + ("2x" if int(r[1]) > int(rows[0][1]) else ""): int(r[4]) for r in rows if r[0] == "serve 1"}
if len(peaks) == 2:
    small, large = peaks["serve 1"], peaks["serve 12x"]
    print(f"1 worker's peak memory: {small / 1024:.1f} MB on {rows[0][1]} objects, {large / 1024:.1f} MB on twice as many ({'flat' if large <= small * 1.1 + 8192 else 'NOT flat'})")
lat = json.load(open(sys.argv[2]))
print(f"latency, PutObject -> committed (2 workers, {lat['committed']}/{lat['objects']} objects): p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms")
PY
