//! PC022: statements or action entries already covered by others.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use trailguard_policy::analysis::statement_actions;

use trailguard_policy::catalog::{ActionId, ActionSet, Catalog};
use trailguard_policy::Statement;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC022",
    name: "redundant-statement",
    title: "Redundant statement or action",
    family: Family::Policy,
    severity: Severity::Info,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "A statement whose actions and resources are wholly covered by another unconditional statement of the same effect, or an action entry covered by another entry of the same statement (`s3:GetObject` next to `s3:*`).",
        why: "Redundancy hides the real scope: removing the narrow entry during a review changes nothing, while it looks like a restriction. Policies also have a size limit (6,144 characters for managed policies).",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"s3:*\", \"s3:GetObject\"], \"Resource\": \"*\"}\n```",
        fix: "Delete the covered statement or entry, or narrow the broader one if it was not meant to cover it.",
        references: &["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"],
    },
};

fn plain(s: &Statement) -> bool {
    !s.has_conditions()
        && !s.action.negated
        && s.principal.is_none()
        && s.resource.as_ref().is_none_or(|r| !r.negated)
}

fn is_subset(a: &ActionSet, b: &ActionSet) -> bool {
    a.is_subset_of(b)
}

fn resources_covered(inner: &Statement, outer: &Statement) -> bool {
    match (&inner.resource, &outer.resource) {
        (_, None) => true,
        (None, Some(o)) => o.is_star(),
        (Some(i), Some(o)) => o.is_star() || i.patterns.iter().all(|p| o.patterns.contains(p)),
    }
}

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    let statements = &ctx.document.statements;
    let sets: Vec<ActionSet> = statements
        .iter()
        .map(|s| statement_actions(catalog, s))
        .collect();
    let outers = Outers::new(statements, &sets);
    for (i, s) in statements.iter().enumerate() {
        // Entries of one statement covered by another entry of it.
        if !s.action.negated {
            let entry_sets: Vec<ActionSet> = s
                .action
                .patterns
                .iter()
                .map(|p| {
                    let mut set = ActionSet::new();
                    catalog.expand_set(&p.raw, &mut set);
                    set
                })
                .collect();
            let lens: Vec<usize> = entry_sets.iter().map(ActionSet::len).collect();
            // Wildcard entries are few; single actions are checked against them and each other by
            // lookup, so a policy listing hundreds of actions stays linear.
            let wide: Vec<usize> = (0..lens.len()).filter(|k| lens[*k] > 1).collect();
            let mut first_single: HashMap<ActionId, usize> = HashMap::new();
            for (j, set) in entry_sets.iter().enumerate() {
                let cover = match lens[j] {
                    0 => None,
                    1 => set.iter().next().and_then(|id| {
                        wide.iter()
                            .copied()
                            .find(|k| entry_sets[*k].contains(id))
                            .or_else(|| match first_single.entry(id) {
                                Entry::Occupied(e) => Some(*e.get()),
                                Entry::Vacant(v) => {
                                    v.insert(j);
                                    None
                                }
                            })
                    }),
                    _ => wide.iter().copied().find(|&k| {
                        k != j
                            && lens[k] >= lens[j]
                            && (lens[j] < lens[k] || k < j)
                            && is_subset(set, &entry_sets[k])
                    }),
                };
                if let Some(k) = cover {
                    let element = format!("{}.Action[{j}]", s.path());
                    let span = s.action.item_spans.get(j).copied().unwrap_or(s.action.span);
                    let (this, other) = (&s.action.patterns[j].raw, &s.action.patterns[k].raw);
                    let message = if this.eq_ignore_ascii_case(other) {
                        format!("`{this}` is listed twice in the same statement.")
                    } else {
                        format!("`{this}` is already covered by `{other}` in the same statement.")
                    };
                    out.push(ctx.finding(&META, span, &element, this, message));
                }
            }
        }
        if !plain(s) || sets[i].is_empty() {
            continue;
        }
        let covers = |j: usize| {
            let o = &statements[j];
            j != i
                && is_subset(&sets[i], &sets[j])
                && resources_covered(s, o)
                // Of two identical statements, report the later one.
                && (!(is_subset(&sets[j], &sets[i]) && resources_covered(o, s)) || j < i)
        };
        let cover = outers.candidates(anchor(&sets[i]), s).find(|&j| covers(j));
        if let Some(j) = cover {
            let o = &statements[j];
            if let Some(f) = ctx.statement_finding(
                &META,
                i,
                "statement",
                format!(
                    "{} adds nothing: {} already {}s these actions on these resources.",
                    s.path(),
                    o.path(),
                    if s.effect == trailguard_policy::Effect::Allow {
                        "allow"
                    } else {
                        "denie"
                    }
                ),
            ) {
                out.push(f);
            }
        }
    }
}

/// The statements that may cover others (same effect, no condition, no principal, no `NotResource`),
/// indexed so that finding a statement's cover looks at a few candidates, not at every statement: a
/// candidate must hold the statement's first action and apply to `*` or to the statement's first
/// resource. A policy of thousands of statements is checked in about linear time, not quadratic.
struct Outers {
    /// `(effect is Allow, action, resource or "*")` → covering candidates, in statement order.
    index: HashMap<(bool, ActionId, String), Vec<usize>>,
}

/// The action a statement is looked up by: its first (lowest id).
fn anchor(set: &ActionSet) -> Option<ActionId> {
    set.iter().next()
}

impl Outers {
    fn new(statements: &[Statement], sets: &[ActionSet]) -> Outers {
        // Only anchors of statements that can be covered matter, so an outer registers under those of
        // its actions, found with one pass over its bitset.
        let mut anchors = ActionSet::new();
        for (s, set) in statements.iter().zip(sets) {
            if plain(s) {
                if let Some(a) = anchor(set) {
                    anchors.insert(a);
                }
            }
        }
        let mut index: HashMap<(bool, ActionId, String), Vec<usize>> = HashMap::new();
        for (j, (o, set)) in statements.iter().zip(sets).enumerate() {
            let eligible = !o.has_conditions()
                && o.principal.is_none()
                && o.resource.as_ref().is_none_or(|r| !r.negated);
            if !eligible {
                continue;
            }
            let allow = o.effect == trailguard_policy::Effect::Allow;
            let resources: Vec<&str> = match &o.resource {
                Some(r) if !r.is_star() => r.patterns.iter().map(String::as_str).collect(),
                _ => vec!["*"],
            };
            let mut shared = set.clone();
            shared.intersect_with(&anchors);
            for a in shared.iter() {
                for r in &resources {
                    let list = index.entry((allow, a, (*r).to_owned())).or_default();
                    if list.last() != Some(&j) {
                        list.push(j);
                    }
                }
            }
        }
        Outers { index }
    }

    /// Statements that might cover `s` (whose first action is `anchor_id`), in statement order per bucket.
    fn candidates<'o>(
        &'o self,
        anchor_id: Option<ActionId>,
        s: &Statement,
    ) -> impl Iterator<Item = usize> + 'o {
        let allow = s.effect == trailguard_policy::Effect::Allow;
        let first_resource = match &s.resource {
            Some(r) if !r.is_star() => r.patterns.first().cloned(),
            _ => None,
        };
        let star = anchor_id.and_then(|a| self.index.get(&(allow, a, "*".to_owned())));
        let named = anchor_id
            .zip(first_resource)
            .and_then(|(a, r)| self.index.get(&(allow, a, r)));
        star.into_iter()
            .flatten()
            .chain(named.into_iter().flatten())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::policy::testkit::codes;

    #[test]
    fn covered_entries_and_statements() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:*","s3:GetObject"],"Resource":"*"},
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},
            {"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#,
            "PC022",
        );
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0]
            .message
            .contains("`s3:GetObject` is already covered by `s3:*`"));
        assert!(f[1].message.starts_with("Statement[1] adds nothing"));
        let twins = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
            "PC022",
        );
        assert_eq!(twins.len(), 1);
        assert_eq!(
            twins[0].location.as_ref().unwrap().json_path.as_deref(),
            Some("Statement[1]")
        );
    }
}
