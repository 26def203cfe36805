//! PA023 server-certificate-expired: expired SSL/TLS certificates stored in IAM.

use trailguard_account::snapshot::SERVER_CERTIFICATES;

use super::{evidence, PostureContext, Report};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::remediation::FixAction;
use crate::rules::cloudtrail::common::sh;

pub const META: RuleMeta = RuleMeta {
    code: "PA023",
    name: "server-certificate-expired",
    title: "Expired server certificate in IAM",
    family: Family::Posture,
    severity: Severity::Medium,
    attack: &[],
    compliance: &["CIS-1.19", "IAM.26"],
    events: &[],
    kb_entries: &["DeleteServerCertificate"],
    doc: RuleDoc {
        what: "Server certificates in `list-server-certificates` whose `Expiration` is before the audit time.",
        why: "An expired certificate still deployed to a load balancer or CloudFront breaks TLS for clients, and \
              one left in IAM can be redeployed by mistake. CIS asks to remove them.",
        example: "`{\"ServerCertificateName\": \"www-2022\", \"Expiration\": \"2023-01-01T00:00:00Z\"}`",
        fix: "Check nothing still uses it, then `aws iam delete-server-certificate --server-certificate-name NAME`; \
              prefer ACM, which renews certificates itself.",
        references: &[
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_server-certs.html",
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-26",
        ],
    },
};

pub fn check(ctx: &PostureContext<'_>) -> Report {
    let Some(certificates) = &ctx.snapshot.server_certificates else {
        return Report::missing(SERVER_CERTIFICATES);
    };
    let mut findings = Vec::new();
    for cert in certificates {
        let Some(expiration) = cert.expiration.as_deref() else {
            continue;
        };
        let Some(days) = ctx.days_since(expiration).filter(|d| *d >= 0) else {
            continue;
        };
        // `days_since` counts whole days; the same day after the expiry instant is still expired.
        let expired =
            trailguard_account::time::parse_aws_time(expiration).is_some_and(|t| t < ctx.now);
        if !expired {
            continue;
        }
        let mut finding = ctx.finding(
            &META,
            Resource {
                kind: "AwsIamServerCertificate".into(),
                id: cert.arn.clone(),
                name: Some(cert.server_certificate_name.clone()),
            },
            "",
            format!(
                "Server certificate `{}` expired {days} days ago ({expiration}).",
                cert.server_certificate_name
            ),
        );
        finding.evidence.push(evidence("Expiration", expiration));
        finding.fix.commands.push(format!(
            "aws iam delete-server-certificate --server-certificate-name {}",
            sh(&cert.server_certificate_name)
        ));
        finding.fix.actions.push(FixAction::Manual {
            description: format!(
                "Make sure nothing uses `{}`, then delete it.",
                cert.server_certificate_name
            ),
        });
        findings.push(finding);
    }
    Report::evaluated(findings)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, days_ago};
    use super::*;

    #[test]
    fn expired_certificates_only() {
        let file = format!(
            r#"{{"ServerCertificateMetadataList":[
            {{"ServerCertificateName":"old","Arn":"arn:aws:iam::111122223333:server-certificate/old","Expiration":"{}"}},
            {{"ServerCertificateName":"live","Arn":"arn:aws:iam::111122223333:server-certificate/live","Expiration":"{}"}}]}}"#,
            days_ago(30),
            days_ago(-30)
        );
        let outcome = testkit::run(check, &[(SERVER_CERTIFICATES, &file)]);
        assert_eq!(testkit::names(&outcome), ["old"]);
        assert!(outcome.findings()[0]
            .message
            .starts_with("Server certificate `old` expired 30 days ago"));
    }
}
