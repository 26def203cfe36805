//! CT075 database-master-password-reset: the master (administrator) password of an RDS or Aurora
//! instance or cluster, or of a Redshift cluster, replaced through the AWS API.

use serde_json::Value;
use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, event_in, finding_for, region_arg, regional_arn,
    request_evidence, sh, worth_reporting,
};
use crate::finding::{Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{CloudTrailRule, EventContext, Report, ANY_EVENT};

pub const META: RuleMeta = RuleMeta {
    code: "CT075",
    name: "database-master-password-reset",
    title: "Database master password replaced",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1098", "T1078.004"],
    compliance: &[],
    events: &[ANY_EVENT],
    kb_entries: &[],
    doc: RuleDoc {
        what: "`ModifyDBInstance` or `ModifyDBCluster` (RDS, Aurora, and DocumentDB and Neptune, which \
               CloudTrail records under `rds.amazonaws.com`) or Redshift `ModifyCluster` that sets a new \
               master password (`masterUserPassword`, which CloudTrail masks). One finding per call; \
               **medium**. Handing the password to Secrets Manager (`manageMasterUserPassword`) or rotating \
               a managed one is not reported; a refused call is an attempt, one step lower.",
        why: "The master user is the database's administrator. Anyone allowed `rds:ModifyDBInstance` can set \
              its password without knowing the old one and log in to every schema, with no database \
              credential stolen (ATT&CK T1098 Account Manipulation): an IAM permission becomes full access \
              to the data. Teams set this password once, or let Secrets Manager manage it; a reset through \
              the API by a person is rare.",
        example: "IAM user `christophe` calls `aws rds modify-db-instance --db-instance-identifier \
                  orders-prod --master-user-password '...' --apply-immediately`.",
        fix: "If the reset was not planned, hand the password to Secrets Manager \
              (`--manage-master-user-password`, which sets one nobody knows and rotates it), check the \
              database's own logs for sessions of the master user since the change, and treat the caller's \
              credentials as compromised.",
        references: &[
            "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html",
            "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html",
            "https://docs.aws.amazon.com/redshift/latest/APIReference/API_ModifyCluster.html",
        ],
    },
};

const WATCHED: &[(&str, &str)] = &[
    ("rds.amazonaws.com", "ModifyDBInstance"),
    ("rds.amazonaws.com", "ModifyDBCluster"),
    ("redshift.amazonaws.com", "ModifyCluster"),
];

/// Flags database master passwords replaced.
#[derive(Debug, Default)]
pub struct DatabaseMasterPasswordReset;

/// The kind of database a call changes: each is named by its own request field, ARN and CLI call.
#[derive(Clone, Copy)]
enum Database {
    Instance,
    Cluster,
    Redshift,
}

impl Database {
    fn of(record: &Record<'_>) -> Database {
        match (record.event_source.as_ref(), record.event_name.as_ref()) {
            ("redshift.amazonaws.com", _) => Database::Redshift,
            (_, "ModifyDBCluster") => Database::Cluster,
            _ => Database::Instance,
        }
    }

    /// The request field naming it.
    fn id_key(self) -> &'static str {
        match self {
            Database::Instance => "dBInstanceIdentifier",
            Database::Cluster => "dBClusterIdentifier",
            Database::Redshift => "clusterIdentifier",
        }
    }

    /// What a message calls it.
    fn noun(self) -> &'static str {
        match self {
            Database::Instance => "database instance",
            Database::Cluster => "database cluster",
            Database::Redshift => "Redshift cluster",
        }
    }

    fn resource(self, record: &Record<'_>, id: &str) -> Resource {
        let (kind, service, path) = match self {
            Database::Instance => ("AwsRdsDbInstance", "rds", "db"),
            Database::Cluster => ("AwsRdsDbCluster", "rds", "cluster"),
            Database::Redshift => ("AwsRedshiftCluster", "redshift", "cluster"),
        };
        Resource {
            kind: kind.to_owned(),
            id: regional_arn(record, service, &format!("{path}:{id}")),
            name: Some(id.to_owned()),
        }
    }

    /// The call that hands its master password to Secrets Manager (`id` already quoted for the shell).
    fn manage_password_command(self, region: &str, id: &str) -> String {
        match self {
            Database::Instance => format!(
                "aws rds modify-db-instance{region} --db-instance-identifier {id} --manage-master-user-password --apply-immediately"
            ),
            Database::Cluster => format!(
                "aws rds modify-db-cluster{region} --db-cluster-identifier {id} --manage-master-user-password --apply-immediately"
            ),
            Database::Redshift => format!(
                "aws redshift modify-cluster{region} --cluster-identifier {id} --manage-master-password"
            ),
        }
    }
}

/// Whether the request sets a master password of the caller's choosing (masked or not, it is there).
fn sets_password(params: &Value) -> bool {
    params
        .get("masterUserPassword")
        .is_some_and(|p| !p.is_null() && p.as_str() != Some(""))
}

impl CloudTrailRule for DatabaseMasterPasswordReset {
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
        if !sets_password(&params) {
            return;
        }
        let failed = call_failed(record);
        if !worth_reporting(failed, META.severity) {
            return;
        }
        let database = Database::of(record);
        let id = params
            .get(database.id_key())
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
            .to_owned();
        let what = database.noun();
        let who = describe_caller(&EventContext::from_record(record));
        let mut finding = finding_for(&META, record, META.severity);
        // The password itself is masked in the record, and never copied.
        request_evidence(
            &mut finding,
            Some(&params),
            &[database.id_key(), "applyImmediately"],
        );
        finding.message = if failed {
            format!("{who} tried to set a new master password on {what} `{id}`; the call failed.")
        } else {
            format!(
                "{who} set a new master password on {what} `{id}`: whoever chose it can log in as the \
                 database's administrator."
            )
        };
        finding.resource = Some(database.resource(record, &id));
        if failed {
            finding.fix.summary =
                "Nothing changed; find out why this principal tried to reset the password."
                    .to_owned();
            out.push(finding);
            return;
        }
        finding.fix.summary =
            "If the reset was not planned, hand the password to Secrets Manager so \
             nobody knows it, and review the database's sessions since."
                .to_owned();
        finding.fix.commands =
            vec![database.manage_password_command(&region_arg(record), &sh(&id))];
        out.push(finding);
    }
}
