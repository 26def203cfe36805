//! PC024: actions whose resource types match none of the statement's resources.

use std::collections::HashMap;

use trailguard_policy::catalog::{ActionId, Catalog};
use trailguard_policy::Effect;

use crate::finding::Severity;
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::Report;
use crate::rules::policy::PolicyContext;

pub const META: RuleMeta = RuleMeta {
    code: "PC024",
    name: "resource-type-mismatch",
    title: "Actions do not apply to the listed resources",
    family: Family::Policy,
    severity: Severity::Low,
    attack: &[],
    compliance: &[],
    events: &[],
    kb_entries: &[],
    doc: RuleDoc {
        what: "An Allow statement with specific resources where some of its actions act on none of them: a bucket-level action (`s3:ListBucket`) with only object ARNs (`bucket/*`), an object action with only the bucket ARN, or an action that supports no resource (`s3:ListAllMyBuckets`) with anything but `*`.",
        why: "Those actions are not granted at all, which usually means the author got the ARN shape wrong; the typical \"fix\" is widening to `*`.",
        example: "```json\n{\"Effect\": \"Allow\", \"Action\": [\"s3:ListBucket\", \"s3:GetObject\"], \"Resource\": \"arn:aws:s3:::reports/*\"}\n```",
        fix: "List the ARN of each resource type the actions need (for S3 both `arn:aws:s3:::bucket` and `arn:aws:s3:::bucket/*`), or move resource-less actions to a statement with `Resource: *`.",
        references: &["https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"],
    },
};

/// One piece of an ARN template: a literal character or a variable (`${BucketName}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    /// A variable; `slash` when its value may contain `/` (paths, object keys).
    Var {
        slash: bool,
    },
}

fn tokens(template: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.extend(rest[..start].bytes().map(Tok::Lit));
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        let slash = ["Path", "ObjectName", "Key", "Name"]
            .iter()
            .any(|k| name.ends_with(k))
            && !["BucketName", "TableName", "KeyName"].contains(&name)
            || name.contains("WithPath")
            || name.ends_with("Id") && name.contains("Resource");
        out.push(Tok::Var { slash });
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.extend(rest.bytes().map(Tok::Lit));
    out
}

/// Two-sided match: a template variable takes any run of the pattern (at least one character, no `/`
/// unless it is a path), and a `*` in the pattern takes any run of the template.
///
/// Computed template token by template token over the set of pattern positions reachable so far, so
/// time is template length times pattern length and memory is two rows, with no recursion: a hostile
/// `Resource` of 100,000 `*` or an 8 MB string cannot overflow the stack or blow up memory.
fn arn_fits(template: &[Tok], arn: &[u8]) -> bool {
    let n = arn.len();
    // row[p]: the template tokens consumed so far can produce pattern positions `..p`.
    let mut row = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    row[0] = true;
    for tok in template {
        // A pattern `*` may also end (cover no more template): move past it within the same row.
        for p in 0..n {
            if row[p] && arn[p] == b'*' {
                row[p + 1] = true;
            }
        }
        next.iter_mut().for_each(|x| *x = false);
        let mut any = false;
        match *tok {
            Tok::Lit(c) => {
                for p in 0..n {
                    if row[p] {
                        // A `*` covers this template character and stays open.
                        if arn[p] == b'*' {
                            next[p] = true;
                            any = true;
                        }
                        if arn[p] == c || arn[p] == b'?' {
                            next[p + 1] = true;
                            any = true;
                        }
                    }
                }
            }
            Tok::Var { slash } => {
                // The variable consumes a run of at least one pattern character, never past a `/`
                // unless it may hold one; a `*` may also cover the whole variable.
                let mut open = false;
                for p in 0..n {
                    if row[p] {
                        open = true;
                        if arn[p] == b'*' {
                            next[p] = true;
                            any = true;
                        }
                    }
                    if arn[p] == b'/' && !slash {
                        open = false;
                    } else if open {
                        next[p + 1] = true;
                        any = true;
                    }
                }
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut row, &mut next);
    }
    // Trailing pattern `*`s cover nothing.
    (0..n).for_each(|p| {
        if row[p] && arn[p] == b'*' {
            row[p + 1] = true;
        }
    });
    row[n]
}

/// Whether `action` can act on the resource pattern `arn`.
pub fn action_fits(catalog: &Catalog, action: ActionId, arn: &str) -> bool {
    action_fits_cached(catalog, action, arn, &mut HashMap::new())
}

/// Results per `(service, resource type, arn)`: many actions of a service share resource types.
type FitCache<'a> = HashMap<(u16, u16, &'a str), bool>;

fn action_fits_cached<'a>(
    catalog: &Catalog,
    action: ActionId,
    arn: &'a str,
    cache: &mut FitCache<'a>,
) -> bool {
    if arn == "*" {
        return true;
    }
    let a = catalog.action(action);
    let service = &catalog.services[a.service as usize];
    a.resource_types.iter().any(|(r, _)| {
        *cache.entry((a.service, *r, arn)).or_insert_with(|| {
            service
                .resource_types
                .get(*r as usize)
                .is_some_and(|rt| arn_fits(&tokens(&rt.arn), arn.as_bytes()))
        })
    })
}

pub fn check(ctx: &PolicyContext<'_>, out: &mut Report) {
    let catalog = Catalog::get();
    let mut cache = FitCache::new();
    for s in &ctx.document.statements {
        if s.effect != Effect::Allow
            || s.action.negated
            || s.action.patterns.iter().any(|p| p.is_everything())
        {
            continue;
        }
        let Some(resource) = &s.resource else {
            continue;
        };
        if resource.negated || resource.is_star() {
            continue;
        }
        // Unresolvable ARNs are PC006's matter.
        if resource
            .patterns
            .iter()
            .any(|p| crate::rules::policy::invalid_resource_arn::arn_problem(p).is_some())
        {
            continue;
        }
        let mut misfits: Vec<String> = Vec::new();
        for p in &s.action.patterns {
            for id in catalog.expand(&p.raw) {
                if !resource
                    .patterns
                    .iter()
                    .any(|arn| action_fits_cached(catalog, id, arn, &mut cache))
                {
                    misfits.push(catalog.full_name(id));
                }
            }
        }
        misfits.sort();
        misfits.dedup();
        if misfits.is_empty() {
            continue;
        }
        let shown: Vec<String> = misfits.iter().take(6).map(|m| format!("`{m}`")).collect();
        let more = if misfits.len() > 6 {
            format!(" and {} more", misfits.len() - 6)
        } else {
            String::new()
        };
        out.push(ctx.finding(
            &META,
            resource.span,
            &format!("{}.Resource", s.path()),
            "",
            format!(
                "{}{more} act{} on none of the listed resources, so {} not granted.",
                shown.join(", "),
                if misfits.len() == 1 { "s" } else { "" },
                if misfits.len() == 1 {
                    "it is"
                } else {
                    "they are"
                }
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::{arn_fits, tokens};
    use crate::rules::policy::testkit::codes;

    #[test]
    fn two_sided_arn_matching() {
        let bucket = tokens("arn:${Partition}:s3:::${BucketName}");
        let object = tokens("arn:${Partition}:s3:::${BucketName}/${ObjectName}");
        assert!(arn_fits(&bucket, b"arn:aws:s3:::reports"));
        assert!(!arn_fits(&bucket, b"arn:aws:s3:::reports/*"));
        assert!(arn_fits(&object, b"arn:aws:s3:::reports/*"));
        assert!(arn_fits(&object, b"arn:aws:s3:::reports/a/b.txt"));
        assert!(!arn_fits(&object, b"arn:aws:s3:::reports"));
        assert!(arn_fits(&object, b"arn:aws:s3:::*"));
        assert!(arn_fits(&bucket, b"arn:*:s3:::rep*"));
        let role = tokens("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}");
        assert!(arn_fits(
            &role,
            b"arn:aws:iam::123456789012:role/service/app"
        ));
        assert!(!arn_fits(&role, b"arn:aws:iam::123456789012:user/bob"));
        assert!(arn_fits(&role, b"*"));
        assert!(arn_fits(&role, b"arn:aws:iam::*"));
        assert!(arn_fits(&bucket, b"arn:aws:s3:::a?c"));
        assert!(!arn_fits(&bucket, b"arn:aws:s3:::"));
        assert!(!arn_fits(&bucket, b"arn:aws:s3:::x*/y"));
    }

    #[test]
    fn hostile_resources_are_linear_and_shallow() {
        // Deep recursion used to overflow the stack here; now two rows of booleans.
        let object = tokens("arn:${Partition}:s3:::${BucketName}/${ObjectName}");
        let stars = format!("arn:aws:s3:::{}", "*".repeat(100_000));
        assert!(arn_fits(&object, stars.as_bytes()));
        let long = format!("arn:aws:s3:::{}", "a".repeat(200_000));
        assert!(!arn_fits(&object, long.as_bytes()));
    }

    #[test]
    fn bucket_and_object_shapes() {
        let f = codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":"arn:aws:s3:::reports/*"}]}"#,
            "PC024",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.starts_with("`s3:ListBucket` acts on none"),
            "{}",
            f[0].message
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}"#, "PC024").is_empty());
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateVirtualMFADevice","Resource":"arn:aws:iam::*:mfa/${aws:username}"}]}"#, "PC024").is_empty());
        assert_eq!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::b"}]}"#, "PC024").len(), 1);
    }
}
