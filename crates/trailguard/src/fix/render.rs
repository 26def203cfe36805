//! A plan, shown four ways: a diff-like list for review, a shell script of AWS CLI commands, a boto3
//! script, or JSON. All four come from the same calls, so what is reviewed is what `--apply` runs.
//!
//! The scripts are code built from attacker-chosen strings: every value reaches them through
//! [`trailguard_rules::call::quote`] (one shell word, one Python literal, or comment text that cannot end its line).

use std::fmt::Write as _;

use trailguard_rules::output::visible;

use super::plan::{Plan, Reversibility};
use trailguard_rules::call::quote::comment_text;
use trailguard_rules::call::Call;

/// `-` removes or disables, `+` creates or attaches, `~` changes in place.
fn marker(call: &Call) -> char {
    let op = call.api_form().operation;
    if ["Delete", "Detach", "Remove", "Deactivate", "Stop"]
        .iter()
        .any(|p| op.starts_with(p))
    {
        '-'
    } else if ["Create", "Attach", "Put", "Add", "Start"]
        .iter()
        .any(|p| op.starts_with(p))
    {
        '+'
    } else {
        '~'
    }
}

fn reversibility_text(r: &Reversibility) -> String {
    match r {
        Reversibility::Full => "reversible with `trailguard fix undo`".into(),
        Reversibility::Partial(why) => format!("partly reversible: {why}"),
        Reversibility::None(why) => format!("NOT reversible: {why}"),
    }
}

/// The plan for review by people: names from the findings are shown with [`visible`], so one cannot break a
/// line. `applying`: the plan is about to be carried out, so it does not end with "Nothing has changed".
pub fn text(plan: &Plan, applying: bool) -> String {
    let pending = plan.pending_steps().count();
    let done = plan.steps.len() - pending;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan: {pending} change(s) to make, {done} already in place, {} skipped, {} finding(s) with no automatic fix",
        plan.skipped.len(),
        plan.not_fixable
    );
    for step in &plan.steps {
        let _ = writeln!(out);
        if step.calls.is_empty() {
            let _ = writeln!(
                out,
                "= {}  {}  (already in place)",
                step.id,
                visible(&step.description)
            );
            continue;
        }
        let _ = writeln!(out, "~ {}  {}", step.id, visible(&step.description));
        let _ = writeln!(
            out,
            "    findings: {}",
            visible(&step.finding_ids.join(", "))
        );
        for call in &step.calls {
            let _ = writeln!(out, "  {} {}", marker(call), visible(&call.to_cli()));
        }
        let _ = writeln!(
            out,
            "    {}",
            visible(&reversibility_text(&step.reversibility))
        );
        for note in &step.notes {
            let _ = writeln!(out, "    note: {}", visible(note));
        }
        if step.prior.is_null() {
            let _ = writeln!(
                out,
                "    note: planned offline; the current state was not read"
            );
        }
    }
    for skipped in &plan.skipped {
        let _ = writeln!(
            out,
            "\n! skipped ({}): {}",
            visible(&skipped.finding_ids.join(", ")),
            visible(&skipped.reason)
        );
    }
    if pending > 0 && !applying {
        let _ = writeln!(
            out,
            "\nNothing has changed. Run again with --apply to make these changes."
        );
    }
    out
}

pub fn cli(plan: &Plan) -> String {
    let mut out = String::from(
        "#!/usr/bin/env bash\n# trailguard fix plan as AWS CLI commands. Review before running.\nset -euo pipefail\n",
    );
    for step in plan.pending_steps() {
        step_comment(&mut out, step);
        let _ = writeln!(
            out,
            "# {}",
            comment_text(&reversibility_text(&step.reversibility))
        );
        for call in &step.calls {
            if call.holds_nul() {
                // Plans skip such calls; a script must never run a value cut short at the NUL.
                let _ = writeln!(out, "echo 'a value holds NUL: not run' >&2; exit 1");
            } else {
                let _ = writeln!(out, "{}", call.to_cli());
            }
        }
    }
    out
}

/// `# STEP_ID DESCRIPTION (findings: ...)`, one comment line whatever the values hold.
fn step_comment(out: &mut String, step: &super::plan::Step) {
    let _ = writeln!(
        out,
        "\n# {} {} (findings: {})",
        comment_text(&step.id),
        comment_text(&step.description),
        comment_text(&step.finding_ids.join(", "))
    );
}

pub fn python(plan: &Plan) -> String {
    let mut out = String::from(
        "#!/usr/bin/env python3\n\"\"\"trailguard fix plan as boto3 calls. Review before running.\"\"\"\nimport boto3\n\n\
         iam = boto3.client(\"iam\")\ncloudtrail = boto3.client(\"cloudtrail\")\n",
    );
    for step in plan.pending_steps() {
        step_comment(&mut out, step);
        for call in &step.calls {
            let _ = writeln!(out, "{}", call.to_python());
        }
    }
    out
}

pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::plan::{build, PlanOptions};
    use trailguard_rules::remediation::{FixAction, IdentityKind};
    use trailguard_rules::{Finding, FindingSource, Fix, Severity};

    fn finding(id: &str, actions: Vec<FixAction>) -> Finding {
        let mut finding = Finding::new(
            id,
            "CT005",
            "privileged-policy-attached",
            "Administrator policy attached",
            Severity::High,
            FindingSource::Cloudtrail,
            "m",
        );
        finding.fix = Fix {
            actions,
            ..Default::default()
        };
        finding
    }

    #[test]
    fn offline_plan_renders_in_every_format() {
        let findings = vec![
            finding(
                "tg-attach",
                vec![FixAction::DetachPolicy {
                    principal_kind: IdentityKind::User,
                    principal_name: "mallory".into(),
                    policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                }],
            ),
            finding("tg-pw", vec![FixAction::SetCisPasswordPolicy]),
            finding(
                "tg-manual",
                vec![FixAction::Manual {
                    description: "re-enroll the MFA device".into(),
                }],
            ),
        ];
        let plan = build(&findings, None, &PlanOptions::default()).unwrap();
        insta::assert_snapshot!("plan_text", text(&plan, false));
        insta::assert_snapshot!("plan_cli", cli(&plan));
        insta::assert_snapshot!("plan_python", python(&plan));
    }
}
