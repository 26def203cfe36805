//! CT070 instance-user-data-changed: the user data of an EC2 instance replaced (`ModifyInstanceAttribute`
//! with `userData`): a script that runs as root at the instance's next start, with its role's credentials.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, finding_for, instance_resource, region_arg, sh,
};
use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT070",
    name: "instance-user-data-changed",
    title: "EC2 instance user data replaced",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1059.009", "T1098"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`ModifyInstanceAttribute` that sets an instance's `userData` (CloudTrail records it as \
               `<sensitiveDataRemoved>`). Other attribute changes of the same call (instance type, \
               security groups, termination protection) are not reported. **medium**; a refused call is an \
               attempt, one step lower.",
        why: "User data runs as root when the instance starts (cloud-init runs `#cloud-boothook` parts at \
              every boot), so whoever may change it and stop and start the instance runs code on it, and \
              with it gets the instance role's credentials: a documented privilege-escalation path \
              (`ec2:ModifyInstanceAttribute` with `ec2:StopInstances`/`StartInstances`) and Stratus Red \
              Team's `ec2-user-data`. Launch templates are how user data is normally changed; editing a \
              running instance's is rare.",
        example: "IAM user `christophe` stops instance `i-0a1b2c3d4e5f67890`, calls `aws ec2 \
                  modify-instance-attribute --instance-id i-0a1b2c3d4e5f67890 --attribute userData --value \
                  file://payload.b64`, then starts it again.",
        fix: "Read the instance's user data now (`describe-instance-attribute --attribute userData`) and \
              compare it with the launch template's; if it was not planned, stop the instance, restore the \
              user data, rotate what its role can reach and treat the caller as compromised.",
        references: &[
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-user-data/",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[("ec2.amazonaws.com", "ModifyInstanceAttribute")];

/// Flags instance user data replaced.
#[derive(Debug, Default)]
pub struct InstanceUserDataChanged;

impl CloudTrailRule for InstanceUserDataChanged {
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
        let Some(params) = record.request_parameters() else {
            return;
        };
        // `userData` directly, or `attribute: userData` with a `value` (the older query form).
        let sets_user_data = params.get("userData").is_some()
            || params.get("attribute").and_then(|a| a.as_str()) == Some("userData");
        if !sets_user_data {
            return;
        }
        let instance = params
            .get("instanceId")
            .and_then(|i| i.as_str())
            .unwrap_or("(unnamed)")
            .to_owned();
        let failed = call_failed(record);
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if failed {
            format!("{who} tried to replace the user data of instance {instance}; the call failed.")
        } else {
            format!(
                "{who} replaced the user data of instance {instance}: it runs as root at the next start, \
                 with the instance role's credentials."
            )
        };
        finding.resource = Some(instance_resource(record, &instance));
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to replace the user data."
                    .to_owned();
        } else {
            finding.fix.summary = "Read the new user data and compare it with the launch template's; if the \
                                   change was not planned, restore it before the instance starts again."
                .to_owned();
            finding.fix.commands = vec![format!(
                "aws ec2 describe-instance-attribute{} --instance-id {} --attribute userData --query UserData.Value --output text",
                region_arg(record),
                sh(&instance)
            )];
            finding.fix.actions.push(FixAction::Manual {
                description: format!(
                    "Decode the user data of instance {instance} (base64) and compare it with the launch \
                     template; restore it and rotate the instance role's reach if it was not planned."
                ),
            });
        }
        out.push(finding);
    }
}
