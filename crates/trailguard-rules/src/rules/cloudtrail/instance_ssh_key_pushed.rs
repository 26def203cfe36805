//! CT063 instance-ssh-key-pushed: an SSH public key pushed onto an EC2 instance through EC2 Instance
//! Connect or its serial console, an SSH key imported as an EC2 key pair, and serial console access
//! switched on for the account.

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, instance_resource, is_instance_id,
    region_arg, regional_arn, request_evidence, request_field, role_session, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT063",
    name: "instance-ssh-key-pushed",
    title: "SSH key pushed to an EC2 instance",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098.004", "T1021.004"],
    compliance: &[],
    events: &[
        ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey"),
        (
            "ec2-instance-connect.amazonaws.com",
            "SendSerialConsoleSSHPublicKey",
        ),
        ("ec2.amazonaws.com", "EnableSerialConsoleAccess"),
        ("ec2.amazonaws.com", "ImportKeyPair"),
    ],
    kb_entries: &[
        "SendSSHPublicKey",
        "SendSerialConsoleSSHPublicKey",
        "EnableSerialConsoleAccess",
        "ImportKeyPair",
    ],
    doc: RuleDoc {
        what: "`SendSSHPublicKey` (EC2 Instance Connect puts a caller's public key on an instance for 60 \
               seconds, for an operating-system user the caller names), `SendSerialConsoleSSHPublicKey` (the \
               same for the instance's serial console) and `EnableSerialConsoleAccess` (serial console \
               access allowed for the whole account and region, off by default). **low** for an Instance \
               Connect key; **medium** when the key is for `root` or `Administrator`, when the caller is \
               itself an EC2 instance's role (one instance reaching into another), for a serial console key \
               and for serial console access switched on. `ImportKeyPair` (a public key the caller brought, \
               registered as a key pair that new instances accept): **low**, **medium** from an EC2 \
               instance's role. A refused call is an attempt, one step lower; a refused call that would be \
               low is not reported.",
        why: "Anyone allowed `ec2-instance-connect:SendSSHPublicKey` can log in to an instance as any \
              operating-system user it names, without the instance's key pair: stolen AWS credentials become \
              a shell on the hosts (ATT&CK T1098.004, T1021.004; Stratus Red Team `ec2-instance-connect`). The \
              serial console reaches the instance even with no network path to it and no security group \
              rule, so attackers turn it on to get in past network controls (Stratus Red Team \
              `ec2-serial-console-send-ssh-public-key`). Administrators use Instance Connect every day, \
              which is why a plain key push is only low.",
        example: "IAM user `christophe` calls `aws ec2-instance-connect send-ssh-public-key --instance-id \
                  i-0fedcba9876543210 --instance-os-user ec2-user --ssh-public-key file://key.pub` on three \
                  instances within a minute.",
        fix: "Confirm the caller was meant to log in to the instance; if not, look at the instance's own \
              logs (`/var/log/secure`, `auth.log`) for the session the key opened, treat the caller's AWS \
              credentials as compromised, and limit `SendSSHPublicKey` with `ec2:osuser` and resource \
              conditions. Turn serial console access off unless it is needed for recovery.",
        references: &[
            "https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html",
            "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-serial-console.html",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-instance-connect/",
        ],
    },
};

/// Operating-system users whose key is a key to the whole host.
const ALL_POWERFUL_USERS: &[&str] = &["root", "Administrator"];

/// Flags SSH keys pushed to instances and serial console access switched on.
#[derive(Debug, Default)]
pub struct InstanceSshKeyPushed;

impl CloudTrailRule for InstanceSshKeyPushed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters();
        let field = |key: &str| request_field(params.as_ref(), key);
        let account = record.account_id().unwrap_or("ACCOUNT_ID");
        let from_instance = role_session(record)
            .map(|s| s.session_name)
            .filter(|name| is_instance_id(name));
        let failed = call_failed(record);
        let who = describe_caller(&EventContext::from_record(record));
        let region_arg = region_arg(record);

        // `what` follows "switched on" or "pushed" in a message, and "switch on" or "push" for an attempt.
        let (severity, (done, tried), what, resource, command) = match record.event_name.as_ref() {
            "EnableSerialConsoleAccess" => (
                Severity::Medium,
                ("switched on", "switch on"),
                "serial console access for every instance of the account in this region".to_owned(),
                Resource {
                    kind: "AwsAccount".to_owned(),
                    id: account.to_owned(),
                    name: Some(account.to_owned()),
                },
                format!("aws ec2 disable-serial-console-access{region_arg}"),
            ),
            name @ ("SendSSHPublicKey" | "SendSerialConsoleSSHPublicKey") => {
                let instance = field("instanceId").unwrap_or_else(|| "(unnamed)".to_owned());
                let serial = name == "SendSerialConsoleSSHPublicKey";
                let os_user = field("instanceOSUser");
                let powerful = os_user
                    .as_deref()
                    .is_some_and(|u| ALL_POWERFUL_USERS.iter().any(|p| p.eq_ignore_ascii_case(u)));
                let severity = if serial || powerful || from_instance.is_some() {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                let what = if serial {
                    format!("an SSH key to the serial console of instance {instance}")
                } else {
                    format!(
                        "an SSH key onto instance {instance} for operating-system user `{}`",
                        os_user.as_deref().unwrap_or("(unnamed)")
                    )
                };
                let command = format!(
                    "aws cloudtrail lookup-events{region_arg} --lookup-attributes \
                     AttributeKey=ResourceName,AttributeValue={} --start-time {}",
                    sh(&instance),
                    sh(&record.event_time)
                );
                (
                    severity,
                    ("pushed", "push"),
                    what,
                    instance_resource(record, &instance),
                    command,
                )
            }
            "ImportKeyPair" => {
                let name = field("keyName").unwrap_or_else(|| "(unnamed)".to_owned());
                let severity = if from_instance.is_some() {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                (
                    severity,
                    ("imported", "import"),
                    format!(
                        "SSH key pair `{name}`, a public key it brought: instances launched with it let in \
                         whoever holds the private key"
                    ),
                    Resource {
                        kind: "AwsEc2KeyPair".to_owned(),
                        id: regional_arn(record, "ec2", &format!("key-pair/{name}")),
                        name: Some(name.clone()),
                    },
                    format!("aws ec2 delete-key-pair{region_arg} --key-name {}", sh(&name)),
                )
            }
            _ => return,
        };
        if !worth_reporting(failed, severity) {
            return;
        }
        let mut finding = finding_for(&META, record, severity);
        let reach = if record.event_name == "ImportKeyPair" {
            "a workload's credentials registering SSH keys"
        } else {
            "one instance reaching into another"
        };
        let pivot = from_instance
            .map(|i| format!(" The caller is the role of EC2 instance {i}: {reach}."))
            .unwrap_or_default();
        finding.message = if failed {
            format!("{who} tried to {tried} {what}; the call failed.{pivot}")
        } else {
            format!("{who} {done} {what}.{pivot}")
        };
        finding.resource = Some(resource);
        request_evidence(
            &mut finding,
            params.as_ref(),
            &[
                "instanceId",
                "instanceOSUser",
                "serialPort",
                "sSHPublicKey",
                "keyName",
                "keyPairId",
            ],
        );
        if let Some(instance) = from_instance {
            finding
                .evidence
                .push(evidence("userIdentity.sessionName", instance));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to reach the instance."
                    .to_owned();
        } else {
            finding.fix.summary = "Confirm the caller was meant to reach the instance; if not, review the \
                                   session on the host and treat the caller's credentials as compromised."
                .to_owned();
            finding.fix.commands = vec![command];
            finding.fix.actions.push(FixAction::Manual {
                description:
                    "Confirm the access with the instance's owner; if it was not planned, check \
                              the host's login records and revoke the caller's credentials."
                        .to_owned(),
            });
        }
        out.push(finding);
    }
}
