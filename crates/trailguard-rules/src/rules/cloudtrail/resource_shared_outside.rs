//! CT064 resource-shared-outside: a resource-based policy (S3 bucket, KMS key, Secrets Manager secret, SQS
//! queue, SNS topic, ECR repository) set so that everyone or another AWS account may use the resource, or
//! an AMI, EBS snapshot or RDS snapshot shared with them. IAM Access Analyzer's external-access question,
//! asked of each change as it is recorded.

use serde_json::Value;
use trailguard_event::Record;
use trailguard_policy::PolicyDocument;

use super::common::{
    call_failed, describe_caller, event_in, evidence, finding_for, names_missing_principal,
    policy_text, region_arg, regional_arn, request_field, sh,
};
use super::outsiders::{outsiders, without_statements, Outsider};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT064",
    name: "resource-shared-outside",
    title: "Resource opened to everyone or another account",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1537", "T1098"],
    compliance: &["S3.2", "S3.3", "KMS.5"],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A resource-based policy written by `s3:PutBucketPolicy`, `kms:PutKeyPolicy` or `kms:CreateKey`, \
               `secretsmanager:PutResourcePolicy`, `sqs:SetQueueAttributes` or `sqs:CreateQueue`, \
               `sns:SetTopicAttributes` or `sns:CreateTopic`, or `ecr:SetRepositoryPolicy`, with an `Allow` \
               statement for a principal outside the account; or an AMI (`ModifyImageAttribute`), EBS \
               snapshot (`ModifySnapshotAttribute`) or RDS snapshot (`ModifyDBSnapshotAttribute`, \
               `ModifyDBClusterSnapshotAttribute`) shared with another account or made public (`all`). \
               **high** for everyone (`*`, `{\"AWS\": \"*\"}` \
               or `NotPrincipal`) without conditions, and for a public image or snapshot; **medium** for everyone limited only by other \
               conditions (a source IP, TLS), and for another AWS account. Statements bound to the \
               organization, to named accounts or principals, to a VPC or VPC endpoint, to a source \
               resource (`aws:SourceArn`, `aws:SourceAccount`) or, in a key policy, to the calling account \
               (`kms:CallerAccount`) are not reported, nor are service principals and principals of the \
               account itself. A refused call is an attempt, one step lower.",
        why: "A resource policy lets principals in without any IAM user or role of the account: a bucket, \
              key, secret, queue, topic or image repository shared with an attacker's account is a way to \
              take data out (T1537 Transfer Data to Cloud Account) and to keep access after every \
              credential is rotated (T1098), and `*` shares it with everyone. IAM Access Analyzer reports \
              such access on its next scan; this reports the change that made it, with who made it. A \
              snapshot or image shared with another account is a copy of the disk or database there \
              (Stratus Red Team `ec2-share-ebs-snapshot`, `ec2-share-ami`, `rds-share-snapshot`).",
        example: "Role session `Admin/alice` calls `aws s3api put-bucket-policy --bucket payroll-exports` \
                  with a statement `{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::193672423079:root\"},\
                  \"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::payroll-exports/*\"}`.",
        fix: "Put the policy back without the outside statements (the finding gives it) or delete it, or \
              remove the shared account from the image or snapshot, then check the resource's access logs \
              for use by the outside principal (a shared snapshot may already be copied). Share with other \
              accounts of the organization through `aws:PrincipalOrgID`, and keep S3 Block Public Access \
              on.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html",
            "https://attack.mitre.org/techniques/T1537/",
        ],
    },
};

/// The calls that write a resource policy.
const WATCHED: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "PutBucketPolicy"),
    ("kms.amazonaws.com", "PutKeyPolicy"),
    ("kms.amazonaws.com", "CreateKey"),
    ("secretsmanager.amazonaws.com", "PutResourcePolicy"),
    ("sqs.amazonaws.com", "SetQueueAttributes"),
    ("sqs.amazonaws.com", "CreateQueue"),
    ("sns.amazonaws.com", "SetTopicAttributes"),
    ("sns.amazonaws.com", "CreateTopic"),
    ("ecr.amazonaws.com", "SetRepositoryPolicy"),
    ("ec2.amazonaws.com", "ModifyImageAttribute"),
    ("ec2.amazonaws.com", "ModifySnapshotAttribute"),
    ("rds.amazonaws.com", "ModifyDBSnapshotAttribute"),
    ("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute"),
];

/// Conditions that tie a statement to a network or a source resource, besides the organization and
/// account keys every outsider check reads.
const BINDING_KEYS: &[&str] = &[
    "aws:SourceVpce",
    "aws:SourceVpc",
    "aws:SourceArn",
    "aws:SourceOwner",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "kms:CallerAccount",
];

/// The resource a call writes the policy of, and how to put a policy back.
struct Target {
    noun: &'static str,
    resource: Resource,
    /// The policy as the call wrote it.
    policy: String,
}

fn nested_policy(params: Option<&Value>, container: &str) -> Option<String> {
    params?
        .get(container)?
        .get("Policy")?
        .as_str()
        .map(str::to_owned)
}

/// The string at `pointer` (RFC 6901) in `responseElements`, parsed once by the caller.
fn response_field(response: Option<&Value>, pointer: &str) -> Option<String> {
    response?.pointer(pointer)?.as_str().map(str::to_owned)
}

/// The name a request gives, else the last `separator`-separated part of the resource's URL or ARN.
fn name_or_last(name: Option<String>, id: Option<&str>, separator: char) -> Option<String> {
    name.or_else(|| id?.rsplit(separator).next().map(str::to_owned))
}

fn target(record: &Record<'_>, params: Option<&Value>) -> Option<Target> {
    // A created key, queue or topic is named in the response.
    let response = record.response_elements();
    let field = |key: &str| request_field(params, key);
    let resource = |kind: &str, id: String, name: String| Resource {
        kind: kind.to_owned(),
        id,
        name: Some(name),
    };
    let (noun, resource, policy) = match record.event_name.as_ref() {
        "PutBucketPolicy" => {
            let bucket = field("bucketName")?;
            let arn = format!("arn:aws:s3:::{bucket}");
            (
                "bucket",
                resource("AwsS3Bucket", arn, bucket),
                policy_text(params, "bucketPolicy")?,
            )
        }
        "PutKeyPolicy" | "CreateKey" => {
            let key = field("keyId")
                .or_else(|| response_field(response.as_ref(), "/keyMetadata/keyId"))
                .unwrap_or_else(|| "(new key)".to_owned());
            let arn = response_field(response.as_ref(), "/keyMetadata/arn").unwrap_or_else(|| {
                if key.starts_with("arn:") {
                    key.clone()
                } else {
                    regional_arn(record, "kms", &format!("key/{key}"))
                }
            });
            (
                "KMS key",
                resource("AwsKmsKey", arn, key),
                policy_text(params, "policy")?,
            )
        }
        "PutResourcePolicy" => {
            let secret = field("secretId")?;
            (
                "secret",
                resource("AwsSecretsManagerSecret", secret.clone(), secret),
                policy_text(params, "resourcePolicy")?,
            )
        }
        "SetQueueAttributes" | "CreateQueue" => {
            let url = field("queueUrl").or_else(|| response_field(response.as_ref(), "/queueUrl"));
            let name = name_or_last(field("queueName"), url.as_deref(), '/')?;
            (
                "queue",
                resource("AwsSqsQueue", url.unwrap_or_else(|| name.clone()), name),
                nested_policy(params, "attributes")?,
            )
        }
        "SetTopicAttributes" | "CreateTopic" => {
            let policy = if record.event_name == "SetTopicAttributes" {
                (field("attributeName").as_deref() == Some("Policy"))
                    .then(|| field("attributeValue"))
                    .flatten()?
            } else {
                nested_policy(params, "attributes")?
            };
            let arn = field("topicArn").or_else(|| response_field(response.as_ref(), "/topicArn"));
            let name = name_or_last(field("name"), arn.as_deref(), ':')?;
            (
                "topic",
                resource("AwsSnsTopic", arn.unwrap_or_else(|| name.clone()), name),
                policy,
            )
        }
        "SetRepositoryPolicy" => {
            let repository = field("repositoryName")?;
            let arn = regional_arn(record, "ecr", &format!("repository/{repository}"));
            (
                "repository",
                resource("AwsEcrRepository", arn, repository),
                field("policyText")?,
            )
        }
        _ => return None,
    };
    Some(Target {
        noun,
        resource,
        policy,
    })
}

/// An image or snapshot shared by a permission change rather than a policy.
struct Share {
    noun: &'static str,
    resource: Resource,
    /// The accounts added, and whether `all` (public) was.
    accounts: Vec<String>,
    public: bool,
    /// The request member that holds the change, for the evidence.
    member: &'static str,
}

/// The accounts (and `all`) an `add` list of EC2 permission items names: `{"userId": ...}` or
/// `{"group": "all"}`; organization and OU items stay within the organization.
fn ec2_added(params: Option<&Value>, member: &str) -> (Vec<String>, bool) {
    let items = params
        .and_then(|p| p.get(member)?.get("add")?.get("items")?.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let accounts = items
        .iter()
        .filter_map(|i| i.get("userId")?.as_str().map(str::to_owned))
        .collect();
    let public = items
        .iter()
        .any(|i| i.get("group").and_then(Value::as_str) == Some("all"));
    (accounts, public)
}

fn share(record: &Record<'_>, params: Option<&Value>) -> Option<Share> {
    let region = record.aws_region.as_deref().unwrap_or("REGION");
    let field = |key: &str| request_field(params, key);
    let resource = |kind: &str, id: String, name: String| Resource {
        kind: kind.to_owned(),
        id,
        name: Some(name),
    };
    let (noun, resource, (accounts, public), member) = match record.event_name.as_ref() {
        "ModifyImageAttribute" => {
            let image = field("imageId")?;
            (
                "image",
                resource(
                    "AwsEc2Image",
                    format!("arn:aws:ec2:{region}::image/{image}"),
                    image,
                ),
                ec2_added(params, "launchPermission"),
                "launchPermission",
            )
        }
        "ModifySnapshotAttribute" => {
            let snapshot = field("snapshotId")?;
            (
                "EBS snapshot",
                resource(
                    "AwsEc2Snapshot",
                    format!("arn:aws:ec2:{region}::snapshot/{snapshot}"),
                    snapshot,
                ),
                ec2_added(params, "createVolumePermission"),
                "createVolumePermission",
            )
        }
        name @ ("ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute") => {
            if field("attributeName").as_deref() != Some("restore") {
                return None;
            }
            let cluster = name == "ModifyDBClusterSnapshotAttribute";
            let snapshot = field(if cluster {
                "dBClusterSnapshotIdentifier"
            } else {
                "dBSnapshotIdentifier"
            })?;
            let values: Vec<String> = params
                .and_then(|p| p.get("valuesToAdd")?.as_array())
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let public = values.iter().any(|v| v == "all");
            let accounts = values.into_iter().filter(|v| v != "all").collect();
            let arn = if snapshot.starts_with("arn:") {
                snapshot.clone()
            } else if cluster {
                regional_arn(record, "rds", &format!("cluster-snapshot:{snapshot}"))
            } else {
                regional_arn(record, "rds", &format!("snapshot:{snapshot}"))
            };
            (
                if cluster {
                    "RDS cluster snapshot"
                } else {
                    "RDS snapshot"
                },
                resource("AwsRdsDbSnapshot", arn, snapshot),
                (accounts, public),
                "valuesToAdd",
            )
        }
        _ => return None,
    };
    let own = record.account_id();
    let accounts: Vec<String> = accounts
        .into_iter()
        .filter(|a| Some(a.as_str()) != own)
        .collect();
    (public || !accounts.is_empty()).then_some(Share {
        noun,
        resource,
        accounts,
        public,
        member,
    })
}

/// The command that takes the share back.
fn unshare(record: &Record<'_>, share: &Share) -> String {
    let region = region_arg(record);
    let name = sh(share.resource.name.as_deref().unwrap_or_default()).into_owned();
    let mut targets: Vec<String> = share.accounts.clone();
    if share.public {
        targets.push("all".to_owned());
    }
    match record.event_name.as_ref() {
        "ModifyImageAttribute" => {
            let items: Vec<Value> = share
                .accounts
                .iter()
                .map(|a| serde_json::json!({ "UserId": a }))
                .chain(share.public.then(|| serde_json::json!({ "Group": "all" })))
                .collect();
            let permission = serde_json::json!({ "Remove": items }).to_string();
            format!(
                "aws ec2 modify-image-attribute{region} --image-id {name} --launch-permission {}",
                sh(&permission)
            )
        }
        "ModifySnapshotAttribute" => {
            let mut command = format!(
                "aws ec2 modify-snapshot-attribute{region} --snapshot-id {name} --attribute \
                 createVolumePermission --operation-type remove"
            );
            if !share.accounts.is_empty() {
                command.push_str(" --user-ids");
                for account in &share.accounts {
                    command.push(' ');
                    command.push_str(&sh(account));
                }
            }
            if share.public {
                command.push_str(" --group-names all");
            }
            command
        }
        "ModifyDBClusterSnapshotAttribute" => format!(
            "aws rds modify-db-cluster-snapshot-attribute{region} --db-cluster-snapshot-identifier {name} \
             --attribute-name restore --values-to-remove {}",
            targets.iter().map(|t| sh(t)).collect::<Vec<_>>().join(" ")
        ),
        _ => format!(
            "aws rds modify-db-snapshot-attribute{region} --db-snapshot-identifier {name} \
             --attribute-name restore --values-to-remove {}",
            targets.iter().map(|t| sh(t)).collect::<Vec<_>>().join(" ")
        ),
    }
}

fn report_share(record: &Record<'_>, params: Option<&Value>, share: Share, out: &mut Report) {
    let severity = if share.public {
        Severity::High
    } else {
        Severity::Medium
    };
    let failed = call_failed(record);
    let name = share.resource.name.clone().unwrap_or_default();
    let mut with: Vec<String> = share
        .accounts
        .iter()
        .map(|a| format!("account {a}"))
        .collect();
    if share.public {
        with.insert(0, "everyone (public)".to_owned());
    }
    let with = with.join(", ");
    let mut finding = finding_for(&META, record, severity);
    let who = describe_caller(&EventContext::from_record(record));
    finding.message = if failed {
        format!(
            "{who} tried to share {} `{name}` with {with}; the call failed.",
            share.noun
        )
    } else {
        format!("{who} shared {} `{name}` with {with}.", share.noun)
    };
    if let Some(value) = params.and_then(|p| p.get(share.member)) {
        finding.evidence.push(evidence(
            format!("requestParameters.{}", share.member),
            value.clone(),
        ));
    }
    if failed {
        finding.fix.summary =
            "Nothing changed; find out why this principal tried to share the resource.".to_owned();
    } else {
        finding.fix.summary = format!(
            "Unless sharing {} `{name}` is approved, take the share back; a copy may already exist in \
             the other account.",
            share.noun
        );
        finding.fix.commands = vec![unshare(record, &share)];
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Confirm with the owner of {} `{name}` that sharing it is approved; if not, take the \
                 share back and find out whether it was copied.",
                share.noun
            ),
        });
    }
    finding.resource = Some(share.resource);
    out.push(finding);
}

/// How far one outsider reaches, or `None` when a condition ties it to the organization, a network or a
/// source.
fn rate(outsider: &Outsider<'_>) -> Option<(Severity, String)> {
    if outsider.bound {
        return None;
    }
    Some(match outsider.account {
        None if outsider.condition_keys.is_empty() => (
            Severity::High,
            "everyone (`*`), without conditions".to_owned(),
        ),
        None => (
            Severity::Medium,
            format!(
                "everyone (`*`), limited only by {}",
                outsider
                    .condition_keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some((account, principal)) => (
            Severity::Medium,
            format!("account {account} (`{principal}`)"),
        ),
    })
}

/// The fix command that puts the policy back without the outside statements (`kept`), or removes it
/// when nothing is left.
fn put_back(record: &Record<'_>, target: &Target, kept: Option<&str>) -> String {
    let region = region_arg(record);
    let name = target.resource.name.as_deref().unwrap_or_default();
    let id = sh(&target.resource.id);
    match (record.event_source.as_ref(), kept) {
        ("s3.amazonaws.com", Some(policy)) => format!(
            "aws s3api put-bucket-policy --bucket {} --policy {}",
            sh(name),
            sh(policy)
        ),
        ("s3.amazonaws.com", None) => {
            format!("aws s3api delete-bucket-policy --bucket {}", sh(name))
        }
        // A key policy cannot be empty: with nothing left, the key's owner writes a new one.
        ("kms.amazonaws.com", Some(policy)) => format!(
            "aws kms put-key-policy{region} --key-id {id} --policy-name default --policy {}",
            sh(policy)
        ),
        ("kms.amazonaws.com", None) => {
            format!("aws kms get-key-policy{region} --key-id {id} --policy-name default")
        }
        ("secretsmanager.amazonaws.com", Some(policy)) => format!(
            "aws secretsmanager put-resource-policy{region} --secret-id {} --resource-policy {}",
            sh(name),
            sh(policy)
        ),
        ("secretsmanager.amazonaws.com", None) => format!(
            "aws secretsmanager delete-resource-policy{region} --secret-id {}",
            sh(name)
        ),
        ("sqs.amazonaws.com", kept) => {
            let attributes = serde_json::json!({ "Policy": kept.unwrap_or_default() }).to_string();
            format!(
                "aws sqs set-queue-attributes{region} --queue-url {id} --attributes {}",
                sh(&attributes)
            )
        }
        ("sns.amazonaws.com", Some(policy)) => format!(
            "aws sns set-topic-attributes{region} --topic-arn {id} --attribute-name Policy \
             --attribute-value {}",
            sh(policy)
        ),
        ("sns.amazonaws.com", None) => {
            format!("aws sns get-topic-attributes{region} --topic-arn {id}")
        }
        ("ecr.amazonaws.com", Some(policy)) => format!(
            "aws ecr set-repository-policy{region} --repository-name {} --policy-text {}",
            sh(name),
            sh(policy)
        ),
        _ => format!(
            "aws ecr delete-repository-policy{region} --repository-name {}",
            sh(name)
        ),
    }
}

/// Flags resources opened beyond the account.
#[derive(Debug, Default)]
pub struct ResourceSharedOutside;

impl CloudTrailRule for ResourceSharedOutside {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        // A refusal for a principal that does not exist opened nothing: a probe (CT065).
        if !event_in(record, WATCHED) || names_missing_principal(record) {
            return;
        }
        let params = record.request_parameters();
        if let Some(share) = share(record, params.as_ref()) {
            report_share(record, params.as_ref(), share, out);
            return;
        }
        let Some(target) = target(record, params.as_ref()) else {
            return;
        };
        let text = trailguard_policy::decode_policy_text(&target.policy).into_owned();
        let Ok(doc) = PolicyDocument::parse(&text) else {
            return;
        };
        let found: Vec<(usize, Severity, String)> =
            outsiders(&doc, record.account_id(), BINDING_KEYS)
                .iter()
                .filter_map(|o| rate(o).map(|(severity, reach)| (o.statement, severity, reach)))
                .collect();
        let Some(severity) = found.iter().map(|(_, s, _)| *s).max() else {
            return;
        };
        let failed = call_failed(record);
        let name = target.resource.name.clone().unwrap_or_default();
        let mut finding = finding_for(&META, record, severity);
        let who = describe_caller(&EventContext::from_record(record));
        let reaches = found
            .iter()
            .map(|(statement, _, reach)| {
                let actions = doc
                    .statements
                    .iter()
                    .find(|s| s.index == *statement)
                    .map(|s| {
                        s.action
                            .patterns
                            .iter()
                            .map(|a| format!("`{}`", a.raw))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                format!("{reach}, for {actions}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        finding.message = if failed {
            format!(
                "{who} tried to set the policy of {} `{name}` to let in {reaches}; the call failed.",
                target.noun
            )
        } else {
            format!(
                "{who} set the policy of {} `{name}` to let in {reaches}.",
                target.noun
            )
        };
        let mut dropped: Vec<usize> = found.iter().map(|(s, ..)| *s).collect();
        dropped.dedup();
        finding.evidence = doc
            .statements
            .iter()
            .filter(|s| dropped.contains(&s.index))
            .map(|s| evidence(format!("policy.{}", s.path()), s.to_json(&text)))
            .collect();
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to open the resource."
                    .to_owned();
        } else {
            let kept = without_statements(&text, &doc, &dropped);
            finding.fix.summary = format!(
                "Unless the outside access to {} `{name}` is approved, put its policy back without the \
                 outside statements and review the resource's access since.",
                target.noun
            );
            finding.fix.commands = vec![put_back(record, &target, kept.as_deref())];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Confirm with the owner of {} `{name}` that the outside access is approved; if not, \
                     remove it and review who used the resource since.",
                    target.noun
                ),
            });
        }
        finding.resource = Some(target.resource);
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rated(policy: &str) -> Vec<Severity> {
        let doc = PolicyDocument::parse(policy).unwrap();
        outsiders(&doc, Some("111122223333"), BINDING_KEYS)
            .iter()
            .filter_map(rate)
            .map(|(s, _)| s)
            .collect()
    }

    #[test]
    fn outsiders_are_rated_by_how_far_they_reach() {
        assert_eq!(
            rated(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#
            ),
            vec![Severity::High]
        );
        assert_eq!(
            rated(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#
            ),
            vec![Severity::Medium]
        );
        assert_eq!(
            rated(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}]}"#
            ),
            vec![Severity::Medium]
        );
    }

    #[test]
    fn bound_statements_and_the_own_account_are_not_reported() {
        for policy in [
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.us-east-1.amazonaws.com"}}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::uploads"}}}]}"#,
        ] {
            assert!(rated(policy).is_empty(), "{policy}");
        }
    }
}
