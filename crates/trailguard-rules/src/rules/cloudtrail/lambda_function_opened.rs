//! CT062 lambda-function-opened: a Lambda function's resource-based policy or function URL opened to
//! callers outside the account (`AddPermission`, `CreateFunctionUrlConfig`, `UpdateFunctionUrlConfig`).
//! Lambda records its API version in the event name (`AddPermission20150331v2`), so the events are
//! prefix patterns.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_for, lambda_function_arn, principal_account,
    region_arg, request_evidence, request_field, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rule::{CloudTrailRule, EventContext, Report};

pub const META: RuleMeta = RuleMeta {
    code: "CT062",
    name: "lambda-function-opened",
    title: "Lambda function opened to callers outside the account",
    family: Family::Cloudtrail,
    severity: Severity::High,
    attack: &["T1098", "T1648"],
    compliance: &["Lambda.1"],
    events: &[
        ("lambda.amazonaws.com", "AddPermission*"),
        ("lambda.amazonaws.com", "CreateFunctionUrlConfig*"),
        ("lambda.amazonaws.com", "UpdateFunctionUrlConfig*"),
    ],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement added to a Lambda function's resource-based policy (`AddPermission`) that lets \
               a caller outside the account invoke or read the function, or a function URL set to \
               `AuthType` `NONE`. **high** for `Principal` `*` without conditions (every AWS account may \
               call it); **medium** for a public function URL (the URL itself, or the \
               `lambda:InvokeFunctionUrl` grant to `*` with `FunctionUrlAuthType` `NONE` that lets anyone \
               on the internet call it), for another AWS account, and for `*` limited only by a source \
               ARN or account; **low** for `*` or another account bound to an organization \
               (`principalOrgID`), and for an AWS service principal without `sourceArn` or \
               `sourceAccount` (any account's resource of that service could trigger the function). \
               A statement whose record names no principal (a copy of the record that dropped it) is \
               **low**. Principals of the same account and service principals tied to a source are not \
               reported. \
               A refused call is an attempt, one step lower; a refused call that would be low is not \
               reported.",
        why: "A function policy is a way into the account that no IAM user or role shows: an attacker who \
              grants their own account (or everyone) `lambda:InvokeFunction` can run the function, with \
              its execution role's permissions and the payload they choose, from outside, long after \
              their keys are gone (Stratus Red Team `lambda-backdoor-function`). Combined with a code \
              change it is a standing backdoor. A public function URL is reachable by anyone without AWS \
              credentials. AWS Security Hub control Lambda.1 asks that function policies prohibit public \
              access.",
        example: "IAM user `christophe` calls `aws lambda add-permission --function-name billing-export \
                  --statement-id backdoor --action lambda:InvokeFunction --principal '*'`.",
        fix: "Remove the statement (`aws lambda remove-permission` with its statement id) or set the URL's \
              auth type back to `AWS_IAM`, then review the function's code and configuration for changes \
              by the same caller and its invocations since. Grant other accounts only with \
              `principalOrgID`, and AWS services only with `sourceArn` and `sourceAccount`.",
        references: &[
            "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
            "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html#lambda-1",
            "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-backdoor-function/",
        ],
    },
};

/// Who a new statement or URL lets in, and how far.
struct Opening {
    severity: Severity,
    /// Completes "… that lets …".
    reach: String,
}

/// Whether `principal` is an AWS service (`s3.amazonaws.com`, `alexa-appkit.amazon.com`,
/// `events.amazonaws.com.cn`).
fn is_service(principal: &str) -> bool {
    !principal.starts_with("arn:")
        && (principal.ends_with(".amazonaws.com")
            || principal.ends_with(".amazon.com")
            || principal.ends_with(".amazonaws.com.cn"))
}

/// Whether a grant of `action` reaches the function URL rather than the API.
fn is_url_action(action: Option<&str>) -> bool {
    action.is_some_and(|a| a.eq_ignore_ascii_case("lambda:InvokeFunctionUrl"))
}

/// The opening an `AddPermission` statement makes, `None` when it stays within the account (or is tied
/// to a source of an AWS service).
fn permission_opening(params: &Value, own_account: Option<&str>) -> Option<Opening> {
    let field = |key: &str| params.get(key)?.as_str().filter(|v| !v.is_empty());
    let Some(principal) = field("principal") else {
        // AWS always records the principal; a copy that dropped it cannot show the statement is safe.
        return Some(Opening {
            severity: Severity::Low,
            reach: "a principal the record does not name call it (read the function's policy to see whom)"
                .to_owned(),
        });
    };
    let action = field("action");
    let org = field("principalOrgID");
    let source = field("sourceArn").or(field("sourceAccount"));
    let public_url = is_url_action(action)
        && field("functionUrlAuthType").is_some_and(|t| t.eq_ignore_ascii_case("NONE"));
    if principal == "*" {
        let (severity, reach) = if let Some(org) = org {
            (
                Severity::Low,
                format!("every principal of organization `{org}` call it"),
            )
        } else if public_url {
            (
                Severity::Medium,
                "anyone on the internet call its public function URL, with no AWS credentials"
                    .to_owned(),
            )
        } else if let Some(source) = source {
            (
                Severity::Medium,
                format!("every AWS principal call it, limited only to requests from `{source}`"),
            )
        } else {
            (
                Severity::High,
                "every AWS principal, in any account, call it".to_owned(),
            )
        };
        return Some(Opening { severity, reach });
    }
    if is_service(principal) {
        return source.is_none().then(|| Opening {
            severity: Severity::Low,
            reach: format!(
                "service `{principal}` call it on behalf of any account's resource (no `sourceArn` or \
                 `sourceAccount`)"
            ),
        });
    }
    let account = principal_account(principal)?;
    if Some(account) == own_account {
        return None;
    }
    Some(match org {
        Some(org) => Opening {
            severity: Severity::Low,
            reach: format!(
                "account {account} (`{principal}`), within organization `{org}`, call it"
            ),
        },
        None => Opening {
            severity: Severity::Medium,
            reach: format!("another AWS account, {account} (`{principal}`), call it"),
        },
    })
}

/// Flags function policies and URLs opened beyond the account.
#[derive(Debug, Default)]
pub struct LambdaFunctionOpened;

impl CloudTrailRule for LambdaFunctionOpened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, record: &Record<'_>, out: &mut Report) {
        let Some(params) = record.request_parameters() else {
            return;
        };
        let own_account = record.account_id();
        let is_permission = record.event_name.starts_with("AddPermission");
        let opening = if is_permission {
            permission_opening(&params, own_account)
        } else {
            // CreateFunctionUrlConfig / UpdateFunctionUrlConfig: only `NONE` opens the URL.
            let auth = request_field(Some(&params), "authType");
            auth.filter(|a| a.eq_ignore_ascii_case("NONE"))
                .map(|_| Opening {
                    severity: Severity::Medium,
                    reach:
                        "anyone on the internet reach its function URL without signing the request \
                            (auth type `NONE`), as far as the function policy allows"
                            .to_owned(),
                })
        };
        let Some(opening) = opening else {
            return;
        };
        let failed = call_failed(record);
        if !worth_reporting(failed, opening.severity) {
            return;
        }
        let name = request_field(Some(&params), "functionName")
            .unwrap_or_else(|| "(unnamed function)".to_owned());
        let arn = lambda_function_arn(record, &name, own_account);
        let statement_id = request_field(Some(&params), "statementId");
        let qualifier = request_field(Some(&params), "qualifier");

        let mut finding = finding_for(&META, record, opening.severity);
        let who = describe_caller(&EventContext::from_record(record));
        let what = if is_permission {
            format!(
                "a statement{} to the policy of function `{name}`",
                statement_id
                    .as_deref()
                    .map(|id| format!(" (`{id}`)"))
                    .unwrap_or_default()
            )
        } else {
            format!("a function URL configuration to function `{name}`")
        };
        finding.message = if failed {
            format!(
                "{who} tried to add {what} that lets {}; the call failed.",
                opening.reach
            )
        } else {
            format!("{who} added {what} that lets {}.", opening.reach)
        };
        finding.resource = Some(Resource {
            kind: "AwsLambdaFunction".to_owned(),
            id: arn,
            name: Some(name.clone()),
        });
        request_evidence(
            &mut finding,
            Some(&params),
            &[
                "principal",
                "action",
                "sourceArn",
                "sourceAccount",
                "principalOrgID",
                "functionUrlAuthType",
                "authType",
                "statementId",
                "qualifier",
            ],
        );
        if let Some(statement) = record
            .response_elements()
            .and_then(|r| r.get("statement").cloned())
        {
            finding
                .evidence
                .push(evidence("responseElements.statement", statement));
        }
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to open the function."
                    .to_owned();
            out.push(finding);
            return;
        }
        let region = region_arg(record);
        let qualifier_arg = qualifier
            .as_deref()
            .map(|q| format!(" --qualifier {}", sh(q)))
            .unwrap_or_default();
        let command = match (is_permission, statement_id.as_deref()) {
            (true, Some(id)) => format!(
                "aws lambda remove-permission{region} --function-name {} --statement-id {}{qualifier_arg}",
                sh(&name),
                sh(id)
            ),
            (true, None) => format!(
                "aws lambda get-policy{region} --function-name {}{qualifier_arg}",
                sh(&name)
            ),
            (false, _) => format!(
                "aws lambda update-function-url-config{region} --function-name {} --auth-type AWS_IAM{qualifier_arg}",
                sh(&name)
            ),
        };
        finding.fix.summary = if is_permission {
            format!(
                "Unless `{name}` is meant to be called from outside the account, remove the statement and \
                 review the function's code, role and invocations since."
            )
        } else {
            format!(
                "Unless `{name}` is meant to be public, set its URL's auth type back to `AWS_IAM` (or \
                 delete the URL) and review its invocations since."
            )
        };
        finding.fix.commands = vec![command];
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Confirm with the owner of `{name}` that outside callers are intended; if not, remove the \
                 opening and review who invoked the function since."
            ),
        });
        out.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opening(params: Value) -> Option<(Severity, String)> {
        permission_opening(&params, Some("111122223333")).map(|o| (o.severity, o.reach))
    }

    #[test]
    fn principals_are_judged_by_how_far_they_reach() {
        let everyone = json!({"principal": "*", "action": "lambda:InvokeFunction"});
        assert_eq!(opening(everyone).unwrap().0, Severity::High);
        let org = json!({"principal": "*", "principalOrgID": "o-a1b2c3d4e5"});
        assert_eq!(opening(org).unwrap().0, Severity::Low);
        let url = json!({"principal": "*", "action": "lambda:InvokeFunctionUrl",
                         "functionUrlAuthType": "NONE"});
        assert_eq!(opening(url).unwrap().0, Severity::Medium);
        let other = json!({"principal": "arn:aws:iam::444455556666:root"});
        let (severity, reach) = opening(other).unwrap();
        assert_eq!(severity, Severity::Medium);
        assert!(reach.contains("444455556666"), "{reach}");
        assert_eq!(
            opening(json!({"principal": "444455556666"})).unwrap().0,
            Severity::Medium
        );
    }

    #[test]
    fn own_account_and_tied_services_stay_quiet() {
        assert!(opening(json!({"principal": "111122223333"})).is_none());
        assert!(opening(json!({"principal": "arn:aws:iam::111122223333:role/ci"})).is_none());
        assert!(opening(json!({"principal": "s3.amazonaws.com",
                               "sourceArn": "arn:aws:s3:::uploads"}))
        .is_none());
        assert!(opening(json!({"principal": "events.amazonaws.com",
                               "sourceAccount": "111122223333"}))
        .is_none());
        assert_eq!(
            opening(json!({"principal": "sns.amazonaws.com"}))
                .unwrap()
                .0,
            Severity::Low
        );
        let (severity, reach) = opening(json!({"action": "lambda:InvokeFunction"})).unwrap();
        assert_eq!(
            severity,
            Severity::Low,
            "no principal recorded: cannot be shown safe"
        );
        assert!(reach.contains("does not name"), "{reach}");
    }
}
