//! CT094 macie-disrupted: Amazon Macie turned off, paused or told to look away: Macie disabled or
//! suspended, an account cut from its Macie administrator, a filter that archives findings as they arrive,
//! automated discovery switched off, findings published later or no longer sent to Security Hub.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_judgement_rule, region_arg, regional_arn, request_field, sh, CallJudgement, Judged,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT094",
    name: "macie-disrupted",
    title: "Amazon Macie disabled or blinded",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1562.001"],
    compliance: &["Macie.1"],
    // Routed only `WATCHED`: whether a call disrupts Macie depends on its parameters, as for CT066.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**high**: Macie disabled (`DisableMacie`, which also deletes its findings, jobs and settings in \
               the region) or suspended (`UpdateMacieSession` with `status` `PAUSED`). **medium**: an account \
               cut from its Macie administrator (`DisassociateFromAdministratorAccount`, \
               `DisassociateFromMasterAccount`), an administrator dropping a member (`DisassociateMember`, \
               `DeleteMember`), the organization's delegated Macie administrator removed \
               (`DisableOrganizationAdminAccount`), a findings filter that archives what it matches as it \
               arrives (`CreateFindingsFilter`, `UpdateFindingsFilter` with `action` `ARCHIVE`), automated \
               sensitive data discovery switched off (`UpdateAutomatedDiscoveryConfiguration` with `status` \
               `DISABLED`). **low**: a discovery job cancelled or paused (`UpdateClassificationJob`), updated \
               findings published every hour or six hours instead of every 15 minutes (`UpdateMacieSession` \
               with `findingPublishingFrequency`), findings no longer sent to Security Hub \
               (`PutFindingsPublicationConfiguration`). A refused call is an attempt, one step lower; a \
               refused call that would be low is not reported. Calls AWS makes are left out.",
        why: "Macie is what tells a team that a bucket holds credentials, keys or personal data and that it \
              was made public or shared. Before copying such data out, an intruder who can turns Macie off or \
              makes it look away (ATT&CK T1562.001, Impair Defenses): disabling it, suspending it, cutting \
              the account from the administrator that watches it, or archiving the findings their actions \
              raise. Security Hub control Macie.1 asks that Macie be enabled; Panther watches the same \
              calls.",
        example: "A role session calls `aws macie2 update-macie-session --status PAUSED` in eu-west-1, then \
                  `aws macie2 create-findings-filter --name quiet --action ARCHIVE --finding-criteria \
                  '{\"criterion\":{\"category\":{\"eq\":[\"POLICY\"]}}}'`.",
        fix: "Undo the change (enable Macie or resume it, re-associate the account, delete the archive filter, \
              switch automated discovery back on), then review the buckets Macie reported on, or would have, \
              since. Deny these calls outside a security role with a service control policy.",
        references: &[
            "https://docs.aws.amazon.com/macie/latest/user/macie-suspend-disable.html",
            "https://docs.aws.amazon.com/macie/latest/user/findings-suppression.html",
            "https://docs.aws.amazon.com/macie/latest/user/macie-cloudtrail.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/macie-controls.html",
            "https://attack.mitre.org/techniques/T1562/001/",
        ],
    },
};

const MACIE: &str = "macie2.amazonaws.com";

/// The Macie calls judged; which of them disrupt depends on their parameters.
const WATCHED: &[(&str, &str)] = &[
    (MACIE, "DisableMacie"),
    (MACIE, "UpdateMacieSession"),
    (MACIE, "DisassociateFromAdministratorAccount"),
    (MACIE, "DisassociateFromMasterAccount"),
    (MACIE, "DisassociateMember"),
    (MACIE, "DeleteMember"),
    (MACIE, "DisableOrganizationAdminAccount"),
    (MACIE, "CreateFindingsFilter"),
    (MACIE, "UpdateFindingsFilter"),
    (MACIE, "UpdateAutomatedDiscoveryConfiguration"),
    (MACIE, "UpdateClassificationJob"),
    (MACIE, "PutFindingsPublicationConfiguration"),
];

/// Whether a request member names `value`, in any case.
fn says(params: &Value, key: &str, value: &str) -> bool {
    request_field(Some(params), key).is_some_and(|v| v.eq_ignore_ascii_case(value))
}

/// What a call did to Macie, or `None` when it did not weaken it.
fn disruption(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let field = |key: &str| request_field(Some(params), key);
    let region = region_arg(record);
    // Macie's settings have no ARN: the account and region name them.
    let session = || Resource {
        kind: "AwsMacieSession".to_owned(),
        id: format!(
            "{}/{}",
            record.account_id().unwrap_or("ACCOUNT_ID"),
            record.aws_region.as_deref().unwrap_or("REGION")
        ),
        name: None,
    };
    let judged = |severity, done: String, tried: String, undo: Option<String>, resource| Judged {
        severity,
        done,
        tried,
        resource,
        undo,
    };
    Some(match record.event_name.as_ref() {
        "DisableMacie" => judged(
            Severity::High,
            "disabled Amazon Macie, deleting its findings, jobs and settings in the region".to_owned(),
            "disable Amazon Macie".to_owned(),
            Some(format!("aws macie2 enable-macie{region}")),
            session(),
        ),
        "UpdateMacieSession" if says(params, "status", "PAUSED") => judged(
            Severity::High,
            "suspended Amazon Macie: its jobs are cancelled and it monitors nothing".to_owned(),
            "suspend Amazon Macie".to_owned(),
            Some(format!(
                "aws macie2 update-macie-session{region} --status ENABLED"
            )),
            session(),
        ),
        "UpdateMacieSession" => {
            let every = field("findingPublishingFrequency")
                .filter(|f| f.eq_ignore_ascii_case("ONE_HOUR") || f.eq_ignore_ascii_case("SIX_HOURS"))?;
            judged(
                Severity::Low,
                format!(
                    "made Amazon Macie publish updated findings to Security Hub and EventBridge only \
                     every {}",
                    every.to_ascii_lowercase().replace('_', " ")
                ),
                "slow down the publication of Amazon Macie's findings".to_owned(),
                Some(format!(
                    "aws macie2 update-macie-session{region} --finding-publishing-frequency FIFTEEN_MINUTES"
                )),
                session(),
            )
        }
        "DisassociateFromAdministratorAccount" | "DisassociateFromMasterAccount" => judged(
            Severity::Medium,
            "cut the account from its Amazon Macie administrator, which no longer sees its findings"
                .to_owned(),
            "cut the account from its Amazon Macie administrator".to_owned(),
            None,
            session(),
        ),
        name @ ("DisassociateMember" | "DeleteMember") => {
            let member = field("id").unwrap_or_else(|| "(unnamed)".to_owned());
            let verb = if name == "DeleteMember" {
                "deleted"
            } else {
                "disassociated"
            };
            judged(
                Severity::Medium,
                format!("{verb} member account {member} from Amazon Macie: its findings are no longer seen here"),
                format!("remove member account {member} from Amazon Macie"),
                None,
                Resource {
                    kind: "AwsAccount".to_owned(),
                    id: member.clone(),
                    name: Some(member),
                },
            )
        }
        "DisableOrganizationAdminAccount" => {
            let admin = field("adminAccountId").unwrap_or_else(|| "(unnamed)".to_owned());
            judged(
                Severity::Medium,
                format!(
                    "removed account {admin} as the organization's delegated Amazon Macie administrator"
                ),
                format!("remove account {admin} as the delegated Amazon Macie administrator"),
                field("adminAccountId").map(|id| {
                    format!(
                        "aws macie2 enable-organization-admin-account{region} --admin-account-id {}",
                        sh(&id)
                    )
                }),
                Resource {
                    kind: "AwsAccount".to_owned(),
                    id: admin.clone(),
                    name: Some(admin),
                },
            )
        }
        name @ ("CreateFindingsFilter" | "UpdateFindingsFilter") => {
            if !says(params, "action", "ARCHIVE") {
                return None;
            }
            let response = record.response_elements();
            let id = field("id").or_else(|| request_field(response.as_ref(), "id"));
            let filter = field("name")
                .or_else(|| id.clone())
                .unwrap_or_else(|| "(unnamed)".to_owned());
            let arn = request_field(response.as_ref(), "arn").unwrap_or_else(|| {
                let named = id.as_deref().unwrap_or(&filter);
                regional_arn(record, "macie2", &format!("findings-filter/{named}"))
            });
            let verb = if name == "CreateFindingsFilter" {
                "created"
            } else {
                "changed"
            };
            judged(
                Severity::Medium,
                format!(
                    "{verb} Amazon Macie findings filter `{filter}` to archive the findings it matches as \
                     they arrive"
                ),
                format!("set Amazon Macie findings filter `{filter}` to archive findings"),
                id.map(|id| format!("aws macie2 delete-findings-filter{region} --id {}", sh(&id))),
                Resource {
                    kind: "AwsMacieFindingsFilter".to_owned(),
                    id: arn,
                    name: Some(filter),
                },
            )
        }
        "UpdateAutomatedDiscoveryConfiguration" if says(params, "status", "DISABLED") => judged(
            Severity::Medium,
            "switched off Amazon Macie's automated sensitive data discovery".to_owned(),
            "switch off Amazon Macie's automated sensitive data discovery".to_owned(),
            Some(format!(
                "aws macie2 update-automated-discovery-configuration{region} --status ENABLED"
            )),
            session(),
        ),
        "UpdateClassificationJob" => {
            let status = field("jobStatus")?;
            let job = field("jobId").unwrap_or_else(|| "(unnamed)".to_owned());
            let (done, undo) = if status.eq_ignore_ascii_case("CANCELLED") {
                ("cancelled", None)
            } else if status.eq_ignore_ascii_case("USER_PAUSED") {
                (
                    "paused",
                    Some(format!(
                        "aws macie2 update-classification-job{region} --job-id {} --job-status RUNNING",
                        sh(&job)
                    )),
                )
            } else {
                return None;
            };
            judged(
                Severity::Low,
                format!("{done} Amazon Macie sensitive data discovery job `{job}`"),
                format!("stop Amazon Macie sensitive data discovery job `{job}`"),
                undo,
                Resource {
                    kind: "AwsMacieClassificationJob".to_owned(),
                    id: regional_arn(record, "macie2", &format!("classification-job/{job}")),
                    name: Some(job),
                },
            )
        }
        "PutFindingsPublicationConfiguration" => {
            let hub = params.get("securityHubConfiguration")?;
            let stopped: Vec<&str> = [
                ("publishPolicyFindings", "policy"),
                ("publishClassificationFindings", "sensitive data"),
            ]
            .into_iter()
            .filter(|(key, _)| hub.get(*key).and_then(Value::as_bool) == Some(false))
            .map(|(_, kind)| kind)
            .collect();
            if stopped.is_empty() {
                return None;
            }
            judged(
                Severity::Low,
                format!(
                    "stopped sending Amazon Macie's {} findings to Security Hub",
                    stopped.join(" and ")
                ),
                "stop sending Amazon Macie's findings to Security Hub".to_owned(),
                Some(format!(
                    "aws macie2 put-findings-publication-configuration{region} --security-hub-configuration \
                     publishClassificationFindings=true,publishPolicyFindings=true"
                )),
                session(),
            )
        }
        _ => return None,
    })
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: disruption,
    evidence_keys: &[
        "status",
        "findingPublishingFrequency",
        "id",
        "adminAccountId",
        "name",
        "action",
        "findingCriteria",
        "jobId",
        "jobStatus",
        "securityHubConfiguration",
    ],
    summary: "Unless the security team decided it, undo it and review what Macie reported, or \
          would have, since; then the caller's other activity.",
};

call_judgement_rule!(
    /// Flags Amazon Macie being turned off or made to look away.
    MacieDisrupted,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    fn macie(name: &str, request: &str) -> TestEvent {
        TestEvent::new(MACIE, name).request(request)
    }

    #[test]
    fn disabling_or_suspending_is_high_and_reads_its_parameters() {
        let paused = check(
            &MacieDisrupted,
            &macie("UpdateMacieSession", r#"{"status":"PAUSED"}"#),
        );
        assert_eq!(paused[0].severity, Severity::High);
        assert!(
            paused[0].fix.commands[0].ends_with("--status ENABLED"),
            "{:?}",
            paused[0].fix.commands
        );
        let slower = check(
            &MacieDisrupted,
            &macie(
                "UpdateMacieSession",
                r#"{"findingPublishingFrequency":"SIX_HOURS"}"#,
            ),
        );
        assert_eq!(slower[0].severity, Severity::Low);
        assert!(
            slower[0].message.contains("every six hours"),
            "{}",
            slower[0].message
        );
        for harmless in [
            r#"{"status":"ENABLED"}"#,
            r#"{"findingPublishingFrequency":"FIFTEEN_MINUTES"}"#,
        ] {
            assert!(
                check(&MacieDisrupted, &macie("UpdateMacieSession", harmless)).is_empty(),
                "{harmless}"
            );
        }
    }

    #[test]
    fn only_archiving_filters_and_stopping_jobs_count() {
        let archive = macie(
            "CreateFindingsFilter",
            r#"{"name":"quiet","action":"ARCHIVE","findingCriteria":{"criterion":{"category":{"eq":["POLICY"]}}}}"#,
        )
        .response(r#"{"id":"8a1c3e5f-2b4d-4c6e-9f0a-1b2c3d4e5f60","arn":"arn:aws:macie2:us-east-1:229654561268:findings-filter/8a1c3e5f-2b4d-4c6e-9f0a-1b2c3d4e5f60"}"#);
        let f = &check(&MacieDisrupted, &archive)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.fix.commands[0].contains("delete-findings-filter")
                && f.fix.commands[0].contains("8a1c3e5f"),
            "{:?}",
            f.fix.commands
        );
        let noop = macie(
            "CreateFindingsFilter",
            r#"{"name":"triage","action":"NOOP","findingCriteria":{}}"#,
        );
        assert!(check(&MacieDisrupted, &noop).is_empty());
        let running = macie(
            "UpdateClassificationJob",
            r#"{"jobId":"3ce05dbb7ec5505def334104bexample","jobStatus":"RUNNING"}"#,
        );
        assert!(check(&MacieDisrupted, &running).is_empty());
        let refused_pause = macie(
            "UpdateClassificationJob",
            r#"{"jobId":"3ce05dbb7ec5505def334104bexample","jobStatus":"USER_PAUSED"}"#,
        )
        .denied();
        assert!(
            check(&MacieDisrupted, &refused_pause).is_empty(),
            "a refused call that would be low is not reported"
        );
    }
}
