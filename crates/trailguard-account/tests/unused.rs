//! Granted against used on Cloudsplaining's example account, with a log set written to match some of its
//! principals.

use std::sync::Arc;

use trailguard_account::unused::{compare_all, PrincipalUnused};
use trailguard_account::usage::{Usage, UsageCollector};
use trailguard_account::{effective_principals, AccountSnapshot, RawSnapshot};
use trailguard_event::source::{MemorySource, Source};
use trailguard_event::{scan_sources, Filter, NoopObserver};
use trailguard_policy::catalog::Catalog;

const DEV: &str = "200611803367";
const PROD: &str = "012345678901";

/// Calls by three of the account's principals (two users, one role in two sessions) over 17 days; the
/// bin crate's `audit unused` test reads the same file.
fn usage() -> Usage {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cloudsplaining-usage.json"
    );
    let text = std::fs::read(path).unwrap();
    let source: Box<dyn Source> =
        Box::new(MemorySource::new("written.json", Arc::<[u8]>::from(text)));
    let (workers, _) = scan_sources(
        vec![source],
        &Filter::default(),
        1,
        || UsageCollector::new(true),
        &NoopObserver,
    )
    .unwrap();
    let mut usage = Usage::default();
    for w in workers {
        usage.merge(w.into_usage());
    }
    usage
}

fn lines(report: &PrincipalUnused) -> Vec<String> {
    let catalog = Catalog::get();
    let mut out: Vec<String> = report
        .used_granted
        .iter()
        .map(|a| format!("+ {}", catalog.full_name(*a)))
        .collect();
    out.extend(
        report
            .used_unexplained
            .iter()
            .map(|a| format!("? {}", catalog.full_name(*a))),
    );
    out.extend(
        report
            .granted_unused
            .iter()
            .take(5)
            .map(|a| format!("- {}", catalog.full_name(*a))),
    );
    out
}

#[test]
fn granted_used_unused_on_the_cloudsplaining_account() {
    let path = trailguard_testkit::shared_data().join("peer-suites/cloudsplaining/example.json");
    let snapshot = AccountSnapshot::from_raw(&RawSnapshot::read_path(&path).unwrap());
    let principals = effective_principals(snapshot.authorization.as_ref().unwrap());
    let usage = usage();
    assert_eq!(trailguard_account::usage::window_days(usage.window), 17);
    let reports = compare_all(&principals, &usage);
    assert_eq!(reports.len(), principals.len());
    let by_arn = |arn: &str| reports.iter().find(|r| r.arn == arn).unwrap();

    let privesc4 = by_arn(&format!(
        "arn:aws:iam::{DEV}:user/privesc4-CreateAccessKey-user"
    ));
    assert_eq!(
        lines(privesc4)[..2],
        ["+ iam:CreateAccessKey", "? s3:ListAllMyBuckets"]
    );
    assert_eq!(privesc4.calls, 2);

    let obama = by_arn(&format!("arn:aws:iam::{PROD}:user/obama"));
    assert_eq!(lines(obama)[0], "+ ec2:DescribeInstances");
    assert!(
        obama.granted_unused.len() > 15_000,
        "an administrator: {}",
        obama.granted_unused.len()
    );
    let catalog = Catalog::get();
    let sensitive: Vec<String> = obama
        .sensitive_unused
        .iter()
        .map(|a| catalog.full_name(*a))
        .collect();
    for action in [
        "iam:CreateAccessKey",
        "iam:AttachUserPolicy",
        "iam:PutRolePolicy",
    ] {
        assert!(sensitive.iter().any(|s| s == action), "{action}");
    }

    // The role's two sessions count for the role; GetCallerIdentity needs no permission.
    let sre = by_arn(&format!("arn:aws:iam::{DEV}:role/privesc-sre-role"));
    // Its policy grants iam, ec2 and s3 only: the SSM call is explained by nothing we see.
    assert_eq!(sre.calls, 2);
    assert_eq!(
        lines(sre)[..2],
        ["+ ec2:DescribeInstances", "? ssm:DescribeParameters"]
    );

    // Everyone else was not used at all in the window.
    let idle = reports.iter().filter(|r| r.calls == 0).count();
    assert_eq!(idle, reports.len() - 3);
    let idle_with_grants = reports
        .iter()
        .filter(|r| r.calls == 0 && !r.sensitive_unused.is_empty())
        .count();
    assert!(idle_with_grants > 20, "{idle_with_grants}");

    // The full `+ - ?` view of the user, as printed (the `-` lines are its whole grant: a short policy).
    let full: Vec<String> = {
        let mut out = lines(privesc4);
        out.truncate(2);
        out.extend(
            privesc4
                .granted_unused
                .iter()
                .map(|a| format!("- {}", catalog.full_name(*a))),
        );
        out
    };
    insta::assert_snapshot!(full.join("\n"));
}
