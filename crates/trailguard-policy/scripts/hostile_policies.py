#!/usr/bin/env python3
"""Writes the hostile policies `trailguard policy check` must handle fast and small, for measuring:

    python3 crates/trailguard-policy/scripts/hostile_policies.py /tmp/hostile
    for f in /tmp/hostile/*.json; do /usr/bin/time -f "$f %es %MKB" trailguard policy check -q "$f" >/dev/null; done

- stars.json: a Resource of 100,000 `*` after an S3 bucket ARN, and one of 100,000 bare `*`
- stars_auth.json: the same inside `get-account-authorization-details` output
- huge.json: one 8 MB Resource string
- many.json: 10,000 statements (each on its own bucket, plus a twin and a `*` that covers them all)
"""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "hostile"
os.makedirs(out, exist_ok=True)


def write(name, value):
    with open(os.path.join(out, name), "w") as f:
        json.dump(value, f)


stars = "arn:aws:s3:::b/" + "*" * 100_000
policy = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": stars},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" * 100_000}]}
write("stars.json", policy)
write("stars_auth.json", {"Policies": [{"PolicyName": "stars", "Arn": "arn:aws:iam::111122223333:policy/stars",
                                        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True,
                                                               "Document": policy}]}]})
write("huge.json", {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": "arn:aws:s3:::bucket/" + "ab/" * ((8 << 20) // 3)}]})
statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject",
               "Resource": f"arn:aws:s3:::bucket-{i}/*"} for i in range(10_000)]
statements.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-7/*"})
statements.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
write("many.json", {"Version": "2012-10-17", "Statement": statements})
