//! CT015 console-login-without-mfa: a successful console sign-in by an IAM user or root without MFA.

use trailguard_event::Record;

use super::common::{
    describe_caller, evidence, finding_for, root_user_resource, sh, user_arn, SignIn,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT015",
    name: "console-login-without-mfa",
    title: "Console sign-in without MFA",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1078.004"],
    compliance: &["CIS-1.10", "CIS-4.2", "CloudWatch.3"],
    events: &[("signin.amazonaws.com", "ConsoleLogin")],
    kb_entries: &["ConsoleLogin"],
    doc: RuleDoc {
        what: "A successful `ConsoleLogin` (`responseElements.ConsoleLogin` = `Success`) by an IAM user or the \
               root user where `additionalEventData.MFAUsed` is not `Yes`, as in the CIS 4.2 metric filter. \
               Sign-ins through SAML, IAM Identity Center or other federation (`AssumedRole`, \
               `FederatedUser`) are left out: their MFA happens at the identity provider and CloudTrail always \
               records `MFAUsed: No` for them. **critical** for the root user.",
        why: "A password alone is what phishing, password spraying and leaked credential lists give an \
              attacker. A console user without MFA is the most common initial access to an AWS account \
              (Stratus Red Team `console-login-without-mfa`).",
        example: "IAM user `alice` signs in with her password; the record says `\"MFAUsed\": \"No\"`.",
        fix: "Enroll an MFA device for the user (a FIDO security key or passkey is best) and enforce it with a \
              policy that denies everything without `aws:MultiFactorAuthPresent`. If the sign-in is unexpected, \
              reset the password and review the session.",
        references: &[
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.initial-access.console-login-without-mfa/",
        ],
    },
};

/// Flags successful console sign-ins without MFA.
#[derive(Debug, Default)]
pub struct ConsoleLoginWithoutMfa;

impl CloudTrailRule for ConsoleLoginWithoutMfa {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let identity_type = record.user_identity.identity_type.as_deref();
        if !matches!(identity_type, Some("IAMUser") | Some("Root")) {
            return;
        }
        let sign_in = SignIn::of(record);
        if sign_in.succeeded != Some(true) || sign_in.mfa_used() == Some(true) {
            return;
        }
        let data = record.additional_event_data();
        let is_root = identity_type == Some("Root");
        let context = EventContext::from_record(record);
        let user = context.actor.user_name.clone();
        let mut finding = finding_for(
            &META,
            record,
            if is_root {
                Severity::Critical
            } else {
                META.severity
            },
        );
        let who = describe_caller(&context);
        finding.message = format!("{who} signed in to the console without MFA.");
        finding.resource = Some(match (&user, is_root) {
            (Some(name), false) => Resource {
                kind: "AwsIamUser".to_owned(),
                id: context
                    .actor
                    .arn
                    .clone()
                    .unwrap_or_else(|| user_arn(record.account_id(), name)),
                name: Some(name.clone()),
            },
            _ => root_user_resource(record),
        });
        finding.evidence.push(evidence(
            "additionalEventData.MFAUsed",
            sign_in
                .mfa_used_text
                .unwrap_or_else(|| "(absent)".to_owned()),
        ));
        if let Some(login_to) = data
            .as_ref()
            .and_then(|d| d.get("LoginTo")?.as_str().map(str::to_owned))
        {
            finding
                .evidence
                .push(evidence("additionalEventData.LoginTo", login_to));
        }
        let target = match (&user, is_root) {
            (Some(name), false) => format!("user `{name}`"),
            _ => "the root user".to_owned(),
        };
        finding.fix.summary = format!("Enroll MFA for {target} and enforce it; if the sign-in is unexpected, reset the password.");
        match (&user, is_root) {
            (Some(name), false) => {
                let u = sh(name);
                finding.fix.commands = vec![
                    format!("aws iam list-mfa-devices --user-name {u}"),
                    format!("aws iam create-virtual-mfa-device --virtual-mfa-device-name {u} --outfile {u}-mfa.png --bootstrap-method QRCodePNG"),
                    format!("aws iam enable-mfa-device --user-name {u} --serial-number NEW_DEVICE_ARN --authentication-code1 CODE1 --authentication-code2 CODE2"),
                ];
            }
            _ => {
                finding.fix.commands = vec![
                    "aws iam get-account-summary --query SummaryMap.AccountMFAEnabled".to_owned(),
                ];
            }
        }
        finding.fix.actions.push(FixAction::Manual {
            description: format!("Enroll an MFA device for {target} and require MFA by policy."),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent, ASSUMED_ROLE_MFA};

    fn login(identity: &str, outcome: &str, mfa: &str) -> TestEvent {
        TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
            .identity(identity)
            .event_type("AwsConsoleSignIn")
            .response(&format!(r#"{{"ConsoleLogin":"{outcome}"}}"#))
            .additional(&format!(
                r#"{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"{mfa}"}}"#
            ))
    }

    const USER: &str = r#"{"type":"IAMUser","principalId":"AIDA1ERT0661IN5R239V","arn":"arn:aws:iam::229654561268:user/alice","accountId":"229654561268","userName":"alice"}"#;
    const ROOT_LOGIN: &str = r#"{"type":"Root","principalId":"229654561268","arn":"arn:aws:iam::229654561268:root","accountId":"229654561268","accessKeyId":""}"#;

    #[test]
    fn an_iam_user_signing_in_without_mfa_is_flagged() {
        let f = &check(&ConsoleLoginWithoutMfa, &login(USER, "Success", "No"))[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.resource.as_ref().unwrap().id,
            "arn:aws:iam::229654561268:user/alice"
        );
        assert!(f.fix.commands[0].ends_with("--user-name alice"));
        assert!(f
            .evidence
            .iter()
            .any(|e| e.path == "additionalEventData.MFAUsed" && e.value == "No"));
    }

    #[test]
    fn root_without_mfa_is_critical() {
        let f = &check(&ConsoleLoginWithoutMfa, &login(ROOT_LOGIN, "Success", "No"))[0];
        assert_eq!(f.severity, Severity::Critical);
    }

    #[test]
    fn mfa_failures_and_federated_sign_ins_are_ignored() {
        assert!(check(&ConsoleLoginWithoutMfa, &login(USER, "Success", "Yes")).is_empty());
        assert!(check(
            &ConsoleLoginWithoutMfa,
            &login(ROOT_LOGIN, "Success", "YES")
        )
        .is_empty());
        let failed = login(USER, "Failure", "No").json().replace(
            r#""eventID""#,
            r#""errorMessage":"Failed authentication","eventID""#,
        );
        let none = crate::rules::cloudtrail::common::testing::with_record(&failed, |r| {
            let mut out = Report::default();
            ConsoleLoginWithoutMfa.check(r, &mut out);
            out.into_findings()
        });
        assert!(none.is_empty());
        assert!(check(
            &ConsoleLoginWithoutMfa,
            &login(ASSUMED_ROLE_MFA, "Success", "No")
        )
        .is_empty());
    }
}
