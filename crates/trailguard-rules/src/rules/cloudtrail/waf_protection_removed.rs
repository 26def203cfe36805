//! CT095 waf-protection-removed: a web application firewall taken off what it protects: a web ACL
//! disassociated from a load balancer, API or user pool, deleted, emptied to allow everything, or its
//! request logging deleted.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{call_judgement_rule, regional_arn, request_field, CallJudgement, Judged};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::ANY_EVENT;

pub const META: RuleMeta = RuleMeta {
    code: "CT095",
    name: "waf-protection-removed",
    title: "Web application firewall removed or opened",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1562.007"],
    compliance: &[],
    // Routed only `WATCHED`: an `UpdateWebACL` is judged by its parameters.
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "**medium**: a web ACL disassociated from the load balancer, API Gateway stage, AppSync API, \
               Cognito user pool or other resource it protected (`DisassociateWebACL`, in AWS WAF and in WAF \
               Classic regional), a web ACL deleted (`DeleteWebACL`, in AWS WAF and both WAF Classic \
               endpoints), or updated to allow by default with no rules left (`UpdateWebACL` with \
               `defaultAction` `Allow` and an empty `rules` list): the traffic it filtered now reaches the \
               application unfiltered. **low**: a web ACL's request logging deleted \
               (`DeleteLoggingConfiguration`). A refused call is an attempt, one step lower; a refused call \
               that would be low is not reported. Calls AWS makes (Firewall Manager's service-linked role) \
               are left out.",
        why: "A web ACL is what stands between the internet and an application's known weaknesses (injection, \
              credential stuffing, exploit kits, abusive addresses). An attacker who holds cloud credentials \
              and wants to reach the application, or to brute-force its sign-in page, removes it first \
              (ATT&CK T1562.007, Disable or Modify Cloud Firewall); deleting its logs hides the requests \
              that follow. Panther watches the disassociation for the same reason.",
        example: "A role session calls `aws wafv2 disassociate-web-acl --resource-arn \
                  arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/shop/50dc6c495c0c9188`.",
        fix: "Associate the web ACL again (`aws wafv2 associate-web-acl`), restore its rules or recreate it \
              from infrastructure code, and turn its logging back on; then review the requests the \
              application received meanwhile. Limit `wafv2:DisassociateWebACL` and `wafv2:DeleteWebACL` to \
              the network team with a service control policy, or manage web ACLs with Firewall Manager.",
        references: &[
            "https://docs.aws.amazon.com/waf/latest/APIReference/API_DisassociateWebACL.html",
            "https://docs.aws.amazon.com/waf/latest/developerguide/logging-using-cloudtrail.html",
            "https://attack.mitre.org/techniques/T1562/007/",
        ],
    },
};

const WAF: &str = "wafv2.amazonaws.com";
const CLASSIC_REGIONAL: &str = "waf-regional.amazonaws.com";
const CLASSIC_GLOBAL: &str = "waf.amazonaws.com";

const WATCHED: &[(&str, &str)] = &[
    (WAF, "DisassociateWebACL"),
    (CLASSIC_REGIONAL, "DisassociateWebACL"),
    (WAF, "DeleteWebACL"),
    (CLASSIC_REGIONAL, "DeleteWebACL"),
    (CLASSIC_GLOBAL, "DeleteWebACL"),
    (WAF, "UpdateWebACL"),
    (WAF, "DeleteLoggingConfiguration"),
];

/// Whether an `UpdateWebACL` leaves the web ACL allowing everything: `Allow` by default and no rules.
fn allows_everything(params: &Value) -> bool {
    let allows = params
        .get("defaultAction")
        .and_then(Value::as_object)
        .is_some_and(|action| action.contains_key("allow") || action.contains_key("Allow"));
    let no_rules = params
        .get("rules")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    allows && no_rules
}

/// The web ACL a call names: its name, else its id.
fn web_acl_named(params: &Value) -> String {
    ["name", "webACLId", "id"]
        .iter()
        .find_map(|key| request_field(Some(params), key))
        .unwrap_or_else(|| "(unnamed)".to_owned())
}

fn removal(record: &Record<'_>, params: &Value) -> Option<Judged> {
    let field = |key: &str| request_field(Some(params), key);
    let web_acl = || {
        let name = web_acl_named(params);
        // AWS WAF names a web ACL `arn:aws:wafv2:REGION:ACCOUNT:(regional|global)/webacl/NAME/ID`.
        let arn = field("resourceArn").or_else(|| {
            let scope = match field("scope")?.to_ascii_uppercase().as_str() {
                "REGIONAL" => "regional",
                "CLOUDFRONT" => "global",
                _ => return None,
            };
            let id = field("id")?;
            Some(regional_arn(
                record,
                "wafv2",
                &format!("{scope}/webacl/{name}/{id}"),
            ))
        });
        Resource {
            kind: "AwsWafv2WebAcl".to_owned(),
            id: arn.unwrap_or_else(|| name.clone()),
            name: Some(name),
        }
    };
    let judged = Judged::new;
    Some(match record.event_name.as_ref() {
        "DisassociateWebACL" => {
            let protected = field("resourceArn").unwrap_or_else(|| "(unnamed)".to_owned());
            judged(
                Severity::Medium,
                format!("took the web ACL off `{protected}`: its traffic reaches it unfiltered"),
                format!("take the web ACL off `{protected}`"),
                Resource {
                    kind: "AwsResource".to_owned(),
                    id: protected.clone(),
                    name: Some(protected),
                },
            )
        }
        "DeleteWebACL" => {
            let name = web_acl_named(params);
            judged(
                Severity::Medium,
                format!("deleted web ACL `{name}`"),
                format!("delete web ACL `{name}`"),
                web_acl(),
            )
        }
        "UpdateWebACL" if allows_everything(params) => {
            let name = web_acl_named(params);
            judged(
                Severity::Medium,
                format!("emptied web ACL `{name}`: no rules left and allow by default, it filters nothing"),
                format!("empty web ACL `{name}`"),
                web_acl(),
            )
        }
        "DeleteLoggingConfiguration" => {
            let acl = field("resourceArn").unwrap_or_else(|| "(unnamed)".to_owned());
            judged(
                Severity::Low,
                format!("deleted the request logging of web ACL `{acl}`"),
                format!("delete the request logging of web ACL `{acl}`"),
                web_acl(),
            )
        }
        _ => return None,
    })
}

/// The rule's calls, judgement and evidence ([`CallJudgement`]).
const JUDGEMENT: CallJudgement = CallJudgement {
    meta: &META,
    watched: WATCHED,
    judge: removal,
    evidence_keys: &[
        "resourceArn",
        "name",
        "id",
        "webACLId",
        "scope",
        "defaultAction",
        "rules",
    ],
    summary: "Unless the network team decided it, put the web ACL back (associate it, restore its \
          rules, turn its logging on) and review the requests the application received meanwhile.",
};

call_judgement_rule!(
    /// Flags web application firewalls taken off, deleted, emptied or unlogged.
    WafProtectionRemoved,
    JUDGEMENT
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{check, TestEvent};

    #[test]
    fn an_update_is_reported_only_when_it_leaves_nothing_to_filter() {
        let emptied = TestEvent::new(WAF, "UpdateWebACL").request(
            r#"{"name":"shop","scope":"REGIONAL","id":"a1b2c3d4-5678-90ab-cdef-EXAMPLE11111","defaultAction":{"allow":{}},"rules":[],"lockToken":"t"}"#,
        );
        let f = &check(&WafProtectionRemoved, &emptied)[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("emptied web ACL `shop`"),
            "{}",
            f.message
        );
        for kept in [
            r#"{"name":"shop","defaultAction":{"block":{}},"rules":[]}"#,
            r#"{"name":"shop","defaultAction":{"allow":{}},"rules":[{"name":"AWS-AWSManagedRulesCommonRuleSet","priority":0}]}"#,
            r#"{"name":"shop","defaultAction":{"allow":{}}}"#,
        ] {
            let update = TestEvent::new(WAF, "UpdateWebACL").request(kept);
            assert!(check(&WafProtectionRemoved, &update).is_empty(), "{kept}");
        }
    }

    #[test]
    fn a_refused_disassociation_is_an_attempt_and_refused_log_deletion_is_not_reported() {
        let refused = TestEvent::new(WAF, "DisassociateWebACL")
            .request(r#"{"resourceArn":"arn:aws:elasticloadbalancing:us-east-1:229654561268:loadbalancer/app/shop/50dc6c495c0c9188"}"#)
            .denied();
        assert_eq!(
            check(&WafProtectionRemoved, &refused)[0].severity,
            Severity::Low
        );
        let logs = TestEvent::new(WAF, "DeleteLoggingConfiguration")
            .request(r#"{"resourceArn":"arn:aws:wafv2:us-east-1:229654561268:regional/webacl/shop/a1b2c3d4"}"#)
            .denied();
        assert!(check(&WafProtectionRemoved, &logs).is_empty());
    }
}
