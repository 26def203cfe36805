//! The CloudTrail → IAM mapping on the real logs, and the exception table case by case.

use std::collections::BTreeSet;

use trailguard_event::{scan, NoopObserver, Record, RecordVisitor, ScanOptions};
use trailguard_policy::catalog::Catalog;
use trailguard_policy::event_actions::{EventActions, Mapping, Unmapped, SERVICE_EVENT_TYPE};

#[derive(Default)]
struct Distinct(BTreeSet<(String, String, bool)>);

impl RecordVisitor for Distinct {
    fn visit(&mut self, record: &Record<'_>) {
        let service_event = record.event_type.as_deref() == Some(SERVICE_EVENT_TYPE);
        self.0.insert((
            record.event_source.to_string(),
            record.event_name.to_string(),
            service_event,
        ));
    }
}

fn describe(source: &str, name: &str, service_event: bool) -> String {
    let catalog = Catalog::get();
    if service_event {
        return format!("{source} {name}: unmapped: {}", Unmapped::ServiceEvent);
    }
    match EventActions::get().map(source, name, catalog) {
        Mapping::Action(id) => format!("{source} {name}: {}", catalog.full_name(id)),
        Mapping::Listed(listed) => {
            let mut parts: Vec<String> = listed
                .always
                .iter()
                .map(|id| catalog.full_name(*id))
                .collect();
            parts.extend(
                listed
                    .when_present
                    .iter()
                    .map(|p| format!("+{} if {}", catalog.full_name(p.action), p.param)),
            );
            format!("{source} {name}: {}", parts.join(" "))
        }
        Mapping::Unmapped(reason) => format!("{source} {name}: unmapped: {reason}"),
    }
}

#[test]
fn every_event_in_the_real_logs_maps_or_says_why() {
    let logs = trailguard_testkit::shared_data().join("cloudtrail");
    let opts = ScanOptions {
        inputs: vec![logs],
        ..ScanOptions::default()
    };
    let (workers, stats) = scan(&opts, Distinct::default, &NoopObserver).unwrap();
    assert!(stats.records_matched > 3000, "{stats:?}");
    let distinct: BTreeSet<_> = workers.into_iter().flat_map(|w| w.0).collect();
    assert!(distinct.len() > 250, "{}", distinct.len());
    let catalog = Catalog::get();
    let mut gaps = Vec::new();
    for (source, name, service_event) in &distinct {
        if *service_event {
            continue;
        }
        // Reasons that name a gap in our tables (rather than an event no policy decides) must not occur.
        if let Mapping::Unmapped(
            reason @ (Unmapped::UnknownSource
            | Unmapped::NoActionOfName { .. }
            | Unmapped::NotAnOperation { .. }),
        ) = EventActions::get().map(source, name, catalog)
        {
            gaps.push(format!("{source} {name}: {reason}"));
        }
    }
    assert!(
        gaps.is_empty(),
        "events the tables do not cover:\n{}",
        gaps.join("\n")
    );
    let lines: Vec<String> = distinct
        .iter()
        .map(|(s, n, e)| describe(s, n, *e))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn the_tables_parse_and_name_real_actions() {
    let map = EventActions::get();
    assert!(
        map.botocore_version.starts_with("1."),
        "{}",
        map.botocore_version
    );
    assert_eq!(map.prefix("monitoring.amazonaws.com"), Some("cloudwatch"));
    assert_eq!(map.prefix("ecr.amazonaws.com"), Some("ecr"));
    assert_eq!(map.prefix("iam.amazonaws.com"), Some("iam"));
    // Every row parsed (parse() rejects an action missing from the catalog), and none of them is a
    // name-identity row the generated table already covers.
    let rows = map.exceptions().count();
    let text_rows = include_str!("../src/event_actions/exceptions.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(rows, text_rows);
    let catalog = Catalog::get();
    for (source, name, listed) in map.exceptions() {
        if let [only] = listed.always.as_slice() {
            let same = map.prefix(source).map(|p| format!("{p}:{name}"));
            let same_id = same.and_then(|s| catalog.lookup(&s));
            assert!(
                !(same_id == Some(*only) && listed.when_present.is_empty()),
                "{source} {name}: the row repeats the name-identity rule"
            );
        }
    }
}

fn names(mapping: Mapping<'_>) -> (Vec<String>, Vec<String>) {
    let catalog = Catalog::get();
    match mapping {
        Mapping::Action(id) => (vec![catalog.full_name(id)], vec![]),
        Mapping::Listed(l) => (
            l.always.iter().map(|id| catalog.full_name(*id)).collect(),
            l.when_present
                .iter()
                .map(|p| format!("{}?{}", catalog.full_name(p.action), p.param))
                .collect(),
        ),
        Mapping::Unmapped(reason) => panic!("unmapped: {reason}"),
    }
}

fn map(source: &str, name: &str) -> Mapping<'static> {
    EventActions::get().map(source, name, Catalog::get())
}

#[test]
fn lambda_versioned_names() {
    let l = "lambda.amazonaws.com";
    assert_eq!(
        names(map(l, "UpdateFunctionConfiguration20150331v2")),
        (
            vec!["lambda:UpdateFunctionConfiguration".into()],
            vec!["iam:PassRole?role".into()]
        )
    );
    assert_eq!(
        names(map(l, "CreateFunction20150331")),
        (
            vec!["lambda:CreateFunction".into()],
            vec!["iam:PassRole?role".into()]
        )
    );
    assert_eq!(
        names(map(l, "GetFunction20150331v2")).0,
        ["lambda:GetFunction"]
    );
    assert_eq!(
        names(map(l, "AddPermission20150331v2")).0,
        ["lambda:AddPermission"]
    );
    assert_eq!(
        names(map(l, "ListVersionsByFunction20150331")).0,
        ["lambda:ListVersionsByFunction"]
    );
    assert_eq!(
        names(map(l, "GetFunctionCodeSigningConfig")).0,
        ["lambda:GetFunctionCodeSigningConfig"]
    );
    assert_eq!(names(map(l, "Invoke")).0, ["lambda:InvokeFunction"]);
    assert_eq!(
        names(map(l, "InvokeWithResponseStream")).0,
        ["lambda:InvokeFunction"]
    );
    assert_eq!(
        names(map(l, "GetLayerVersionByArn")).0,
        ["lambda:GetLayerVersion"]
    );
}

#[test]
fn s3_names() {
    let s3 = "s3.amazonaws.com";
    let cases = [
        ("ListBuckets", vec!["s3:ListAllMyBuckets"]),
        ("HeadBucket", vec!["s3:ListBucket"]),
        ("HeadObject", vec!["s3:GetObject"]),
        ("ListObjectsV2", vec!["s3:ListBucket"]),
        ("ListObjectVersions", vec!["s3:ListBucketVersions"]),
        ("CopyObject", vec!["s3:GetObject", "s3:PutObject"]),
        ("DeleteObjects", vec!["s3:DeleteObject"]),
        ("CompleteMultipartUpload", vec!["s3:PutObject"]),
        ("GetBucketLifecycle", vec!["s3:GetLifecycleConfiguration"]),
        ("PutBucketLifecycle", vec!["s3:PutLifecycleConfiguration"]),
        (
            "DeleteBucketLifecycle",
            vec!["s3:PutLifecycleConfiguration"],
        ),
        ("GetBucketEncryption", vec!["s3:GetEncryptionConfiguration"]),
        (
            "DeleteBucketEncryption",
            vec!["s3:PutEncryptionConfiguration"],
        ),
        (
            "GetBucketReplication",
            vec!["s3:GetReplicationConfiguration"],
        ),
        (
            "DeletePublicAccessBlock",
            vec!["s3:PutBucketPublicAccessBlock"],
        ),
        (
            "GetObjectLockConfiguration",
            vec!["s3:GetBucketObjectLockConfiguration"],
        ),
        ("DeleteBucketTagging", vec!["s3:PutBucketTagging"]),
        (
            "ListBucketInventoryConfigurations",
            vec!["s3:GetInventoryConfiguration"],
        ),
        ("DeleteBucketCors", vec!["s3:PutBucketCORS"]),
        // Name identity, case-insensitively as IAM compares actions.
        ("GetBucketCors", vec!["s3:GetBucketCORS"]),
        ("GetObject", vec!["s3:GetObject"]),
        ("PutBucketPolicy", vec!["s3:PutBucketPolicy"]),
    ];
    for (event, expected) in cases {
        assert_eq!(names(map(s3, event)).0, expected, "{event}");
    }
    // s3control operations arrive as s3.amazonaws.com.
    assert_eq!(
        names(map(s3, "GetAccountPublicAccessBlock")).0,
        ["s3:GetAccountPublicAccessBlock"]
    );
    assert!(matches!(
        map(s3, "GetStorageLensDashboardDataInternal"),
        Mapping::Unmapped(Unmapped::NoPermission(why)) if why.contains("console-internal")
    ));
}

#[test]
fn calls_that_need_several_permissions() {
    let cases = [
        (
            "ec2.amazonaws.com",
            "RunInstances",
            "ec2:RunInstances",
            vec!["iam:PassRole?iamInstanceProfile"],
        ),
        (
            "ec2.amazonaws.com",
            "AssociateIamInstanceProfile",
            "ec2:AssociateIamInstanceProfile",
            vec!["iam:PassRole?iamInstanceProfile"],
        ),
        (
            "iam.amazonaws.com",
            "AddRoleToInstanceProfile",
            "iam:AddRoleToInstanceProfile",
            vec!["iam:PassRole?roleName"],
        ),
        (
            "cloudformation.amazonaws.com",
            "CreateStack",
            "cloudformation:CreateStack",
            vec!["iam:PassRole?roleARN"],
        ),
        (
            "cloudformation.amazonaws.com",
            "UpdateStack",
            "cloudformation:UpdateStack",
            vec!["iam:PassRole?roleARN"],
        ),
        (
            "ecs.amazonaws.com",
            "RegisterTaskDefinition",
            "ecs:RegisterTaskDefinition",
            vec!["iam:PassRole?taskRoleArn", "iam:PassRole?executionRoleArn"],
        ),
        (
            "glue.amazonaws.com",
            "CreateJob",
            "glue:CreateJob",
            vec!["iam:PassRole?role"],
        ),
    ];
    for (source, event, action, extra) in cases {
        assert_eq!(
            names(map(source, event)),
            (
                vec![action.to_string()],
                extra.iter().map(|s| s.to_string()).collect()
            )
        );
    }
    assert_eq!(
        names(map("kms.amazonaws.com", "ReEncrypt")).0,
        ["kms:ReEncryptFrom", "kms:ReEncryptTo"]
    );
}

#[test]
fn events_no_policy_decides() {
    for (source, event, why) in [
        ("sts.amazonaws.com", "GetCallerIdentity", "always allowed"),
        ("signin.amazonaws.com", "ConsoleLogin", "sign-in"),
        ("signin.amazonaws.com", "CheckMfa", "sign-in"),
        ("signin.amazonaws.com", "ExitRole", "sign-in"),
        ("signin.amazonaws.com", "PasswordUpdated", "sign-in"),
        ("signin.amazonaws.com", "SwitchRole", "sign-in"),
        (
            "ec2.amazonaws.com",
            "SharedSnapshotVolumeCreated",
            "service-generated",
        ),
        (
            "ec2.amazonaws.com",
            "SharedSnapshotCopyInitiated",
            "service-generated",
        ),
    ] {
        match map(source, event) {
            Mapping::Unmapped(reason @ Unmapped::NoPermission(text)) => {
                assert!(text.contains(why), "{event}: {text}");
                assert!(reason.to_string().starts_with("no IAM permission: "));
            }
            other => panic!("{event}: {other:?}"),
        }
    }
}

#[test]
fn gaps_are_reported_with_their_reason() {
    let unknown = map("nothing.example.com", "DoThing");
    assert_eq!(unknown, Mapping::Unmapped(Unmapped::UnknownSource));
    assert_eq!(
        map("ec2.amazonaws.com", "NoSuchOperation"),
        Mapping::Unmapped(Unmapped::NotAnOperation { prefix: "ec2" })
    );
    // A model operation whose permission is named otherwise and is not (yet) in the exception table.
    match map("s3.amazonaws.com", "RenameObject") {
        Mapping::Unmapped(reason @ Unmapped::NoActionOfName { prefix: "s3" }) => {
            assert!(reason
                .to_string()
                .contains("no IAM action of the same name"))
        }
        Mapping::Action(_) | Mapping::Listed(_) => {} // the catalog learnt it: fine
        other => panic!("{other:?}"),
    }
    assert_eq!(
        names(map("monitoring.amazonaws.com", "DescribeAlarms")).0,
        ["cloudwatch:DescribeAlarms"]
    );
}

#[test]
fn hand_edits_that_break_the_tables_are_refused() {
    let catalog = Catalog::get();
    let sources = "B\t1.0\nS\ts3.amazonaws.com\ts3\t1\t1\n";
    let bad_action = "s3.amazonaws.com\tX\ts3:NoSuchPermission\twhy\n";
    let err = EventActions::parse(sources, bad_action, catalog).unwrap_err();
    assert!(
        err.to_string().contains("not in the action catalog"),
        "{err}"
    );
    let twice = "s3.amazonaws.com\tX\ts3:GetObject\ta\ns3.amazonaws.com\tX\ts3:PutObject\tb\n";
    assert!(EventActions::parse(sources, twice, catalog)
        .unwrap_err()
        .to_string()
        .contains("twice"));
    let only_conditional = "s3.amazonaws.com\tX\t+iam:PassRole?role\twhy\n";
    assert!(EventActions::parse(sources, only_conditional, catalog).is_err());
    let bad_prefix = "S\tx.amazonaws.com\tnosuchprefix\t1\t1\n";
    assert!(EventActions::parse(bad_prefix, "", catalog).is_err());
}

/// The exception rows no test above names, each with the permission AWS's S3 and Lambda documentation
/// give for it (written from the docs, not read from the table), so a hand edit to any row fails here.
#[test]
fn every_other_exception_row_case_by_case() {
    let s3 = "s3.amazonaws.com";
    let cases: &[(&str, &str, &[&str])] = &[
        (s3, "ListObjects", &["s3:ListBucket"]),
        (
            s3,
            "ListMultipartUploads",
            &["s3:ListBucketMultipartUploads"],
        ),
        (s3, "ListParts", &["s3:ListMultipartUploadParts"]),
        (s3, "CreateMultipartUpload", &["s3:PutObject"]),
        (s3, "UploadPart", &["s3:PutObject"]),
        (s3, "UploadPartCopy", &["s3:GetObject", "s3:PutObject"]),
        (s3, "SelectObjectContent", &["s3:GetObject"]),
        (
            s3,
            "GetBucketLifecycleConfiguration",
            &["s3:GetLifecycleConfiguration"],
        ),
        (
            s3,
            "PutBucketLifecycleConfiguration",
            &["s3:PutLifecycleConfiguration"],
        ),
        (
            s3,
            "PutBucketEncryption",
            &["s3:PutEncryptionConfiguration"],
        ),
        (
            s3,
            "PutBucketReplication",
            &["s3:PutReplicationConfiguration"],
        ),
        (
            s3,
            "DeleteBucketReplication",
            &["s3:PutReplicationConfiguration"],
        ),
        (
            s3,
            "GetBucketAccelerateConfiguration",
            &["s3:GetAccelerateConfiguration"],
        ),
        (
            s3,
            "PutBucketAccelerateConfiguration",
            &["s3:PutAccelerateConfiguration"],
        ),
        (
            s3,
            "GetBucketNotificationConfiguration",
            &["s3:GetBucketNotification"],
        ),
        (
            s3,
            "PutBucketNotificationConfiguration",
            &["s3:PutBucketNotification"],
        ),
        (
            s3,
            "GetPublicAccessBlock",
            &["s3:GetBucketPublicAccessBlock"],
        ),
        (
            s3,
            "PutPublicAccessBlock",
            &["s3:PutBucketPublicAccessBlock"],
        ),
        (
            s3,
            "PutObjectLockConfiguration",
            &["s3:PutBucketObjectLockConfiguration"],
        ),
        (
            s3,
            "DeleteBucketOwnershipControls",
            &["s3:PutBucketOwnershipControls"],
        ),
        (
            s3,
            "GetBucketAnalyticsConfiguration",
            &["s3:GetAnalyticsConfiguration"],
        ),
        (
            s3,
            "ListBucketAnalyticsConfigurations",
            &["s3:GetAnalyticsConfiguration"],
        ),
        (
            s3,
            "PutBucketAnalyticsConfiguration",
            &["s3:PutAnalyticsConfiguration"],
        ),
        (
            s3,
            "DeleteBucketAnalyticsConfiguration",
            &["s3:PutAnalyticsConfiguration"],
        ),
        (
            s3,
            "GetBucketInventoryConfiguration",
            &["s3:GetInventoryConfiguration"],
        ),
        (
            s3,
            "PutBucketInventoryConfiguration",
            &["s3:PutInventoryConfiguration"],
        ),
        (
            s3,
            "DeleteBucketInventoryConfiguration",
            &["s3:PutInventoryConfiguration"],
        ),
        (
            s3,
            "GetBucketMetricsConfiguration",
            &["s3:GetMetricsConfiguration"],
        ),
        (
            s3,
            "ListBucketMetricsConfigurations",
            &["s3:GetMetricsConfiguration"],
        ),
        (
            s3,
            "PutBucketMetricsConfiguration",
            &["s3:PutMetricsConfiguration"],
        ),
        (
            s3,
            "DeleteBucketMetricsConfiguration",
            &["s3:PutMetricsConfiguration"],
        ),
        (
            s3,
            "GetBucketIntelligentTieringConfiguration",
            &["s3:GetIntelligentTieringConfiguration"],
        ),
        (
            s3,
            "ListBucketIntelligentTieringConfigurations",
            &["s3:GetIntelligentTieringConfiguration"],
        ),
        (
            s3,
            "PutBucketIntelligentTieringConfiguration",
            &["s3:PutIntelligentTieringConfiguration"],
        ),
        (
            s3,
            "DeleteBucketIntelligentTieringConfiguration",
            &["s3:PutIntelligentTieringConfiguration"],
        ),
    ];
    for (source, event, expected) in cases {
        let (always, when_present) = names(map(source, event));
        assert_eq!(always, *expected, "{source} {event}");
        assert!(
            when_present.is_empty(),
            "{source} {event}: {when_present:?}"
        );
    }
    // Lambda's unversioned names take the same rows as the versioned ones.
    for event in ["CreateFunction", "UpdateFunctionConfiguration"] {
        let (always, when_present) = names(map("lambda.amazonaws.com", event));
        assert_eq!(always, [format!("lambda:{event}")]);
        assert_eq!(when_present, ["iam:PassRole?role"]);
    }
    // An internal console call with no public permission: said, never guessed.
    assert!(matches!(
        map(s3, "GetStorageLensDashboardDataInternal"),
        Mapping::Unmapped(Unmapped::NoPermission(_))
    ));
}
