#!/usr/bin/env python3
"""Builds samples/cloudtrail: a small, realistic trail in the real S3 layout.

Real records (Invictus IR and Stratus Red Team, see samples/README.md) are adapted: account ids become
111122223333, Stratus' scrambled regions become us-east-1 and its times move to 2023-07-10 13:30Z, and its
made-up IP addresses become documentation addresses. Events we write ourselves follow on 2023-07-11,
shaped exactly like the real ones. One corrupt .gz, one non-CloudTrail JSON file and one digest file show
how scans report bad input and keep going. Output is deterministic (fixed gzip mtime, uuid5 ids).

Run from the repository root:  python3 samples/make_samples.py
"""
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import uuid

ROOT = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(ROOT, "..", "..", "shared", "data", "cloudtrail")
if not os.path.isdir(DATA):
    DATA = "/work/shared/data/cloudtrail"
OUT = os.path.join(ROOT, "cloudtrail")
ACCOUNT = "111122223333"
BASE = os.path.join(OUT, "AWSLogs", ACCOUNT, "CloudTrail")
NS = uuid.UUID("6f1c2c51-8a55-4f57-9a39-1a3b9ac0d7e4")

INVICTUS_FILES = [
    "218007301253_CloudTrail_us-east-1_20230710T1210Z_6CICdbJQM3beT7n3.json",
    "218007301253_CloudTrail_us-east-1_20230710T1230Z_ZtUNbBkwAu98FPZb.json",
    "218007301253_CloudTrail_us-east-1_20230710T1230Z_KV9LZlfXqBel7nqf.json",
]
STRATUS_FILES = [
    "aws.persistence.iam-create-admin-user.json",
    "aws.persistence.iam-backdoor-user.json",
    "aws.persistence.iam-backdoor-role.json",
    "aws.persistence.iam-create-user-login-profile.json",
    "aws.privilege-escalation.iam-update-user-login-profile.json",
    "aws.defense-evasion.cloudtrail-event-selectors.json",
    "aws.initial-access.console-login-without-mfa.json",
]


def suffix(seed):
    digest = hashlib.sha256(seed.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:16])


def write_gz(path, records):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(body)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def log_path(region, when, seed):
    stamp = when.strftime("%Y%m%dT%H%MZ")
    name = f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{suffix(seed)}.json.gz"
    return os.path.join(BASE, region, when.strftime("%Y/%m/%d"), name)


SCRAMBLED_REGION = re.compile(r"\b[a-z]+(?:-[a-z]+)+-\d+r\b")


def rewrite_account(record, old):
    text = json.dumps(record).replace(old, ACCOUNT)
    return json.loads(text)


def rewrite_regions(record):
    """Stratus Red Team scrambled region names (`ap-central-2r`); IAM and STS calls are us-east-1."""
    return json.loads(SCRAMBLED_REGION.sub("us-east-1", json.dumps(record)))


def invictus():
    for name in INVICTUS_FILES:
        with open(os.path.join(DATA, "invictus-ir", "CloudTrail", name)) as f:
            records = json.load(f)["Records"]
        records = [rewrite_account(r, r["recipientAccountId"]) for r in records]
        stamp = re.search(r"_(\d{8}T\d{4}Z)_", name).group(1)
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%MZ")
        write_gz(log_path("us-east-1", when, name), records)
        yield len(records)


def stratus():
    records = []
    for name in STRATUS_FILES:
        with open(os.path.join(DATA, "stratus-red-team", "docs", "detonation-logs", name)) as f:
            records.extend(json.load(f))
    records.sort(key=lambda r: r["eventTime"])
    start = dt.datetime(2023, 7, 10, 13, 30, 5)
    out = []
    for i, record in enumerate(records):
        record = rewrite_regions(rewrite_account(record, record["recipientAccountId"]))
        record["eventTime"] = (start + dt.timedelta(seconds=17 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record["sourceIPAddress"] = f"198.51.100.{10 + i}"
        out.append(record)
    write_gz(log_path("us-east-1", dt.datetime(2023, 7, 10, 13, 40), "stratus"), out)
    return len(out)


ALICE = {
    "type": "IAMUser",
    "principalId": "AIDAYHQ2V4EXAMPLE7ALI",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/dev-alice",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAYHQ2V4EXAMPLEKEY",
    "userName": "dev-alice",
}
ATTACKER_IP = "203.0.113.66"
CLI_UA = "aws-cli/2.13.1 Python/3.11.4 Linux/5.15.0-76-generic exe/x86_64.ubuntu.22 prompt/off command/iam"


def api_call(name, source, time, identity, params, response=None, region="us-east-1", ip=ATTACKER_IP,
             ua=CLI_UA, error=None, read_only=False):
    record = {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error:
        record["errorCode"] = error[0]
        record["errorMessage"] = error[1]
    record["requestParameters"] = params
    record["responseElements"] = response
    record["requestID"] = str(uuid.uuid5(NS, "req" + name + time))
    record["eventID"] = str(uuid.uuid5(NS, "evt" + name + time))
    record["readOnly"] = read_only
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = ACCOUNT
    record["eventCategory"] = "Management"
    host = source if source.startswith(("iam.", "sts.")) else source.replace(".amazonaws.com", f".{region}.amazonaws.com")
    record["tlsDetails"] = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": host,
    }
    return record


def console_login(time, identity, mfa, ip, ua):
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": dict(
            {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
             "MobileVersion": "No"},
            **({"MFAIdentifier": f"arn:aws:iam::{ACCOUNT}:mfa/{identity['userName']}"} if mfa else {}),
            MFAUsed="Yes" if mfa else "No",
        ),
        "eventID": str(uuid.uuid5(NS, "login" + time)),
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "signin.aws.amazon.com",
        },
    }


def crafted():
    browser = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0"
    ops = {
        "type": "IAMUser",
        "principalId": "AIDAYHQ2V4EXAMPLE7OPS",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ops-bob",
        "accountId": ACCOUNT,
        "userName": "ops-bob",
    }
    ops_login = dict(ops)
    ops_login.pop("accessKeyId", None)
    alice_login = {k: v for k, v in ALICE.items() if k != "accessKeyId"}
    ci = {
        "type": "AssumedRole",
        "principalId": "AROAYHQ2V4EXAMPLECIRL:gh-run-812",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/gh-run-812",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAYHQ2V4EXAMPLETMP",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAYHQ2V4EXAMPLECIRL",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/ci-deploy",
                "accountId": ACCOUNT,
                "userName": "ci-deploy",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2023-07-11T08:19:02Z", "mfaAuthenticated": "false"},
        },
    }
    admin_doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]},
        indent=2,
    )
    escalate_doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
    )
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/ops-readonly"
    east = [
        console_login("2023-07-11T07:55:03Z", ops_login, True, "192.0.2.44", browser),
        console_login("2023-07-11T08:02:11Z", alice_login, False, ATTACKER_IP, browser),
        api_call("GetCallerIdentity", "sts.amazonaws.com", "2023-07-11T08:03:40Z", ALICE, None,
                 {"userId": ALICE["principalId"], "account": ACCOUNT, "arn": ALICE["arn"]}, read_only=True),
        api_call("ListUsers", "iam.amazonaws.com", "2023-07-11T08:04:02Z", ALICE, None, None, read_only=True),
        api_call("CreatePolicyVersion", "iam.amazonaws.com", "2023-07-11T08:05:42Z", ALICE,
                 {"policyArn": policy_arn, "policyDocument": admin_doc, "setAsDefault": True},
                 {"policyVersion": {"versionId": "v2", "isDefaultVersion": True,
                                    "createDate": "Jul 11, 2023 8:05:42 AM"}}),
        api_call("CreateAccessKey", "iam.amazonaws.com", "2023-07-11T08:07:19Z", ALICE,
                 {"userName": "backup-admin"},
                 {"accessKey": {"userName": "backup-admin", "accessKeyId": "AKIAYHQ2V4EXAMPLEBKP",
                                "status": "Active", "createDate": "Jul 11, 2023 8:07:19 AM"}}),
        api_call("DeactivateMFADevice", "iam.amazonaws.com", "2023-07-11T08:09:55Z", ALICE,
                 {"userName": "backup-admin", "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/backup-admin"}),
        api_call("CreateAccountAlias", "iam.amazonaws.com", "2023-07-11T08:11:30Z", ALICE,
                 {"accountAlias": "test"}),
        api_call("UpdateAccountPasswordPolicy", "iam.amazonaws.com", "2023-07-11T08:13:08Z", ALICE,
                 {"minimumPasswordLength": 8, "requireSymbols": False, "requireNumbers": True,
                  "requireUppercaseCharacters": True, "requireLowercaseCharacters": True,
                  "allowUsersToChangePassword": True, "maxPasswordAge": 0, "passwordReusePrevention": 0,
                  "hardExpiry": False}),
        api_call("PutUserPolicy", "iam.amazonaws.com", "2023-07-11T08:20:31Z", ci,
                 {"userName": "dev-alice", "policyName": "break-glass", "policyDocument": escalate_doc},
                 None, ip="192.0.2.200",
                 ua="Boto3/1.28.3 md/Botocore#1.31.3 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.11.4 cfg/retry-mode#legacy Botocore/1.31.3",
                 error=("AccessDenied",
                        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/gh-run-812 is not authorized to "
                        f"perform: iam:PutUserPolicy on resource: user dev-alice because no identity-based "
                        f"policy allows the iam:PutUserPolicy action")),
    ]
    west = [
        api_call("DescribeTrails", "cloudtrail.amazonaws.com", "2023-07-11T08:14:48Z", ALICE,
                 {"trailNameList": [], "includeShadowTrails": True}, None, region="eu-west-1", read_only=True),
        api_call("StopLogging", "cloudtrail.amazonaws.com", "2023-07-11T08:15:02Z", ALICE,
                 {"name": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/management-events"}, None,
                 region="eu-west-1"),
    ]
    day = dt.datetime(2023, 7, 11, 8, 15)
    write_gz(log_path("us-east-1", day, "crafted-east"), east)
    write_gz(log_path("eu-west-1", dt.datetime(2023, 7, 11, 8, 20), "crafted-west"), west)
    return len(east) + len(west)


def bad_inputs():
    # A delivery cut short: the first 120 bytes of a gzip file, too few for any whole record.
    calls = [api_call("ListRoles", "iam.amazonaws.com", f"2023-07-11T08:2{i}:00Z", ALICE, None, None, read_only=True)
             for i in range(5)]
    corrupt = log_path("us-east-1", dt.datetime(2023, 7, 11, 8, 25), "corrupt")
    write_gz(corrupt, calls)
    with open(corrupt, "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[:120])
    # Someone's notes dropped into the bucket: JSON, but not CloudTrail.
    notes = os.path.join(BASE, "us-east-1", "2023", "07", "11", "bucket-inventory.json")
    with open(notes, "w") as f:
        json.dump({"inventory": {"bucket": "acme-trail-logs", "objects": 41, "owner": "secops"}}, f, indent=2)
        f.write("\n")
    # A digest file: recognised and skipped, not an error.
    digest_dir = os.path.join(OUT, "AWSLogs", ACCOUNT, "CloudTrail-Digest", "us-east-1", "2023", "07", "11")
    os.makedirs(digest_dir, exist_ok=True)
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2023-07-11T07:22:40Z",
        "digestEndTime": "2023-07-11T08:22:40Z",
        "digestS3Bucket": "acme-trail-logs",
        "digestS3Object": f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2023/07/11/"
                          f"{ACCOUNT}_CloudTrail-Digest_us-east-1_management-events_us-east-1_20230711T082240Z.json.gz",
        "digestPublicKeyFingerprint": "9d2b2d9a4c1e4fa0f7a6a4f1f0b4c8e2",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": "2023-07-11T08:20:31Z",
        "oldestEventTime": "2023-07-11T07:55:03Z",
        "previousDigestS3Bucket": "acme-trail-logs",
        "previousDigestSignature": "0" * 64,
        "logFiles": [],
    }
    path = os.path.join(digest_dir,
                        f"{ACCOUNT}_CloudTrail-Digest_us-east-1_management-events_us-east-1_20230711T082240Z.json.gz")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(json.dumps(digest).encode())
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    real = sum(invictus()) + stratus()
    ours = crafted()
    bad_inputs()
    print(f"samples/cloudtrail: {real} real records, {ours} written by us, 3 special files")


if __name__ == "__main__":
    main()
