//! One model for every finding: from a CloudTrail record, a Sigma rule, a posture check or a policy check.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::call::Call;
use crate::remediation::{FixAction, IdentityKind};

pub use trailguard_event::severity::{Severity, UnknownSeverity};

/// Which producer made the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSource {
    Cloudtrail,
    Sigma,
    Posture,
    Policy,
}

/// Whether the activity behind a finding took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// The call succeeded (or the finding is about a state, not a call).
    Success,
    /// The call failed, e.g. `AccessDenied`: an attempt worth knowing about, but nothing changed.
    Attempt { error_code: String },
}

/// Who did it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// CloudTrail `userIdentity.type`: Root, IAMUser, AssumedRole, FederatedUser, AWSService, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Whether the session was MFA-authenticated; `None` when the record does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
}

/// What it was done to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// e.g. `AwsIamPolicy`, `AwsIamUser`, `AwsIamRole`, `AwsAccount`, `AwsCloudTrailTrail`, `PolicyDocument`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ARN or, where no ARN exists (an account alias, a file), the best identifier.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The exact field or statement that triggered a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Where it was found, e.g. `requestParameters.policyDocument.Statement[0]`.
    pub path: String,
    pub value: serde_json::Value,
}

/// How to fix it: prose, exact commands for this very finding, a knowledge-base link and, when the fix
/// is mechanical, an action `trailguard fix` can carry out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub summary: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Knowledge-base entry name (an event name such as `CreatePolicyVersion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kb_entry: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<FixAction>,
}

impl Fix {
    /// Detaching managed policy `policy_arn` from the principal: the action `trailguard fix` applies and
    /// the AWS CLI command that does the same, the pair every "policy attached" finding offers.
    pub fn push_detach_policy(&mut self, kind: IdentityKind, name: &str, policy_arn: &str) {
        let call = Call::DetachPolicy {
            principal_kind: kind,
            principal_name: name.to_owned(),
            policy_arn: policy_arn.to_owned(),
        };
        self.commands.push(call.to_cli());
        self.actions.push(FixAction::DetachPolicy {
            principal_kind: kind,
            principal_name: name.to_owned(),
            policy_arn: policy_arn.to_owned(),
        });
    }
}

/// A file position, for findings about policy files (SARIF needs it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// JSON path inside the document, e.g. `Statement[2].Condition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
}

/// A finding from any producer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: the same rule on the same event and resource gives the same id across runs.
    pub id: String,
    /// Rule code, e.g. `CT001`, `PA003`, `PC010`, or a Sigma rule's UUID.
    pub rule_id: String,
    /// Rule slug, e.g. `create-policy-version-admin`.
    pub rule_name: String,
    pub title: String,
    pub severity: Severity,
    pub source: FindingSource,
    pub outcome: Outcome,
    /// What happened, in one or two sentences specific to this finding.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// MITRE ATT&CK technique ids, e.g. `T1098.003`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    /// Compliance controls, e.g. `CIS-1.14`, `IAM.3`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compliance: Vec<String>,
    pub fix: Fix,
    /// Caveats such as a Sigma rule's known false positives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Finding {
    /// A finding with what every producer sets; event, actor, resource, evidence, mappings, fix and
    /// location start empty for the producer to fill. The outcome is a success (a state or a change).
    pub fn new(
        id: impl Into<String>,
        rule_id: impl Into<String>,
        rule_name: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        source: FindingSource,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            id: id.into(),
            rule_id: rule_id.into(),
            rule_name: rule_name.into(),
            title: title.into(),
            severity,
            source,
            outcome: Outcome::Success,
            message: message.into(),
            event_time: None,
            event_name: None,
            event_source: None,
            event_id: None,
            account: None,
            region: None,
            actor: None,
            resource: None,
            evidence: Vec::new(),
            attack: Vec::new(),
            compliance: Vec::new(),
            fix: Fix::default(),
            notes: Vec::new(),
            location: None,
        }
    }

    /// A stable finding id from the parts that identify it (rule, event id, resource, ...).
    pub fn stable_id(parts: &[&str]) -> String {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        let digest = hasher.finalize();
        format!("tg-{}", hex::encode(&digest[..10]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_id_depends_on_every_part() {
        let a = Finding::stable_id(&["CT001", "event-1"]);
        assert_eq!(a, Finding::stable_id(&["CT001", "event-1"]));
        assert_ne!(a, Finding::stable_id(&["CT001", "event-2"]));
        // The separator keeps ("ab","c") apart from ("a","bc").
        assert_ne!(
            Finding::stable_id(&["ab", "c"]),
            Finding::stable_id(&["a", "bc"])
        );
    }
}
