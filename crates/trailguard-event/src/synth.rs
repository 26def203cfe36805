//! Synthetic CloudTrail records, shaped like real management events, for tests and the benchmark.
//!
//! Deterministic for a given seed. The mix follows what real trails look like (compare the Invictus data
//! set): mostly read-only calls (KMS, EC2 `Describe*`, STS, IAM `Get*`/`List*`, SSM, Secrets Manager,
//! S3 bucket reads), some ordinary writes, errors such as `AccessDenied`, and a sprinkling of IAM and
//! logging changes that detection rules should flag (admin policy attachments, access keys for other
//! users, `CreatePolicyVersion` with an admin document, `StopLogging`, console logins without MFA, ...).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// Where CloudTrail puts each member it writes, in a record and in its `userIdentity` (read off the real
/// logs in the shared data); members it does not rank follow, in name order.
const CLOUDTRAIL_ORDER: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
    // Inside userIdentity and its session context.
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "sessionContext",
    "invokedBy",
    "sessionIssuer",
    "webIdFederationData",
    "attributes",
    "creationDate",
    "mfaAuthenticated",
];

/// Compact JSON with each object's members in [`CLOUDTRAIL_ORDER`] (`serde_json`'s own maps sort them).
fn write_in_cloudtrail_order(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let rank = |key: &str| {
                CLOUDTRAIL_ORDER
                    .iter()
                    .position(|k| *k == key)
                    .unwrap_or(CLOUDTRAIL_ORDER.len())
            };
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Stable: unranked members keep the map's name order.
            members.sort_by_key(|(key, _)| rank(key));
            out.push('{');
            for (i, (key, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string serialises"));
                out.push(':');
                write_in_cloudtrail_order(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_in_cloudtrail_order(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }

    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn key_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut id = String::from(prefix);
        for _ in 0..16 {
            id.push(char::from(ALPHABET[self.below(32) as usize]));
        }
        id
    }
}

const ACCOUNTS: &[&str] = &["111122223333", "444455556666", "777788889999"];
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-1",
    "us-east-1",
    "us-east-1",
    "eu-west-1",
    "eu-west-1",
    "us-west-2",
    "ap-southeast-2",
];
const USERS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "deploy-bot",
    "terraform",
    "dave",
    "erin",
];
const ROLES: &[&str] = &[
    "OrganizationAccountAccessRole",
    "AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b",
    "AWSReservedSSO_ReadOnly_9f8e7d6c5b4a3f2e",
    "ci-deployer",
    "lambda-orders-exec",
    "ecs-task-payments",
    "eks-node-group",
];
const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.3 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.150.0",
    "aws-sdk-java/2.25.11 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "console.amazonaws.com",
];
const IPS: &[&str] = &[
    "203.0.113.17",
    "198.51.100.44",
    "192.0.2.81",
    "203.0.113.200",
    "100.24.13.7",
];

/// Makes records one at a time, with times moving forward from `start`.
#[derive(Debug, Clone)]
pub struct Synth {
    rng: Rng,
    time: DateTime<Utc>,
    /// Fixed account and region, as in one trail file of the S3 layout.
    trail: Option<(String, String)>,
}

/// The kind of record to make, picked by weight.
#[derive(Debug, Clone, Copy)]
enum Kind {
    ReadOnly,
    Write,
    Risky,
}

impl Synth {
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Synth {
            rng: Rng::new(seed),
            time: start,
            trail: None,
        }
    }

    /// Records for one account and region, like one file of a trail's S3 delivery.
    pub fn for_trail(mut self, account: &str, region: &str) -> Self {
        self.trail = Some((account.to_owned(), region.to_owned()));
        self
    }

    /// The accounts and regions records are spread over when no trail is fixed.
    pub fn accounts() -> &'static [&'static str] {
        ACCOUNTS
    }

    /// See [`Synth::accounts`].
    pub fn regions() -> &'static [&'static str] {
        &["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"]
    }

    /// The time the next record will carry.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The next record as compact JSON, the way CloudTrail writes it to S3: members in CloudTrail's
    /// own order (`userIdentity` second, `eventID` and `recipientAccountId` near the end), which
    /// decides how far a reader must go for a field.
    pub fn next_record(&mut self) -> String {
        let mut out = String::with_capacity(1536);
        write_in_cloudtrail_order(&self.next_value(), &mut out);
        out
    }

    /// The next record as a JSON value.
    pub fn next_value(&mut self) -> Value {
        self.time += Duration::milliseconds(100 + self.rng.below(900) as i64);
        let roll = self.rng.below(1000);
        let kind = match roll {
            0..=4 => Kind::Risky,
            5..=79 => Kind::Write,
            _ => Kind::ReadOnly,
        };
        let picked = (*self.rng.pick(ACCOUNTS), *self.rng.pick(REGIONS));
        let trail = self.trail.clone();
        let (account, region) = match &trail {
            Some((account, region)) => (account.as_str(), region.as_str()),
            None => picked,
        };
        let (source, name, request, response, resources) = match kind {
            Kind::ReadOnly => self.read_only(account, region),
            Kind::Write => self.write(account, region),
            Kind::Risky => self.risky(account),
        };
        let read_only = matches!(kind, Kind::ReadOnly);
        let identity = if source == "signin.amazonaws.com" {
            self.iam_user(account, false)
        } else {
            self.identity(account)
        };
        let mut record = json!({
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": self.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            "eventSource": source,
            "eventName": name,
            "awsRegion": if source == "iam.amazonaws.com" || source == "signin.amazonaws.com" { "us-east-1" } else { region },
            "sourceIPAddress": *self.rng.pick(IPS),
            "userAgent": *self.rng.pick(AGENTS),
            "requestParameters": request,
            "responseElements": response,
            "requestID": self.rng.uuid(),
            "eventID": self.rng.uuid(),
            "readOnly": read_only,
            "eventType": if source == "signin.amazonaws.com" { "AwsConsoleSignIn" } else { "AwsApiCall" },
            "managementEvent": true,
            "recipientAccountId": account,
            "eventCategory": "Management",
        });
        let map = record.as_object_mut().expect("json! object");
        if let Some(resources) = resources {
            map.insert("resources".into(), resources);
        }
        if source != "signin.amazonaws.com" {
            map.insert(
                "tlsDetails".into(),
                json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.trim_end_matches(".amazonaws.com"))}),
            );
        }
        if self.rng.chance(20) && source != "signin.amazonaws.com" {
            map.insert("errorCode".into(), json!("AccessDenied"));
            map.insert(
                "errorMessage".into(),
                json!(format!(
                    "User is not authorized to perform: {}:{name}",
                    source.trim_end_matches(".amazonaws.com")
                )),
            );
            map.insert("responseElements".into(), Value::Null);
        }
        record
    }

    fn identity(&mut self, account: &str) -> Value {
        match self.rng.below(100) {
            0..=54 => self.assumed_role(account),
            55..=89 => self.iam_user(account, true),
            90..=98 => {
                json!({"type": "AWSService", "invokedBy": self.rng.pick(&["lambda.amazonaws.com", "ec2.amazonaws.com", "cloudformation.amazonaws.com"])})
            }
            _ => {
                json!({"type": "Root", "principalId": account, "arn": format!("arn:aws:iam::{account}:root"), "accountId": account, "accessKeyId": self.rng.key_id("ASIA")})
            }
        }
    }

    fn iam_user(&mut self, account: &str, with_key: bool) -> Value {
        let user = *self.rng.pick(USERS);
        let mut identity = json!({
            "type": "IAMUser",
            "principalId": self.rng.key_id("AIDA"),
            "arn": format!("arn:aws:iam::{account}:user/{user}"),
            "accountId": account,
            "userName": user,
        });
        if with_key {
            identity["accessKeyId"] = json!(self.rng.key_id("AKIA"));
        }
        identity
    }

    fn assumed_role(&mut self, account: &str) -> Value {
        let role = *self.rng.pick(ROLES);
        let session = *self.rng.pick(USERS);
        let role_id = self.rng.key_id("AROA");
        json!({
            "type": "AssumedRole",
            "principalId": format!("{role_id}:{session}"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            "accountId": account,
            "accessKeyId": self.rng.key_id("ASIA"),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": (self.time - Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true), "mfaAuthenticated": if self.rng.chance(300) { "true" } else { "false" }}
            }
        })
    }

    #[allow(clippy::type_complexity)]
    fn read_only(
        &mut self,
        account: &str,
        region: &str,
    ) -> (&'static str, &'static str, Value, Value, Option<Value>) {
        let user = *self.rng.pick(USERS);
        let role = *self.rng.pick(ROLES);
        match self.rng.below(20) {
            0..=3 => {
                let key = self.rng.uuid();
                (
                    "kms.amazonaws.com",
                    *self.rng.pick(&["Decrypt", "GenerateDataKey", "Decrypt"]),
                    json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:lambda:FunctionArn": format!("arn:aws:lambda:{region}:{account}:function:orders-api")}}),
                    Value::Null,
                    Some(
                        json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{account}:key/{key}")}]),
                    ),
                )
            }
            4..=7 => (
                "ec2.amazonaws.com",
                *self.rng.pick(&[
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeVpcs",
                    "DescribeSubnets",
                    "DescribeRouteTables",
                    "DescribeNetworkInterfaces",
                ]),
                json!({"filterSet": {"items": [{"name": "vpc-id", "valueSet": {"items": [{"value": format!("vpc-0{:016x}", self.rng.next_u64() >> 1)}]}}]}, "maxResults": 1000}),
                Value::Null,
                None,
            ),
            8..=10 => {
                let creds = json!({"accessKeyId": self.rng.key_id("ASIA"), "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "expiration": "Mar 1, 2024, 1:00:00 PM"});
                (
                    "sts.amazonaws.com",
                    "AssumeRole",
                    json!({"roleArn": format!("arn:aws:iam::{account}:role/{role}"), "roleSessionName": user, "durationSeconds": 3600}),
                    json!({"credentials": creds, "assumedRoleUser": {"assumedRoleId": format!("{}:{user}", self.rng.key_id("AROA")), "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{user}")}}),
                    Some(
                        json!([{"accountId": account, "type": "AWS::IAM::Role", "ARN": format!("arn:aws:iam::{account}:role/{role}")}]),
                    ),
                )
            }
            11 => (
                "sts.amazonaws.com",
                "GetCallerIdentity",
                Value::Null,
                Value::Null,
                None,
            ),
            12..=13 => (
                "iam.amazonaws.com",
                *self.rng.pick(&[
                    "GetUser",
                    "GetRole",
                    "ListRoles",
                    "ListAttachedRolePolicies",
                    "ListPolicies",
                    "GetAccountAuthorizationDetails",
                ]),
                json!({"roleName": role}),
                Value::Null,
                None,
            ),
            14..=15 => (
                "ssm.amazonaws.com",
                *self
                    .rng
                    .pick(&["GetParameter", "DescribeParameters", "GetParameters"]),
                json!({"name": format!("/prod/{}/db-password", self.rng.pick(&["orders", "payments", "search"])), "withDecryption": true}),
                Value::Null,
                None,
            ),
            16 => (
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                json!({"secretId": format!("arn:aws:secretsmanager:{region}:{account}:secret:prod/db-{:06x}", self.rng.below(1 << 24))}),
                Value::Null,
                None,
            ),
            17 => (
                "s3.amazonaws.com",
                *self.rng.pick(&[
                    "GetBucketAcl",
                    "ListBuckets",
                    "GetBucketPolicy",
                    "GetBucketLocation",
                ]),
                json!({"bucketName": format!("acme-{account}-logs"), "Host": format!("acme-{account}-logs.s3.amazonaws.com"), "acl": ""}),
                Value::Null,
                None,
            ),
            18 => (
                "logs.amazonaws.com",
                "DescribeLogGroups",
                json!({"limit": 50, "logGroupNamePrefix": "/aws/lambda/"}),
                Value::Null,
                None,
            ),
            _ => (
                "cloudtrail.amazonaws.com",
                *self
                    .rng
                    .pick(&["DescribeTrails", "GetTrailStatus", "LookupEvents"]),
                json!({"includeShadowTrails": false}),
                Value::Null,
                None,
            ),
        }
    }

    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        account: &str,
        region: &str,
    ) -> (&'static str, &'static str, Value, Value, Option<Value>) {
        match self.rng.below(6) {
            0 => (
                "ssm.amazonaws.com",
                "PutParameter",
                json!({"name": "/prod/feature-flags", "type": "String", "overwrite": true}),
                json!({"version": self.rng.below(90) + 1, "tier": "Standard"}),
                None,
            ),
            1 => (
                "ec2.amazonaws.com",
                "CreateTags",
                json!({"resourcesSet": {"items": [{"resourceId": format!("i-0{:016x}", self.rng.next_u64() >> 1)}]}, "tagSet": {"items": [{"key": "team", "value": "payments"}]}}),
                json!({"_return": true}),
                None,
            ),
            2 => (
                "logs.amazonaws.com",
                "CreateLogStream",
                json!({"logGroupName": "/aws/lambda/orders-api", "logStreamName": format!("2024/03/01/[$LATEST]{:032x}", self.rng.next_u64() as u128)}),
                Value::Null,
                None,
            ),
            3 => (
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                json!({"functionName": "orders-api", "publish": true, "s3Bucket": format!("acme-{account}-artifacts")}),
                json!({"functionName": "orders-api", "functionArn": format!("arn:aws:lambda:{region}:{account}:function:orders-api"), "runtime": "python3.12", "codeSize": 4_812_334}),
                None,
            ),
            4 => (
                "kms.amazonaws.com",
                "CreateGrant",
                json!({"keyId": format!("arn:aws:kms:{region}:{account}:key/{}", self.rng.uuid()), "operations": ["Decrypt", "GenerateDataKey"], "granteePrincipal": "ec2.amazonaws.com"}),
                json!({"grantId": format!("{:064x}", self.rng.next_u64() as u128)}),
                None,
            ),
            _ => (
                "s3.amazonaws.com",
                "PutBucketTagging",
                json!({"bucketName": format!("acme-{account}-data"), "Tagging": {"TagSet": {"Tag": {"Key": "env", "Value": "prod"}}}}),
                Value::Null,
                None,
            ),
        }
    }

    #[allow(clippy::type_complexity)]
    fn risky(
        &mut self,
        account: &str,
    ) -> (&'static str, &'static str, Value, Value, Option<Value>) {
        let user = *self.rng.pick(USERS);
        let target = format!("svc-{}", self.rng.below(1000));
        let admin_doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        match self.rng.below(14) {
            0 => (
                "iam.amazonaws.com",
                "CreateUser",
                json!({"userName": target}),
                json!({"user": {"userName": target, "path": "/", "userId": self.rng.key_id("AIDA"), "arn": format!("arn:aws:iam::{account}:user/{target}"), "createDate": "Mar 1, 2024, 12:00:00 PM"}}),
                None,
            ),
            1 => (
                "iam.amazonaws.com",
                "CreateAccessKey",
                json!({"userName": target}),
                json!({"accessKey": {"userName": target, "accessKeyId": self.rng.key_id("AKIA"), "status": "Active", "createDate": "Mar 1, 2024, 12:00:01 PM"}}),
                None,
            ),
            2 => (
                "iam.amazonaws.com",
                "AttachUserPolicy",
                json!({"userName": target, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                Value::Null,
                None,
            ),
            3 => (
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "ci-deployer", "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"}),
                Value::Null,
                None,
            ),
            4 => (
                "iam.amazonaws.com",
                "CreatePolicyVersion",
                json!({"policyArn": format!("arn:aws:iam::{account}:policy/app-policy"), "policyDocument": admin_doc, "setAsDefault": true}),
                json!({"policyVersion": {"versionId": "v2", "isDefaultVersion": true, "createDate": "Mar 1, 2024, 12:00:00 PM"}}),
                None,
            ),
            5 => (
                "iam.amazonaws.com",
                "PutUserPolicy",
                json!({"userName": user, "policyName": "inline-admin", "policyDocument": admin_doc}),
                Value::Null,
                None,
            ),
            6 => (
                "iam.amazonaws.com",
                "CreateLoginProfile",
                json!({"userName": target, "passwordResetRequired": false}),
                json!({"loginProfile": {"userName": target, "createDate": "Mar 1, 2024, 12:00:00 PM", "passwordResetRequired": false}}),
                None,
            ),
            7 => (
                "iam.amazonaws.com",
                "DeactivateMFADevice",
                json!({"userName": user, "serialNumber": format!("arn:aws:iam::{account}:mfa/{user}")}),
                Value::Null,
                None,
            ),
            8 => (
                "iam.amazonaws.com",
                "UpdateAccountPasswordPolicy",
                json!({"minimumPasswordLength": 8, "requireSymbols": false, "requireNumbers": true, "requireUppercaseCharacters": false, "requireLowercaseCharacters": true, "allowUsersToChangePassword": true, "passwordReusePrevention": 3}),
                Value::Null,
                None,
            ),
            9 => (
                "iam.amazonaws.com",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "ci-deployer", "policyDocument": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#}),
                Value::Null,
                None,
            ),
            10 => (
                "cloudtrail.amazonaws.com",
                "StopLogging",
                json!({"name": format!("arn:aws:cloudtrail:us-east-1:{account}:trail/org-trail")}),
                Value::Null,
                None,
            ),
            11 => (
                "iam.amazonaws.com",
                "CreateAccountAlias",
                json!({"accountAlias": account}),
                Value::Null,
                None,
            ),
            12 => (
                "signin.amazonaws.com",
                "ConsoleLogin",
                Value::Null,
                json!({"ConsoleLogin": if self.rng.chance(300) { "Failure" } else { "Success" }}),
                None,
            ),
            _ => (
                "iam.amazonaws.com",
                "DeleteAccountPasswordPolicy",
                Value::Null,
                Value::Null,
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use serde_json::value::RawValue;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn same_seed_same_records_and_every_record_parses() {
        let mut a = Synth::new(7, start());
        let mut b = Synth::new(7, start());
        let mut sources = std::collections::BTreeSet::new();
        let mut read_only = 0;
        for _ in 0..3000 {
            let text = a.next_record();
            assert_eq!(text, b.next_record());
            let raw: &RawValue = serde_json::from_str(&text).unwrap();
            let record = Record::from_raw(raw).unwrap();
            sources.insert(record.event_source.to_string());
            read_only += usize::from(record.read_only == Some(true));
        }
        assert!(sources.len() >= 10, "{sources:?}");
        assert!(read_only > 2500 && read_only < 2950, "{read_only}");
        assert!(Synth::new(8, start()).next_record() != Synth::new(7, start()).next_record());
    }

    #[test]
    fn records_are_written_in_cloudtrail_member_order() {
        let mut synth = Synth::new(3, start());
        let mut same_seed = Synth::new(3, start());
        for _ in 0..500 {
            let text = synth.next_record();
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                value,
                same_seed.next_value(),
                "the same members, reordered only"
            );
            assert_eq!(text.len(), value.to_string().len(), "compact");
            assert!(
                text.starts_with(r#"{"eventVersion":"1.08","userIdentity":{"type":""#),
                "{text}"
            );
            let at = |key: &str| text.find(&format!(r#","{key}":"#));
            let order = [
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "requestID",
                "eventID",
                "readOnly",
                "eventType",
                "managementEvent",
                "recipientAccountId",
                "eventCategory",
            ];
            let places: Vec<_> = order.iter().map(|k| at(k).expect(k)).collect();
            assert!(places.windows(2).all(|w| w[0] < w[1]), "{text}");
        }
    }
}
