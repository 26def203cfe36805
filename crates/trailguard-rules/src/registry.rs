//! The one registry of built-in rules, for every family.
//!
//! A rule is registered by one line in its family's `register!` block (`rules/<family>/mod.rs`): the line
//! declares the rule's module and lists it, in code order. Rust's module tree makes a module's parent
//! declare it, so the block sits beside the family's shared context; this file defines the macro, the
//! registry's view of every family ([`all`]), the engine built from it ([`Engine::builtin`]) and the one
//! test that holds the catalog together (codes, names, docs, knowledge-base entries, labelled cases).
//!
//! Adding a rule of any family is three files: the rule (`rules/<family>/<rule>.rs`), its labelled cases
//! (`rules/<family>/<rule>.cases.json`) and one line in its family's `register!` block. Nothing else
//! counts or lists rules: the engine, `trailguard rules`, the docs site and the output formats receive
//! them from here.

use crate::engine::Engine;
use crate::meta::{Family, RuleMeta};
use crate::rules::{cloudtrail, policy, posture};

/// One registered rule: its metadata and the file stem of its module (`risky_policy_version`), which
/// names its files: `rules/<family>/<module>.rs` and `rules/<family>/<module>.cases.json`.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    pub meta: &'static RuleMeta,
    pub module: &'static str,
    /// Raised outside the engine (`raised` in the CloudTrail block: CT051, which `serve` raises from
    /// its delivery health; CT052, which needs an account snapshot and is added to the engine by
    /// `scan/serve --snapshot`; CT055, which `serve` raises from the store's expired mutes): the built-in engine never runs it and it has no record cases; the
    /// tests of the code that raises it are its cases.
    pub raised_outside_engine: bool,
}

impl Registered {
    /// The rule's source file, relative to the crate's `src/`.
    pub fn source_file(&self) -> String {
        format!("rules/{}/{}.rs", self.meta.family.dir(), self.module)
    }

    /// The rule's labelled cases, relative to the crate's `src/`.
    pub fn cases_file(&self) -> String {
        format!(
            "rules/{}/{}.cases.json",
            self.meta.family.dir(),
            self.module
        )
    }
}

/// Declares and registers the rules of one family, one line each, in code order:
///
/// ```text
/// register! { cloudtrail:
///     single risky_policy_version::RiskyPolicyVersion,   // a rule on one record
///     sequence root_account_activity::RootAccountActivity, // a rule over records in time
///     raised delivery_silent::DeliverySilent,             // raised by `serve`, not from a record
/// }
/// register! { posture: password_policy_weak in PasswordPolicy, }   // the check and its audit section
/// register! { policy: malformed_policy, }
/// ```
///
/// Each family gets `pub mod <module>;` per line and `REGISTERED` (every rule's [`Registered`]); the
/// CloudTrail family also `rules()` and `sequences()` (fresh rule objects for an engine), posture
/// `CHECKS` and policy `CHECKS` (the check functions with their metadata).
macro_rules! register {
    (cloudtrail: $($kind:ident $module:ident :: $rule:ident,)*) => {
        $(pub mod $module;)*

        /// Every CloudTrail rule, in code order.
        pub const REGISTERED: &[$crate::registry::Registered] = &[
            $($crate::registry::Registered {
                meta: &$module::META,
                module: stringify!($module),
                raised_outside_engine: $crate::registry::register!(@raised $kind),
            },)*
        ];

        /// A fresh instance of every single-record rule, in code order.
        pub fn rules() -> Vec<Box<dyn $crate::rule::CloudTrailRule>> {
            [$($crate::registry::register!(@single $kind $module::$rule),)*]
                .into_iter()
                .flatten()
                .collect()
        }

        /// A fresh instance of every sequence rule, in code order.
        pub fn sequences() -> Vec<Box<dyn $crate::rule::SequenceRule>> {
            [$($crate::registry::register!(@sequence $kind $module::$rule),)*]
                .into_iter()
                .flatten()
                .collect()
        }
    };
    (@single single $module:ident :: $rule:ident) => {
        Some(Box::new($module::$rule) as Box<dyn $crate::rule::CloudTrailRule>)
    };
    (@single sequence $module:ident :: $rule:ident) => { None };
    (@single raised $module:ident :: $rule:ident) => { None };
    (@raised raised) => { true };
    (@raised $other:ident) => { false };
    (@sequence raised $module:ident :: $rule:ident) => { None };
    (@sequence sequence $module:ident :: $rule:ident) => {
        // Built as `Default` builds it: a rule a run may configure (CT106's networks) holds its default.
        Some(Box::new(<$module::$rule>::default()) as Box<dyn $crate::rule::SequenceRule>)
    };
    (@sequence single $module:ident :: $rule:ident) => { None };

    (posture: $($module:ident in $section:ident,)*) => {
        $(pub mod $module;)*

        /// Every posture check, in code order.
        pub const REGISTERED: &[$crate::registry::Registered] = &[
            $($crate::registry::Registered { meta: &$module::META, module: stringify!($module), raised_outside_engine: false },)*
        ];

        /// Every posture check with its section, in code order.
        pub const CHECKS: &[PostureCheck] = &[
            $(PostureCheck { meta: &$module::META, section: Section::$section, check: $module::check },)*
        ];
    };

    (policy: $($module:ident,)*) => {
        $(pub mod $module;)*

        /// Every policy check, in code order.
        pub const REGISTERED: &[$crate::registry::Registered] = &[
            $($crate::registry::Registered { meta: &$module::META, module: stringify!($module), raised_outside_engine: false },)*
        ];

        /// Every policy check, in code order (the order findings on one document come in).
        pub const CHECKS: &[PolicyCheck] = &[
            $(PolicyCheck { meta: &$module::META, check: $module::check },)*
        ];
    };
}
pub(crate) use register;

/// Every registered rule: CloudTrail, then posture, then policy, each in code order.
pub fn all() -> impl Iterator<Item = &'static Registered> {
    cloudtrail::REGISTERED
        .iter()
        .chain(posture::REGISTERED)
        .chain(policy::REGISTERED)
}

/// Every registered rule's metadata, in [`all`]'s order.
pub fn metas() -> Vec<&'static RuleMeta> {
    all().map(|r| r.meta).collect()
}

/// The metadata of one family's rules, in code order.
pub fn family_metas(family: Family) -> Vec<&'static RuleMeta> {
    all()
        .map(|r| r.meta)
        .filter(|m| m.family == family)
        .collect()
}

impl Engine {
    /// Every registered CloudTrail rule (CT001..), no Sigma rules.
    pub fn builtin() -> Engine {
        Engine::from_rules(cloudtrail::rules(), cloudtrail::sequences())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};
    use std::path::Path;

    use super::*;
    use crate::rules::cloudtrail::common::testing::{with_record, TestEvent};

    #[test]
    fn codes_are_unique_and_contiguous_per_family_in_registry_order() {
        for family in [Family::Cloudtrail, Family::Posture, Family::Policy] {
            let metas = family_metas(family);
            assert!(!metas.is_empty(), "{family:?} registers no rule");
            for (i, meta) in metas.iter().enumerate() {
                let expected = format!("{}{:03}", family.code_prefix(), i + 1);
                assert_eq!(
                    meta.code, expected,
                    "{family:?}: codes follow registry order with no gap"
                );
                assert_eq!(meta.family, family, "{} is in the wrong family", meta.code);
            }
        }
    }

    #[test]
    fn names_are_unique_slugs_and_modules_match_their_files() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut names = HashSet::new();
        for rule in all() {
            let meta = rule.meta;
            assert!(
                names.insert(meta.name),
                "{}: name `{}` taken",
                meta.code,
                meta.name
            );
            assert!(
                meta.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}: name `{}` is not a slug",
                meta.code,
                meta.name
            );
            assert!(!meta.title.is_empty(), "{} has no title", meta.code);
            assert!(
                src.join(rule.source_file()).is_file(),
                "{}: no file {}",
                meta.code,
                rule.source_file()
            );
        }
    }

    #[test]
    fn every_rule_has_a_full_doc() {
        for rule in all() {
            let meta = rule.meta;
            for (section, text) in [
                ("what it detects", meta.doc.what),
                ("why it matters", meta.doc.why),
                ("example", meta.doc.example),
                ("fix", meta.doc.fix),
            ] {
                assert!(
                    text.trim().len() > 20,
                    "{}: doc section `{section}` is missing or too thin",
                    meta.code
                );
            }
            assert!(
                !meta.doc.references.is_empty(),
                "{} has no references",
                meta.code
            );
            match meta.family {
                Family::Cloudtrail => {
                    assert!(
                        rule.raised_outside_engine || !meta.events.is_empty(),
                        "{} declares no events",
                        meta.code
                    );
                    for &pair in meta.events {
                        assert!(
                            crate::rule::EventPattern::of(pair).is_some(),
                            "{}: {pair:?} is not an event, a source pattern (`List*`, `*`) or ANY_EVENT",
                            meta.code
                        );
                    }
                    assert!(!meta.attack.is_empty(), "{} has no ATT&CK id", meta.code);
                }
                Family::Posture => assert!(
                    !meta.compliance.is_empty(),
                    "{} names no compliance control",
                    meta.code
                ),
                Family::Policy => {}
            }
        }
    }

    #[test]
    fn every_linked_knowledge_base_entry_exists() {
        let kb = trailguard_kb::Kb::builtin();
        let broken: Vec<String> = metas()
            .into_iter()
            .flat_map(|meta| meta.kb_entries.iter().map(move |entry| (meta.code, entry)))
            .filter(|(_, entry)| kb.lookup(entry).is_none())
            .map(|(code, entry)| format!("{code}: `{entry}`"))
            .collect();
        assert!(
            broken.is_empty(),
            "links to no entry: {}",
            broken.join(", ")
        );
    }

    /// Every event a CloudTrail rule names (a prefix or whole-source pattern names no single event) has a
    /// knowledge-base entry: a new rule on a new event brings its entry.
    #[test]
    fn every_cloudtrail_rule_event_has_a_knowledge_base_entry() {
        let kb = trailguard_kb::Kb::builtin();
        let mut missing = Vec::new();
        for meta in family_metas(Family::Cloudtrail) {
            let events = meta
                .events
                .iter()
                .filter_map(|&pair| crate::rule::EventPattern::of(pair)?.event());
            for (source, event) in events {
                if kb.get(source, event).is_none() {
                    missing.push(format!("{}: {source} {event}", meta.code));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "{} event(s) without a knowledge-base entry:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    /// A sequence rule without a reach keeps every observation in a long-running service: only rules
    /// whose observations are definitions (which buckets receive logs, which permission sets are
    /// privileged) may go without one.
    #[test]
    fn every_windowed_sequence_rule_declares_its_reach() {
        const DEFINITIONS: &[&str] = &["CT039", "CT052", "CT087", "CT088"];
        let mut without: Vec<&str> = crate::rules::cloudtrail::sequences()
            .iter()
            .filter(|r| r.reach_ms().is_none())
            .map(|r| r.meta().code)
            .collect();
        without.sort_unstable();
        assert_eq!(without, DEFINITIONS);
        for rule in crate::rules::cloudtrail::sequences() {
            if let Some(reach) = rule.reach_ms() {
                assert!(reach > 0, "{}", rule.meta().code);
            }
        }
    }

    #[test]
    fn the_engine_runs_every_registered_cloudtrail_rule_once() {
        let engine = Engine::builtin();
        let mut codes = engine.rule_codes();
        codes.sort_unstable();
        let registered: Vec<&str> = all()
            .filter(|r| r.meta.family == Family::Cloudtrail && !r.raised_outside_engine)
            .map(|r| r.meta.code)
            .collect();
        assert_eq!(codes, registered);
        let only = Engine::builtin().retain(|m| m.code == "CT017");
        assert_eq!(only.rule_codes(), vec!["CT017"]);
        assert!(only.wants("cloudtrail.amazonaws.com", "StopLogging"));
        assert!(!only.wants("iam.amazonaws.com", "CreateUser"));
    }

    fn visit_all(worker: &mut crate::engine::EngineWorker<'_>, events: &[TestEvent]) {
        for event in events {
            with_record(&event.json(), |r| worker.visit(r));
        }
    }

    #[test]
    fn engine_observations_beyond_the_cap_are_counted_and_noted() {
        let engine = Engine::builtin().with_observation_cap(3);
        let mut worker = engine.new_worker();
        let events: Vec<TestEvent> = (0..6)
            .map(|i| {
                TestEvent::new("signin.amazonaws.com", "ConsoleLogin")
                    .identity(r#"{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"229654561268","userName":"bob"}"#)
                    .time(&format!("2024-08-02T08:0{i}:00Z"))
                    .id(&format!("login-{i}"))
                    .response(r#"{"ConsoleLogin":"Failure"}"#)
            })
            .collect();
        // Two workers share one budget.
        let mut other = engine.new_worker();
        visit_all(&mut worker, &events[..3]);
        visit_all(&mut other, &events[3..]);
        let report = engine.finish_report(vec![worker, other]);
        assert_eq!(report.stats.observations, 3);
        assert_eq!(report.stats.observations_dropped, 3);
        // The burst rule saw only 3 failures: below its threshold, so no burst, only its record of the
        // three it kept (the dropped ones are counted above, not judged).
        assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
        assert_eq!(report.findings[0].severity, crate::finding::Severity::Info);
        assert_eq!(report.findings[0].evidence[0].value, 3);
        // The budget is back for the next run.
        let mut again = engine.new_worker();
        visit_all(&mut again, &events[..5]);
        let report = engine.finish_report(vec![again]);
        assert_eq!(report.stats.observations_dropped, 2);
    }

    #[test]
    fn every_family_runner_matches_its_registration() {
        let posture: BTreeSet<&str> = posture::CHECKS.iter().map(|c| c.meta.code).collect();
        let policy: BTreeSet<&str> = policy::CHECKS.iter().map(|c| c.meta.code).collect();
        let expect = |family| family_metas(family).into_iter().map(|m| m.code).collect();
        assert_eq!(posture, expect(Family::Posture));
        assert_eq!(policy, expect(Family::Policy));
    }
}
