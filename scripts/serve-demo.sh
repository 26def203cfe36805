#!/usr/bin/env bash
# A local demo of `trailguard serve`: a moto server on 127.0.0.1 (S3 and SQS) from the test environment
# (scripts/setup.sh), a bucket whose object creations moto announces on an SQS queue (with a dead-letter
# queue after 3 receives), the sample trail uploaded into it, and two workers that drain the queue into the
# embedded SQLite store. Then `trailguard findings` lists what they stored. moto is stopped on exit.
#
#   bash scripts/serve-demo.sh            # store: .trailguard/serve-demo.db (made afresh)
#   PORT=5123 bash scripts/serve-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-5077}
store=.trailguard/serve-demo.db
rm -f "$store" "$store-wal" "$store-shm"
venv=$(bash scripts/setup.sh)
python=$venv/bin/python

echo "serve-demo: building trailguard" >&2
messages=$(cargo build --locked -p trailguard --bin trailguard --message-format=json-render-diagnostics)
bin=$(printf '%s\n' "$messages" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)

export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$python" -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  "$python" -c "import urllib.request; urllib.request.urlopen('$AWS_ENDPOINT_URL/moto-api/')" 2>/dev/null && break
  sleep 0.2
done

queue=$("$python" - samples/cloudtrail <<'PY'
import json, os, sys, boto3
sqs, s3 = boto3.client("sqs"), boto3.client("s3")
dlq = sqs.create_queue(QueueName="trail-files-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
url = sqs.create_queue(QueueName="trail-files", Attributes={"VisibilityTimeout": "5",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.create_bucket(Bucket="demo-trail")
s3.put_bucket_notification_configuration(Bucket="demo-trail", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
root = sys.argv[1]
for dirpath, _, files in os.walk(root):
    for name in files:
        path = os.path.join(dirpath, name)
        s3.upload_file(path, "demo-trail", os.path.relpath(path, root))
print(url)
PY
)

status=0
"$bin" serve --queue "$queue" --store "$store" --workers 2 --drain --endpoint-url "$AWS_ENDPOINT_URL" || status=$?
"$bin" findings --store "$store" --min-severity high --limit 10 || true
echo "serve-demo: the samples hold damaged and non-CloudTrail files on purpose: they are reported above, and SQS moved their messages to trail-files-dlq after 3 receives" >&2
exit "$status"
