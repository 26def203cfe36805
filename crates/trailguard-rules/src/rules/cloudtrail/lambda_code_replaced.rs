//! CT077 lambda-code-replaced: the code a Lambda function runs replaced (`UpdateFunctionCode`) or added
//! to through layers (`UpdateFunctionConfiguration` with `layers`): the next invocation runs it with the
//! function's execution role. Lambda records its API version in the event name
//! (`UpdateFunctionCode20150331v2`), so the events are prefix patterns.

use serde_json::Value;
use trailguard_event::peek::{contains, RawRecord};
use trailguard_event::Record;

use super::common::{
    call_failed, change_finding, evidence, lambda_function_arn, long_term_key, made_by_aws,
    principal_account, request_field, role_session, worth_reporting, Change,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT077",
    name: "lambda-code-replaced",
    title: "Lambda function code replaced or extended with layers",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1648", "T1525", "T1098"],
    compliance: &[],
    events: &[
        ("lambda.amazonaws.com", "UpdateFunctionCode*"),
        ("lambda.amazonaws.com", "UpdateFunctionConfiguration*"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A Lambda function's code replaced (`UpdateFunctionCode`) by a person, or layers set on it \
               (`UpdateFunctionConfiguration` with `layers`; a layer's code, an extension above all, runs \
               inside every invocation). Code replaced: **medium** with a long-term access key (`AKIA…`, an \
               IAM user or the root user) or by the root user, **low** from an IAM Identity Center session \
               or a federated user's session (`GetFederationToken`); other role sessions, which are how \
               deployment pipelines replace code all day, are not reported. Layers set: **medium** with a \
               long-term key, by root, or when a layer comes from another account than the function's; \
               **low** otherwise. A record whose request does not list the layers but whose response shows \
               the function running some (copies of CloudTrail that keep only the response) is **low** when \
               a person made the change, and not reported for other role sessions. Other configuration \
               changes, and \
               changes AWS services make on a principal's behalf (`invokedBy`, such as CloudFormation), are \
               not reported. The finding names the execution role the code runs with. A refused call is an \
               attempt, one step lower; a refused low one is not reported.",
        why: "Whoever may change a function's code acts with its execution role without ever being \
              allowed to assume it: the existing-function path of Lambda privilege escalation \
              (`lambda:UpdateFunctionCode`), and a backdoor that runs on every event the function handles \
              (ATT&CK T1648 Serverless Execution, T1525 Implant Internal Image; Stratus Red Team's \
              `lambda-overwrite-code` and `lambda-layer-extension`). A layer is the quieter variant: the \
              function's own code does not change, and an extension in the layer sees every request and \
              the role's credentials.",
        example: "IAM user `christophe`, with a long-term key, calls `UpdateFunctionConfiguration` on \
                  `billing-export` to add the layer `arn:aws:lambda:us-east-1:111122223333:layer:telemetry:1`.",
        fix: "Compare the function's code and layers with what the deployment pipeline last shipped \
              (`aws lambda get-function`). If the change is unknown, redeploy the known version, remove the \
              unknown layer, and review what the execution role did since, then revoke the caller's \
              credentials.",
        references: &[
            "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html",
            "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html",
            "https://docs.aws.amazon.com/lambda/latest/dg/lambda-extensions.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-overwrite-code/",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-layer-extension/",
        ],
    },
};

/// Flags a function's code replaced or given layers.
#[derive(Debug, Default)]
pub struct LambdaCodeReplaced;

/// Who made the change, as far as it tells a person from a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// A long-term access key or the root user: a person, or a script holding a person's key.
    PersonalKey,
    /// A person signed in through IAM Identity Center, or a federated user's session (`GetFederationToken`,
    /// which a person's key or a sign-in broker asks for).
    SignedIn,
    /// Any other role session or identity: a pipeline, most of the time.
    Other,
}

impl Caller {
    fn of(record: &Record<'_>) -> Caller {
        if long_term_key(record).is_some() || record.user_identity.is_root() {
            Caller::PersonalKey
        } else if role_session(record).is_some_and(|s| s.identity_center)
            || record.user_identity.identity_type.as_deref() == Some("FederatedUser")
        {
            Caller::SignedIn
        } else {
            Caller::Other
        }
    }
}

/// The account a layer version ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`) belongs to.
fn layer_account(layer: &str) -> Option<&str> {
    let mut parts = layer.split(':');
    match (parts.next(), parts.nth(3), parts.next()) {
        (Some("arn"), Some(account), Some("layer")) if !account.is_empty() => Some(account),
        _ => None,
    }
}

/// A function's name from what `functionName` holds: a name, or a full or partial ARN with or without a
/// qualifier (`…:function:billing-export:prod`).
fn short_name(named: &str) -> &str {
    named
        .split_once(":function:")
        .map_or(named, |(_, rest)| rest.split(':').next().unwrap_or(rest))
}

/// The layers a configuration change shows.
struct Layers {
    arns: Vec<String>,
    /// Read from `requestParameters.layers`: what the call set. Otherwise from `responseElements.layers`
    /// (`[{"arn": …}]`): what the function runs after it, which the call may or may not have changed.
    set_by_call: bool,
}

/// The layer ARNs a configuration change sets (`requestParameters.layers`, a list of ARNs), or, when the
/// request has no `layers` member at all, the ones its response shows the function running. `None` when
/// neither names a layer (an empty request list removes every layer: nothing runs that was not there).
fn layers_of(params: &Value, response: Option<&Value>) -> Option<Layers> {
    let (arns, set_by_call): (Vec<String>, bool) = match params.get("layers") {
        Some(requested) => (
            requested
                .as_array()?
                .iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect(),
            true,
        ),
        None => (
            response?
                .get("layers")?
                .as_array()?
                .iter()
                .filter_map(|l| l.get("arn").and_then(Value::as_str).map(str::to_owned))
                .collect(),
            false,
        ),
    };
    (!arns.is_empty()).then_some(Layers { arns, set_by_call })
}

impl CloudTrailRule for LambdaCodeReplaced {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Settled from the text for most records: a configuration change that names no layers, or a code
    /// update whose caller shows no long-term key, root or Identity Center role (a pipeline's session).
    fn wants_raw(&self, raw: &RawRecord<'_>) -> bool {
        let Some((_, name)) = raw.source_and_name() else {
            return true;
        };
        if name.starts_with("UpdateFunctionConfiguration") {
            return contains(raw.text(), br#""layers""#) || raw.escapes_in(raw.text());
        }
        let caller = raw.caller_text();
        [&b"AKIA"[..], br#""Root""#, b"AWSReservedSSO_"]
            .iter()
            .any(|needle| contains(caller, needle))
            || raw.escapes_in(caller)
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if made_by_aws(record) {
            return;
        }
        let Some(params) = record.request_parameters() else {
            return;
        };
        let code = record.event_name.starts_with("UpdateFunctionCode");
        let response = record.response_elements();
        let layers = if code {
            None
        } else {
            layers_of(&params, response.as_ref())
        };
        if !code && layers.is_none() {
            return;
        }
        let named = request_field(Some(&params), "functionName")
            .unwrap_or_else(|| "(unnamed function)".to_owned());
        let account = record.account_id();
        let arn = lambda_function_arn(record, &named, account);
        let name = short_name(&named).to_owned();
        let function_account = principal_account(&arn)
            .filter(|a| a.bytes().all(|b| b.is_ascii_digit()))
            .or(account);
        // Without the function's account, no layer is called foreign.
        let foreign: Vec<&str> = layers
            .iter()
            .flat_map(|l| l.arns.iter().map(String::as_str))
            .filter(|layer| {
                function_account.is_some()
                    && layer_account(layer).is_some_and(|a| Some(a) != function_account)
            })
            .collect();
        let caller = Caller::of(record);
        let personal_key = caller == Caller::PersonalKey;
        let severity = match (&layers, caller) {
            // Layers the function runs, which this call may not have set: a person's change only.
            (Some(l), Caller::Other) if !l.set_by_call => return,
            (Some(l), _) if !l.set_by_call => Severity::Low,
            (_, Caller::PersonalKey) => Severity::Medium,
            (Some(_), _) if !foreign.is_empty() => Severity::Medium,
            (Some(_), _) | (None, Caller::SignedIn) => Severity::Low,
            (None, Caller::Other) => return,
        };
        if !worth_reporting(call_failed(record), severity) {
            return;
        }
        let role = response
            .as_ref()
            .and_then(|r| r.get("role").and_then(Value::as_str).map(str::to_owned));
        let runs_as = role
            .as_deref()
            .map(|role| format!(", which runs with role `{role}`"))
            .unwrap_or_default();
        let (done, tried) = match &layers {
            None => (
                format!("replaced the code of Lambda function `{name}`{runs_as}"),
                format!("replace the code of Lambda function `{name}`"),
            ),
            Some(layers) => {
                let listed = layers
                    .arns
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let outside = if foreign.is_empty() {
                    String::new()
                } else {
                    format!(" ({} from another account)", foreign.len())
                };
                if layers.set_by_call {
                    (
                        format!(
                            "set the layers of Lambda function `{name}` to {listed}{outside}{runs_as}"
                        ),
                        format!("set layers on Lambda function `{name}`"),
                    )
                } else {
                    (
                        format!(
                            "changed the configuration of Lambda function `{name}`{runs_as}; it now runs \
                             layers {listed}{outside}, and the record does not show which the call set"
                        ),
                        format!("change the configuration of Lambda function `{name}`"),
                    )
                }
            }
        };
        let mut finding = change_finding(
            &META,
            record,
            severity,
            Change {
                done,
                tried,
                resource: Resource {
                    kind: "AwsLambdaFunction".to_owned(),
                    id: arn,
                    name: Some(name),
                },
                evidence_keys: &["layers", "publish", "imageUri", "s3Bucket", "s3Key"],
                summary: "Compare the code and layers with what the pipeline last deployed; if unknown, \
                          redeploy the known version, remove unknown layers and review the role's activity."
                    .to_owned(),
            },
        );
        if let Some(role) = role {
            finding
                .evidence
                .push(evidence("responseElements.role", role));
        }
        if personal_key {
            finding.evidence.push(evidence(
                "credential",
                "a long-term access key (AKIA…), held by a person or a script, not a pipeline's role session",
            ));
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{
        check, TestEvent, ASSUMED_ROLE_MFA, IAM_USER, ROOT,
    };

    /// The raw test declines only records `check` would not report: every caller and both calls, with
    /// and without layers.
    #[test]
    fn the_raw_test_keeps_every_record_check_reports() {
        let sso = ASSUMED_ROLE_MFA
            .replace(":role/Admin", ":role/aws-reserved/sso.amazonaws.com/Admin")
            .replace("Admin", "AWSReservedSSO_PowerUserAccess_1a2b3c4d5e6f7a8b");
        let mut reported = 0;
        for identity in [IAM_USER, ROOT, ASSUMED_ROLE_MFA, sso.as_str()] {
            for (name, request) in [
                (
                    "UpdateFunctionCode20150331v2",
                    r#"{"functionName":"billing-export"}"#,
                ),
                (
                    "UpdateFunctionConfiguration20150331v2",
                    r#"{"functionName":"billing-export","layers":["arn:aws:lambda:us-east-1:229654561268:layer:x:1"]}"#,
                ),
                (
                    "UpdateFunctionConfiguration20150331v2",
                    r#"{"functionName":"billing-export","timeout":30}"#,
                ),
            ] {
                let event = TestEvent::new("lambda.amazonaws.com", name)
                    .identity(identity)
                    .request(request);
                let found = check(&LambdaCodeReplaced, &event);
                let text = event.json();
                let raw = RawRecord::new(text.as_bytes());
                if !found.is_empty() {
                    reported += 1;
                    assert!(LambdaCodeReplaced.wants_raw(&raw), "{name} by {identity}");
                }
            }
        }
        // Code by the key, root and Identity Center; layers by all four.
        assert_eq!(reported, 7);
        let pipeline = TestEvent::new("lambda.amazonaws.com", "UpdateFunctionCode20150331v2")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"functionName":"billing-export"}"#)
            .json();
        assert!(!LambdaCodeReplaced.wants_raw(&RawRecord::new(pipeline.as_bytes())));
    }

    #[test]
    fn a_layer_belongs_to_the_account_in_its_arn() {
        assert_eq!(
            layer_account("arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Extension:65"),
            Some("464622532012")
        );
        assert_eq!(layer_account("telemetry"), None);
        assert_eq!(
            short_name("arn:aws:lambda:us-east-1:111122223333:function:billing-export:prod"),
            "billing-export"
        );
        assert_eq!(short_name("billing-export"), "billing-export");
        assert_eq!(layer_account("arn:aws:lambda:us-east-1::layer:x:1"), None);
        assert_eq!(
            layer_account("arn:aws:lambda:us-east-1:111122223333:function:x"),
            None
        );
    }
}
