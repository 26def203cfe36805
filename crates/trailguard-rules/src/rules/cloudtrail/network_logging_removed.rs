//! CT067 network-logging-removed: VPC flow logs deleted, or Route 53 Resolver query logging deleted or
//! taken off a VPC: the network's record of who talked to whom, and which names were looked up, stops.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, finding_for, region_arg, regional_arn, request_evidence,
    request_field, sh,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT067",
    name: "network-logging-removed",
    title: "Network logging removed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.008", "T1070"],
    compliance: &["CIS-3.7", "EC2.6"],
    events: &[
        ("ec2.amazonaws.com", "DeleteFlowLogs"),
        ("route53resolver.amazonaws.com", "DeleteResolverQueryLogConfig"),
        (
            "route53resolver.amazonaws.com",
            "DisassociateResolverQueryLogConfig",
        ),
    ],
    kb_entries: &[
        "DeleteFlowLogs",
        "DeleteResolverQueryLogConfig",
        "DisassociateResolverQueryLogConfig",
    ],
    doc: RuleDoc {
        what: "`DeleteFlowLogs` (VPC, subnet or network-interface flow logs deleted), \
               `DeleteResolverQueryLogConfig` (a Route 53 Resolver query logging configuration deleted, with \
               it the DNS query log of every VPC it served) and `DisassociateResolverQueryLogConfig` (one VPC \
               taken out of query logging). **medium**; a refused call is an attempt, one step lower.",
        why: "Flow logs and DNS query logs are how an investigation sees data leaving, command-and-control \
              traffic and which instance talked to what; attackers remove them before they move data \
              (ATT&CK T1562.008, Disable Cloud Logs; Stratus Red Team `vpc-remove-flow-logs` and \
              `dns-delete-logs`). CIS AWS Foundations 3.7 and Security Hub EC2.6 ask for flow logs in \
              every VPC. Infrastructure code deletes them too when it tears a VPC down, which is why the \
              rule is medium, not high.",
        example: "`aws ec2 delete-flow-logs --flow-log-ids fl-0e17aa62a21d4bbfe` by a role session that does \
                  not manage networks, shortly before large S3 downloads.",
        fix: "Recreate the flow logs or query logging (the finding names what was removed), then look at \
              what the caller did next; deny these calls outside the network team's role with a service \
              control policy.",
        references: &[
            "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html",
            "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-query-logs.html",
            "https://attack.mitre.org/techniques/T1562/008/",
        ],
    },
};

/// The flow log ids of a `DeleteFlowLogs` request, which the EC2 query API records as
/// `{"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-...", "tag": 1}}}` (a list when several).
fn flow_log_ids(params: &Value) -> Vec<String> {
    let ids = params
        .get("DeleteFlowLogsRequest")
        .and_then(|r| r.get("FlowLogId"))
        .or_else(|| params.get("flowLogIds"));
    let one = |v: &Value| v.get("content").unwrap_or(v).as_str().map(str::to_owned);
    match ids {
        Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(item) => one(item).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Reports flow logs and DNS query logging removed.
#[derive(Debug, Default)]
pub struct NetworkLoggingRemoved;

impl CloudTrailRule for NetworkLoggingRemoved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let params = record.request_parameters().unwrap_or(Value::Null);
        let field = |key: &str| request_field(Some(&params), key);
        let region_flag = region_arg(record);
        let (done, resource, undo) = match record.event_name.as_ref() {
            "DeleteFlowLogs" => {
                let ids = flow_log_ids(&params);
                let shown = if ids.is_empty() {
                    "(unnamed)".to_owned()
                } else {
                    ids.join(", ")
                };
                (
                    format!("deleted VPC flow log(s) {shown}"),
                    Resource {
                        kind: "AwsEc2FlowLog".to_owned(),
                        id: ids
                            .first()
                            .map(|id| regional_arn(record, "ec2", &format!("vpc-flow-log/{id}")))
                            .unwrap_or_else(|| shown.clone()),
                        name: Some(shown),
                    },
                    // The deleted log's settings are in the CreateFlowLogs record that made it.
                    format!(
                        "aws cloudtrail lookup-events{region_flag} --lookup-attributes \
                         AttributeKey=EventName,AttributeValue=CreateFlowLogs"
                    ),
                )
            }
            name @ ("DeleteResolverQueryLogConfig" | "DisassociateResolverQueryLogConfig") => {
                let config =
                    field("resolverQueryLogConfigId").unwrap_or_else(|| "(unnamed)".to_owned());
                let vpc = field("resourceId");
                let done = match (name, vpc.as_deref()) {
                    ("DisassociateResolverQueryLogConfig", Some(vpc)) => format!(
                        "took VPC {vpc} out of Route 53 Resolver query logging configuration {config}"
                    ),
                    ("DisassociateResolverQueryLogConfig", None) => format!(
                        "took a VPC out of Route 53 Resolver query logging configuration {config}"
                    ),
                    _ => format!(
                        "deleted Route 53 Resolver query logging configuration {config}, and with it the \
                         DNS query log of every VPC it served"
                    ),
                };
                let undo = match vpc.as_deref() {
                    Some(vpc) => format!(
                        "aws route53resolver associate-resolver-query-log-config{region_flag} \
                         --resolver-query-log-config-id {} --resource-id {}",
                        sh(&config),
                        sh(vpc)
                    ),
                    None => {
                        format!("aws route53resolver list-resolver-query-log-configs{region_flag}")
                    }
                };
                (
                    done,
                    Resource {
                        kind: "AwsRoute53ResolverQueryLogConfig".to_owned(),
                        id: regional_arn(
                            record,
                            "route53resolver",
                            &format!("resolver-query-log-config/{config}"),
                        ),
                        name: Some(config),
                    },
                    undo,
                )
            }
            _ => return,
        };
        let failed = call_failed(record);
        let mut finding = finding_for(&META, record, META.severity);
        let who = describe_caller(&EventContext::from_record(record));
        finding.message = if failed {
            format!(
                "{who} tried to call {}; the call failed.",
                record.event_name
            )
        } else {
            format!("{who} {done}.")
        };
        finding.resource = Some(resource);
        request_evidence(
            &mut finding,
            Some(&params),
            &[
                "DeleteFlowLogsRequest",
                "flowLogIds",
                "resolverQueryLogConfigId",
                "resourceId",
            ],
        );
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to remove network logging."
                    .to_owned();
        } else {
            finding.fix.summary =
                "Unless a network was being torn down as planned, recreate the logging \
                                   and review what the caller did next."
                    .to_owned();
            finding.fix.commands = vec![undo];
            finding.fix.actions.push(FixAction::Manual {
                description: "Confirm the removal with the network's owner; if it was not planned, \
                              recreate the logging and treat the caller's credentials as compromised."
                    .to_owned(),
            });
        }
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flow_log_ids_are_read_in_each_shape() {
        let one = json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-1", "tag": 1}}});
        assert_eq!(flow_log_ids(&one), vec!["fl-1"]);
        let many = json!({"DeleteFlowLogsRequest": {"FlowLogId": [
            {"content": "fl-1", "tag": 1}, {"content": "fl-2", "tag": 2}]}});
        assert_eq!(flow_log_ids(&many), vec!["fl-1", "fl-2"]);
        assert_eq!(flow_log_ids(&json!({"flowLogIds": ["fl-3"]})), vec!["fl-3"]);
        assert!(flow_log_ids(&json!({})).is_empty());
    }
}
