//! CT102 bedrock-safeguards-changed: Amazon Bedrock's model invocation logging or a guardrail taken away,
//! or access to foundation models switched on: what an intruder who wants free use of the account's
//! models ("LLMjacking") does with stolen credentials before and while invoking them.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, flag_set, long_term_key, member_either_case, member_str_either_case,
    regional_arn, CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT102",
    name: "bedrock-safeguards-changed",
    title: "Bedrock invocation logging or a guardrail removed, or model access switched on",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.008", "T1496", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**medium**: Bedrock's model invocation logging deleted in a region \
               (`DeleteModelInvocationLoggingConfiguration`: prompts and answers are no longer recorded) or \
               replaced by one that does not deliver text or delivers nowhere \
               (`PutModelInvocationLoggingConfiguration` without `textDataDeliveryEnabled` or a \
               destination), a guardrail deleted (`DeleteGuardrail`), the organization's enforced guardrail \
               removed (`DeleteEnforcedGuardrailConfiguration`). **low**: logging replaced with another \
               destination (the finding names the bucket and log group: logs sent where nobody reads them \
               are logs lost), a guardrail updated (`UpdateGuardrail`: CloudTrail hides the new settings, so \
               a weakened filter looks like any edit), the enforced guardrail replaced \
               (`PutEnforcedGuardrailConfiguration`); access to a foundation model switched on \
               (`PutFoundationModelEntitlement`, `CreateFoundationModelAgreement`, \
               `PutUseCaseForModelAccess`), **medium** when that is done with an IAM user's long-term access \
               key, the credential most often stolen for this. A refused call is an attempt, one step lower; \
               a refused low one is not reported. Calls AWS services make are left out.",
        why: "Stolen keys are sold for their access to hosted models: the intruder switches on models the \
              account never used, removes the invocation log so the prompts leave no trace, and deletes \
              guardrails that would refuse their content (ATT&CK T1496 Resource Hijacking, T1562.008 \
              Disable Cloud Logs; Stratus Red Team `bedrock-invoke-model`). The bill grows by thousands a \
              day. Model access and guardrails are otherwise changed rarely, by the team that builds on \
              Bedrock.",
        example: "IAM user `ci-deploy` calls `PutFoundationModelEntitlement` for \
                  `anthropic.claude-3-sonnet-20240229-v1:0` with its access key, then \
                  `DeleteModelInvocationLoggingConfiguration` in `us-east-1`.",
        fix: "Ask the team that uses Bedrock whether they made the change. If not, deactivate the caller's \
              credentials, restore invocation logging (`aws bedrock \
              put-model-invocation-logging-configuration`) and the guardrail, review `InvokeModel` calls and \
              the Bedrock bill, and deny `bedrock:*` where it is not used (an SCP).",
        references: &[
            "https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html",
            "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
            "https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html",
            "https://attack.mitre.org/techniques/T1496/",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.impact.bedrock-invoke-model/",
        ],
    },
};

const BEDROCK: &str = "bedrock.amazonaws.com";

const WATCHED: &[(&str, &str)] = &[
    (BEDROCK, "DeleteModelInvocationLoggingConfiguration"),
    (BEDROCK, "PutModelInvocationLoggingConfiguration"),
    (BEDROCK, "DeleteGuardrail"),
    (BEDROCK, "UpdateGuardrail"),
    (BEDROCK, "DeleteEnforcedGuardrailConfiguration"),
    (BEDROCK, "PutEnforcedGuardrailConfiguration"),
    (BEDROCK, "PutFoundationModelEntitlement"),
    (BEDROCK, "CreateFoundationModelAgreement"),
    (BEDROCK, "PutUseCaseForModelAccess"),
];

/// A guardrail named in a request: its ARN, or its id in the record's account and region.
fn guardrail(record: &Record<'_>, params: &Value) -> Resource {
    let named = member_str_either_case(Some(params), "guardrailIdentifier")
        .unwrap_or_else(|| "(unnamed)".to_owned());
    let id = if named.starts_with("arn:") {
        named.clone()
    } else {
        regional_arn(record, "bedrock", &format!("guardrail/{named}"))
    };
    let name = named.rsplit('/').next().unwrap_or(&named).to_owned();
    Resource {
        kind: "AwsBedrockGuardrail".to_owned(),
        id,
        name: Some(name),
    }
}

/// The account's Bedrock settings in the record's region, for calls that change no single resource.
fn bedrock_settings(record: &Record<'_>) -> Resource {
    let region = record.aws_region.as_deref().unwrap_or("REGION");
    Resource {
        kind: "AwsAccount".to_owned(),
        id: record.account_id().unwrap_or("unknown").to_owned(),
        name: Some(format!("Bedrock in {region}")),
    }
}

/// A logging configuration put in place of the region's one: medium when it no longer delivers prompts
/// and answers as text, or delivers them nowhere; else low, naming where the logs now go.
fn logging_replaced(record: &Record<'_>, params: &Value, region: &str) -> Judged {
    let config = member_either_case(Some(params), "loggingConfig");
    let text = flag_set(member_either_case(config, "textDataDeliveryEnabled"));
    let bucket = member_either_case(config, "s3Config")
        .and_then(|s3| member_str_either_case(Some(s3), "bucketName"))
        .map(|bucket| format!("S3 bucket `{bucket}`"));
    let group = member_either_case(config, "cloudWatchConfig")
        .and_then(|cw| member_str_either_case(Some(cw), "logGroupName"))
        .map(|group| format!("log group `{group}`"));
    let destinations: Vec<String> = [bucket, group].into_iter().flatten().collect();
    let (severity, outcome) = match (destinations.is_empty(), text) {
        (true, _) => (
            Severity::Medium,
            "with no destination: prompts and answers are no longer recorded".to_owned(),
        ),
        (false, false) => (
            Severity::Medium,
            format!(
                "sending it to {} without text delivery: prompts and answers are no longer recorded",
                destinations.join(" and ")
            ),
        ),
        (false, true) => (
            Severity::Low,
            format!("sending it to {}", destinations.join(" and ")),
        ),
    };
    Judged::new(
        severity,
        format!("replaced Bedrock's model invocation logging in {region}, {outcome}"),
        format!("replace Bedrock's model invocation logging in {region}"),
        bedrock_settings(record),
    )
}

fn safeguard(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let region = record.aws_region.as_deref().unwrap_or("its region");
    let judged = Judged::new;
    Some(match record.event_name.as_ref() {
        "DeleteModelInvocationLoggingConfiguration" => judged(
            Severity::Medium,
            format!(
                "deleted Bedrock's model invocation logging in {region}: prompts and answers are no \
                 longer recorded"
            ),
            format!("delete Bedrock's model invocation logging in {region}"),
            bedrock_settings(record),
        ),
        "PutModelInvocationLoggingConfiguration" => logging_replaced(record, params, region),
        "DeleteEnforcedGuardrailConfiguration" => judged(
            Severity::Medium,
            "deleted the organization's enforced Bedrock guardrail: model calls are no longer held to it"
                .to_owned(),
            "delete the organization's enforced Bedrock guardrail".to_owned(),
            bedrock_settings(record),
        ),
        "PutEnforcedGuardrailConfiguration" => judged(
            Severity::Low,
            "replaced the organization's enforced Bedrock guardrail".to_owned(),
            "replace the organization's enforced Bedrock guardrail".to_owned(),
            bedrock_settings(record),
        ),
        "DeleteGuardrail" => {
            let resource = guardrail(record, params);
            let name = resource.name.clone().unwrap_or_default();
            judged(
                Severity::Medium,
                format!("deleted Bedrock guardrail `{name}`: the content it refused is allowed again"),
                format!("delete Bedrock guardrail `{name}`"),
                resource,
            )
        }
        "UpdateGuardrail" => {
            let resource = guardrail(record, params);
            let name = resource.name.clone().unwrap_or_default();
            judged(
                Severity::Low,
                format!("updated Bedrock guardrail `{name}` (CloudTrail hides the new settings)"),
                format!("update Bedrock guardrail `{name}`"),
                resource,
            )
        }
        _ => {
            let model = member_str_either_case(Some(params), "modelId");
            let what = match &model {
                Some(model) => format!("access to foundation model `{model}`"),
                None => "the use case for foundation model access".to_owned(),
            };
            let (severity, with) = match long_term_key(record) {
                Some(key) => (
                    Severity::Medium,
                    format!(" with long-term access key {key}, the credential most often stolen for this"),
                ),
                None => (Severity::Low, String::new()),
            };
            let verb = if record.event_name == "PutUseCaseForModelAccess" {
                "submitted"
            } else {
                "switched on"
            };
            judged(
                severity,
                format!("{verb} {what} in {region}{with}"),
                format!("switch on {what} in {region}"),
                bedrock_settings(record),
            )
        }
    })
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: safeguard,
    evidence_keys: &[
        "loggingConfig",
        "guardrailIdentifier",
        "modelId",
        "offerToken",
    ],
    summary:
        "Confirm the change with the team that uses Bedrock; if it was not theirs, deactivate the \
              caller's credentials and restore invocation logging and guardrails.",
};

call_judgement_rule!(
    /// Flags Bedrock's invocation logging or guardrails removed, and model access switched on.
    BedrockSafeguardsChanged,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA, IAM_USER};

    #[test]
    fn removals_are_medium_and_an_update_is_low() {
        let logging = TestEvent::new(BEDROCK, "DeleteModelInvocationLoggingConfiguration")
            .identity(ASSUMED_ROLE_MFA);
        assert_eq!(
            check(&BedrockSafeguardsChanged, &logging)[0].severity,
            Severity::Medium
        );
        let deleted = TestEvent::new(BEDROCK, "DeleteGuardrail")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"guardrailIdentifier":"cmy5azq5koeo"}"#);
        let found = check(&BedrockSafeguardsChanged, &deleted);
        assert_eq!(found[0].severity, Severity::Medium);
        assert_eq!(
            found[0].resource.as_ref().unwrap().id,
            "arn:aws:bedrock:us-east-1:229654561268:guardrail/cmy5azq5koeo"
        );
        let updated = TestEvent::new(BEDROCK, "UpdateGuardrail")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"guardrailIdentifier":"arn:aws:bedrock:us-east-1:229654561268:guardrail/cmy5azq5koeo","name":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#);
        let found = check(&BedrockSafeguardsChanged, &updated);
        assert_eq!(found[0].severity, Severity::Low);
        assert_eq!(
            found[0].resource.as_ref().unwrap().name.as_deref(),
            Some("cmy5azq5koeo")
        );
    }

    #[test]
    fn replaced_logging_is_medium_only_without_text_delivery() {
        let kept = TestEvent::new(BEDROCK, "PutModelInvocationLoggingConfiguration")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"loggingConfig":{"s3Config":{"bucketName":"llm-logs-archive"},"textDataDeliveryEnabled":true}}"#);
        let found = check(&BedrockSafeguardsChanged, &kept);
        assert_eq!(found[0].severity, Severity::Low);
        assert!(
            found[0].message.contains("S3 bucket `llm-logs-archive`"),
            "{}",
            found[0].message
        );
        let blind = TestEvent::new(BEDROCK, "PutModelInvocationLoggingConfiguration")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"loggingConfig":{"cloudWatchConfig":{"logGroupName":"/bedrock/x","roleArn":"arn:aws:iam::229654561268:role/bedrock-logs"},"textDataDeliveryEnabled":false,"imageDataDeliveryEnabled":true}}"#);
        assert_eq!(
            check(&BedrockSafeguardsChanged, &blind)[0].severity,
            Severity::Medium
        );
        let nowhere = TestEvent::new(BEDROCK, "PutModelInvocationLoggingConfiguration")
            .identity(ASSUMED_ROLE_MFA)
            .request(r#"{"loggingConfig":{"textDataDeliveryEnabled":true}}"#);
        let found = check(&BedrockSafeguardsChanged, &nowhere);
        assert_eq!(found[0].severity, Severity::Medium);
        assert!(
            found[0].message.contains("no destination"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn model_access_is_medium_only_with_a_long_term_key() {
        let request = r#"{"modelId":"anthropic.claude-3-sonnet-20240229-v1:0"}"#;
        let by_key = TestEvent::new(BEDROCK, "PutFoundationModelEntitlement")
            .identity(IAM_USER)
            .request(request);
        let found = check(&BedrockSafeguardsChanged, &by_key);
        assert_eq!(found[0].severity, Severity::Medium);
        assert!(
            found[0].message.contains("AKIAOZUDECYXYM4ONAN4"),
            "{}",
            found[0].message
        );
        let by_role = TestEvent::new(BEDROCK, "CreateFoundationModelAgreement")
            .identity(ASSUMED_ROLE_MFA)
            .request(request);
        assert_eq!(
            check(&BedrockSafeguardsChanged, &by_role)[0].severity,
            Severity::Low
        );
        assert!(check(&BedrockSafeguardsChanged, &by_role.denied()).is_empty());
    }
}
