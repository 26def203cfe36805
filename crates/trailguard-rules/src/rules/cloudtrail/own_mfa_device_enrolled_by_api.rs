//! CT090 own-mfa-device-enrolled-by-api: an IAM user enrolling an MFA device on itself
//! (`CreateVirtualMFADevice`, `EnableMFADevice`) through the API rather than the console.

use trailguard_event::Record;

use super::common::{
    call_failed, caller_iam_user, describe_caller, event_in, evidence, finding_for, long_term_key,
    made_by_aws, request_field, session_from_console, session_mfa_evidence, sh, user_resource,
    worth_reporting,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT090",
    name: "own-mfa-device-enrolled-by-api",
    title: "MFA device enrolled on one's own user through the API",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.005", "T1556.006"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &["EnableMFADevice", "CreateVirtualMFADevice"],
    doc: RuleDoc {
        what: "An IAM user binding an MFA device to itself (`EnableMFADevice` naming the caller) or creating a \
               virtual device (`CreateVirtualMFADevice`) with credentials that did not come from a console \
               sign-in. Binding: **medium** with temporary credentials (`ASIA…`, from `GetSessionToken`) \
               whose session is not MFA-authenticated, **low** with a long-term key (`AKIA…`) or from a \
               session that already passed MFA. Creating a device, which binds nothing yet, is one step \
               lower. Enrolment in the console (`sessionCredentialFromConsole`), devices bound to other \
               users (CT061), role sessions, the root user (CT014) and calls AWS services make are not \
               reported. A refused call is an attempt, one step lower; a refused low one is not reported.",
        why: "People enrol MFA in the console, where AWS walks them through the QR code. An API enrolment on \
              one's own user is what someone holding a user's stolen key or session does to make its own \
              device the user's factor: its sessions then meet `aws:MultiFactorAuthPresent` conditions, the \
              common policy that lets a user without MFA manage nothing but their own device turns into full \
              access, and the owner finds the slot taken (ATT&CK T1098.005 Device Registration, T1556.006). \
              Temporary keys from `GetSessionToken` without MFA are the usual form of that session; \
              enrolment scripts run with long-term keys, which is why those are low. Refused enrolments \
              without MFA are the attempts StreamAlert's MFA-policy-abuse rule watches for.",
        example: "IAM user `christophe`, calling with temporary key `ASIAZ49AHUAJEXAMPLE7` from \
                  `GetSessionToken` and no MFA, runs `aws iam create-virtual-mfa-device` and `aws iam \
                  enable-mfa-device --user-name christophe` with two codes from a new authenticator.",
        fix: "Ask the user whether they enrolled the device. If not, deactivate and delete it, rotate the \
              user's keys and password, and review what sessions with MFA did since. Once every user has a \
              device, denying `iam:CreateVirtualMFADevice` and `iam:EnableMFADevice` unless \
              `aws:MultiFactorAuthPresent` is true keeps a session without MFA from adding one (new users then \
              enrol through an administrator, which CT061 reports).",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableMFADevice.html",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateVirtualMFADevice.html",
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_users-self-manage-mfa-and-creds.html",
            "https://attack.mitre.org/techniques/T1098/005/",
        ],
    },
};

const ENABLE: (&str, &str) = ("iam.amazonaws.com", "EnableMFADevice");
const CREATE_VIRTUAL: (&str, &str) = ("iam.amazonaws.com", "CreateVirtualMFADevice");

/// The calls this rule judges: it declares every event and the engine routes it these
/// ([`CloudTrailRule::watched`]). Declared so because `EnableMFADevice`'s entry shows CT061's case.
const WATCHED: &[(&str, &str)] = &[ENABLE, CREATE_VIRTUAL];

/// Flags an IAM user enrolling its own MFA device outside the console.
#[derive(Debug, Default)]
pub struct OwnMfaDeviceEnrolledByApi;

/// The credential the enrolment was made with, as far as it rates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// Temporary keys whose session did not pass MFA: `GetSessionToken` without a code.
    SessionWithoutMfa,
    /// Temporary keys whose session passed MFA: the user already has a factor and proved it.
    SessionWithMfa,
    /// A long-term access key (`AKIA…`).
    LongTermKey,
    /// No key id CloudTrail tells apart.
    Unknown,
}

impl Credential {
    fn of(record: &Record<'_>) -> Credential {
        let key = record.user_identity.access_key_id.as_deref().unwrap_or("");
        if long_term_key(record).is_some() {
            Credential::LongTermKey
        } else if !key.starts_with("ASIA") {
            Credential::Unknown
        } else if record.user_identity.mfa_authenticated() == Some(true) {
            Credential::SessionWithMfa
        } else {
            Credential::SessionWithoutMfa
        }
    }

    /// How the call was made, for the finding's message.
    fn described(self, key: &str) -> String {
        match self {
            Credential::SessionWithoutMfa => format!(
                "with temporary key {key} from a session that did not pass MFA and not from the console"
            ),
            Credential::SessionWithMfa => {
                format!("with temporary key {key} from a session that passed MFA, not from the console")
            }
            Credential::LongTermKey => format!("with long-term key {key}, not from the console"),
            Credential::Unknown => "through the API, not from the console".to_owned(),
        }
    }
}

impl CloudTrailRule for OwnMfaDeviceEnrolledByApi {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn watched(&self) -> &'static [(&'static str, &'static str)] {
        WATCHED
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        if !event_in(record, WATCHED) {
            return;
        }
        let Some(caller) = caller_iam_user(record) else {
            return;
        };
        if made_by_aws(record) || session_from_console(record) {
            return;
        }
        let params = record.request_parameters();
        let binding = event_in(record, &[ENABLE]);
        if binding
            && request_field(params.as_ref(), "userName").is_some_and(|target| target != caller)
        {
            return;
        }
        let key = record.user_identity.access_key_id.as_deref().unwrap_or("");
        let credential = Credential::of(record);
        let severity = match (credential == Credential::SessionWithoutMfa, binding) {
            (true, true) => Severity::Medium,
            (true, false) | (false, true) => Severity::Low,
            (false, false) => Severity::Info,
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, severity) {
            return;
        }
        let serial = if binding {
            request_field(params.as_ref(), "serialNumber")
        } else {
            record.response_elements().and_then(|r| {
                r.pointer("/virtualMFADevice/serialNumber")?
                    .as_str()
                    .map(str::to_owned)
            })
        };
        let device_name = request_field(params.as_ref(), "virtualMFADeviceName");
        let device = serial
            .as_deref()
            .or(device_name.as_deref())
            .map(|d| format!(" `{d}`"))
            .unwrap_or_default();
        let how = credential.described(key);
        let who = describe_caller(&EventContext::from_record(record));
        let mut finding = finding_for(&META, record, severity);
        finding.message = match (binding, failed) {
            (true, false) => format!(
                "{who} enabled MFA device{device} on itself {how}: whoever holds the device now passes \
                 this user's MFA checks."
            ),
            (true, true) => {
                format!("{who} tried to enable MFA device{device} on itself {how}; the call failed.")
            }
            (false, false) => format!(
                "{who} created virtual MFA device{device} {how}; enabling it on a user makes its holder \
                 that user's second factor."
            ),
            (false, true) => format!(
                "{who} tried to create virtual MFA device{device} {how}; the call failed."
            ),
        };
        finding.resource = Some(user_resource(record.account_id(), caller));
        finding
            .evidence
            .push(evidence("userIdentity.accessKeyId", key));
        finding.evidence.extend(session_mfa_evidence(record));
        match (&serial, binding) {
            (Some(serial), true) => finding
                .evidence
                .push(evidence("requestParameters.serialNumber", serial.as_str())),
            (Some(serial), false) => finding.evidence.push(evidence(
                "responseElements.virtualMFADevice.serialNumber",
                serial.as_str(),
            )),
            (None, _) => {}
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out who holds this user's credentials and why they tried."
                    .to_owned();
        } else {
            let user = sh(caller);
            finding.fix.summary = format!(
                "Ask `{caller}` whether they enrolled this device; if not, deactivate and delete it and rotate \
                 the user's keys and password."
            );
            finding.fix.commands = vec![format!("aws iam list-mfa-devices --user-name {user}")];
            if let Some(serial) = &serial {
                if binding {
                    finding.fix.commands.push(format!(
                        "aws iam deactivate-mfa-device --user-name {user} --serial-number {}  # if not theirs",
                        sh(serial)
                    ));
                }
                finding.fix.commands.push(format!(
                    "aws iam delete-virtual-mfa-device --serial-number {}  # if not theirs, once deactivated",
                    sh(serial)
                ));
            }
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Unless `{caller}` enrolled the device, deactivate and delete it, then rotate the user's \
                     keys and password."
                ),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{
        check, with_record, TestEvent, ASSUMED_ROLE_MFA,
    };

    /// `christophe` with temporary keys from `GetSessionToken` and no MFA, or from the console.
    fn session(mfa: bool) -> String {
        format!(
            r#"{{"type":"IAMUser","principalId":"AIDAZ49AHUAJ9OEK73O5","arn":"arn:aws:iam::229654561268:user/christophe","accountId":"229654561268","accessKeyId":"ASIAZ49AHUAJEXAMPLE7","userName":"christophe","sessionContext":{{"attributes":{{"creationDate":"2024-08-01T13:02:11Z","mfaAuthenticated":"{mfa}"}}}}}}"#
        )
    }

    fn enable(user: &str) -> TestEvent {
        TestEvent::iam("EnableMFADevice").request(&format!(
            r#"{{"userName":"{user}","serialNumber":"arn:aws:iam::229654561268:mfa/{user}-phone"}}"#
        ))
    }

    #[test]
    fn a_session_without_mfa_binding_its_own_device_is_medium_and_a_long_term_key_low() {
        let f = &check(
            &OwnMfaDeviceEnrolledByApi,
            &enable("christophe").identity(&session(false)),
        )[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.message.contains("ASIAZ49AHUAJEXAMPLE7"), "{}", f.message);
        assert!(f
            .fix
            .commands
            .iter()
            .any(|c| c.contains("deactivate-mfa-device --user-name christophe")));
        // The test events' own caller holds a long-term key.
        let f = &check(&OwnMfaDeviceEnrolledByApi, &enable("christophe"))[0];
        assert_eq!(f.severity, Severity::Low);
        // A session that already passed MFA adds a device: low.
        let f = &check(
            &OwnMfaDeviceEnrolledByApi,
            &enable("christophe").identity(&session(true)),
        )[0];
        assert_eq!(f.severity, Severity::Low);
    }

    #[test]
    fn console_enrolment_others_devices_and_role_sessions_are_not_this_rules() {
        let from_api = enable("christophe").identity(&session(false)).json();
        let from_console = from_api.replacen('{', r#"{"sessionCredentialFromConsole":"true","#, 1);
        for (json, findings) in [(&from_api, 1), (&from_console, 0)] {
            let mut out = Report::default();
            with_record(json, |record| {
                OwnMfaDeviceEnrolledByApi.check(record, &mut out)
            });
            assert_eq!(out.into_findings().len(), findings, "{json}");
        }
        assert!(check(&OwnMfaDeviceEnrolledByApi, &enable("carol")).is_empty());
        let by_role = enable("alice").identity(ASSUMED_ROLE_MFA);
        assert!(check(&OwnMfaDeviceEnrolledByApi, &by_role).is_empty());
    }

    #[test]
    fn creating_a_device_is_one_step_lower_and_refusals_are_attempts() {
        let create = TestEvent::iam("CreateVirtualMFADevice")
            .request(r#"{"virtualMFADeviceName":"christophe-phone","path":"/"}"#)
            .response(r#"{"virtualMFADevice":{"serialNumber":"arn:aws:iam::229654561268:mfa/christophe-phone"}}"#);
        let f = &check(
            &OwnMfaDeviceEnrolledByApi,
            &create.clone().identity(&session(false)),
        )[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("mfa/christophe-phone"), "{}", f.message);
        let f = &check(&OwnMfaDeviceEnrolledByApi, &create)[0];
        assert_eq!(f.severity, Severity::Info);
        let refused = enable("christophe").identity(&session(false)).denied();
        let f = &check(&OwnMfaDeviceEnrolledByApi, &refused)[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.fix.commands.is_empty());
        // A refused low one is routine noise.
        assert!(check(&OwnMfaDeviceEnrolledByApi, &enable("christophe").denied()).is_empty());
    }
}
