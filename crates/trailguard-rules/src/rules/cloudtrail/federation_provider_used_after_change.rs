//! CT104 federation-provider-used-after-change: an IAM SAML or OIDC identity provider created, or its
//! certificate, thumbprints or audiences changed, and then used to obtain role credentials
//! (`AssumeRoleWithSAML`, `AssumeRoleWithWebIdentity`) within a day: the change is live, and these are
//! the roles and subjects that came in through it.
//!
//! A sequence rule with a one-day reach. Changes and uses meet on the provider's key, `saml-provider/NAME`
//! or `oidc-provider/HOST` in the account that recorded them ([`provider_key`]). Uses are many where
//! Kubernetes pods or CI jobs federate all day, so the rule folds ([`ProviderFold`]): per provider, its
//! changes whole and, per hour, the first [`USES_PER_HOUR`] uses whole and a count of the others, never
//! the engine's shared budget of observations.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use trailguard_event::Record;

use super::common::{
    call_failed, describe_caller, evidence, finding_from_event, member_str_either_case,
    request_field, service_linked_session,
};
use crate::finding::{Finding, Resource, Severity};
use crate::meta::{Family, RuleDoc, RuleMeta};
use crate::rule::{Observation, Observed, Report, SequenceFold, SequenceRule, StateLimit};

pub const META: RuleMeta = RuleMeta {
    code: "CT104",
    name: "federation-provider-used-after-change",
    title: "Identity provider used right after it was changed",
    family: Family::Cloudtrail,
    severity: Severity::Medium,
    attack: &["T1484.002", "T1606.002", "T1078.004"],
    compliance: &[],
    events: &[
        ("iam.amazonaws.com", "CreateSAMLProvider"),
        ("iam.amazonaws.com", "UpdateSAMLProvider"),
        ("iam.amazonaws.com", "CreateOpenIDConnectProvider"),
        ("iam.amazonaws.com", "UpdateOpenIDConnectProviderThumbprint"),
        ("iam.amazonaws.com", "AddClientIDToOpenIDConnectProvider"),
        ("sts.amazonaws.com", "AssumeRoleWithSAML"),
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity"),
    ],
    kb_entries: &[
        "CreateSAMLProvider",
        "UpdateSAMLProvider",
        "CreateOpenIDConnectProvider",
        "UpdateOpenIDConnectProviderThumbprint",
        "AddClientIDToOpenIDConnectProvider",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
    ],
    doc: RuleDoc {
        what: "Role credentials obtained through an IAM identity provider (`AssumeRoleWithSAML` naming it in \
               `principalArn`, `AssumeRoleWithWebIdentity` naming it in `responseElements.provider`) within 24 \
               hours after the provider was created (`CreateSAMLProvider`, `CreateOpenIDConnectProvider`) or \
               its trust material changed (`UpdateSAMLProvider`, `UpdateOpenIDConnectProviderThumbprint`, \
               `AddClientIDToOpenIDConnectProvider`) in the same account. One finding per change, with every \
               role, subject and address that came in through the provider in the day after. **medium** \
               after a provider was created; **low** after a change to one (yearly certificate rotations \
               are followed by the usual sign-ins). Changes AWS makes itself (Identity Center's `AWSSSO_…` \
               provider, through a service-linked role) and refused calls are left out; the change itself \
               is CT026's finding.",
        why: "A provider IAM trusts signs in whoever its key vouches for. An intruder with IAM write access \
              adds a provider whose signing key they hold, or swaps the certificate of an existing one, and \
              then mints assertions or tokens for any role that trusts it (Golden SAML, ATT&CK T1606.002, \
              T1484.002): no user, no password, no MFA. CT026 reports the change; this rule answers the \
              next question, whether it was used and by whom, so the roles and subjects to check are on one \
              finding. An administrator setting up a new provider gives the same pair: the subjects then \
              are the directory's own users or repositories.",
        example: "`CreateSAMLProvider` `backup-idp` at 02:10, then at 02:14 `AssumeRoleWithSAML` with \
                  `principalArn` `arn:aws:iam::111122223333:saml-provider/backup-idp` for role \
                  `OrganizationAdmin`, subject `admin@attacker.example`.",
        fix: "Confirm with the identity team that the provider and every subject listed are theirs. If not: \
              delete the provider (or restore its metadata), revoke the sessions of the roles obtained \
              (`aws iam put-role-policy` with an `aws:TokenIssueTime` deny, or the console's Revoke \
              sessions), and remove the provider from every role's trust policy.",
        references: &[
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html",
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html",
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html",
            "https://attack.mitre.org/techniques/T1606/002/",
        ],
    },
};

/// How long after a change a use is joined to it.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Uses of one provider a fold keeps whole per hour; the others are counted.
pub const USES_PER_HOUR: usize = 8;
/// Uses a fold keeps whole, all providers together (a few hundred bytes each).
pub const USES_CAP: usize = 65_536;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// `kind`: a provider created.
const CREATED: u8 = 0;
/// `kind`: a provider's certificate, thumbprints or audiences changed.
const CHANGED: u8 = 1;
/// `kind`: role credentials obtained through a provider.
const USED: u8 = 2;

/// The provider's key, `saml-provider/NAME` or `oidc-provider/HOST`, from its ARN (the resource part),
/// its SAML name, or its OIDC URL (scheme and trailing `/` dropped; the host's case ignored, as IAM
/// does). `None` for anything else (Cognito, Google and other built-in web identity providers).
fn provider_key(
    arn: Option<&str>,
    saml_name: Option<&str>,
    oidc_url: Option<&str>,
) -> Option<String> {
    if let Some(arn) = arn {
        let resource = arn
            .rsplit_once(":saml-provider/")
            .map(|(_, name)| ("saml-provider", name));
        // An OIDC caller's principal id goes on after the host (`…/HOST:AUDIENCE:SUBJECT`).
        let resource = resource.or_else(|| {
            arn.split_once(":oidc-provider/")
                .map(|(_, rest)| ("oidc-provider", rest.split(':').next().unwrap_or(rest)))
        });
        return resource.map(|(kind, name)| normalised(kind, name));
    }
    if let Some(name) = saml_name {
        return Some(normalised("saml-provider", name));
    }
    let url = oidc_url?;
    let host = url.strip_prefix("https://").unwrap_or(url);
    Some(normalised("oidc-provider", host))
}

fn normalised(kind: &str, name: &str) -> String {
    let name = name.trim_end_matches('/');
    if kind == "oidc-provider" {
        format!("{kind}/{}", name.to_ascii_lowercase())
    } else {
        format!("{kind}/{name}")
    }
}

/// Joins identity provider changes to the role credentials obtained through the provider after them.
#[derive(Debug, Default)]
pub struct FederationProviderUsedAfterChange;

impl SequenceRule for FederationProviderUsedAfterChange {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn reach_ms(&self) -> Option<i64> {
        Some(WINDOW_MS)
    }

    fn fold(&self) -> Option<Box<dyn SequenceFold>> {
        Some(Box::<ProviderFold>::default())
    }

    fn observe<'r>(&self, record: &'r Record<'r>) -> Option<Observed<'r>> {
        if call_failed(record)
            || service_linked_session(record)
            || record.user_identity.identity_type.as_deref() == Some("AWSService")
        {
            return None;
        }
        let params = record.request_parameters();
        let response = record.response_elements();
        let field = member_str_either_case;
        let (kind, key, subject, detail) = match &*record.event_name {
            "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity" => {
                let provider = field(params.as_ref(), "principalArn")
                    .or_else(|| field(response.as_ref(), "provider"))
                    // A web identity caller's principal id starts with the provider's ARN.
                    .or_else(|| {
                        record
                            .user_identity
                            .principal_id
                            .as_deref()
                            .map(str::to_owned)
                    });
                let who = field(response.as_ref(), "subject")
                    .or_else(|| field(response.as_ref(), "subjectFromWebIdentityToken"))
                    .or_else(|| record.user_identity.user_name.as_deref().map(str::to_owned))
                    .unwrap_or_default();
                let role = request_field(params.as_ref(), "roleArn").unwrap_or_default();
                (
                    USED,
                    provider_key(provider.as_deref(), None, None)?,
                    role,
                    who,
                )
            }
            "CreateSAMLProvider" | "CreateOpenIDConnectProvider" => {
                let arn = field(response.as_ref(), "sAMLProviderArn")
                    .or_else(|| field(response.as_ref(), "openIDConnectProviderArn"));
                let key = provider_key(
                    arn.as_deref(),
                    field(params.as_ref(), "name").as_deref(),
                    field(params.as_ref(), "url").as_deref(),
                )?;
                (CREATED, key, record.event_name.to_string(), String::new())
            }
            _ => {
                let arn = field(params.as_ref(), "sAMLProviderArn")
                    .or_else(|| field(params.as_ref(), "openIDConnectProviderArn"));
                let key = provider_key(arn.as_deref(), None, None)?;
                (CHANGED, key, record.event_name.to_string(), String::new())
            }
        };
        let account = record.account_id().unwrap_or("");
        // Changes sort before uses of the same instant.
        let rank = u8::from(kind == USED);
        Observed::new(
            record,
            kind,
            rank,
            format!("{account}/{key}"),
            subject,
            detail,
        )
    }

    /// The engine folds instead ([`SequenceRule::fold`]); this is the same judgement over sorted calls,
    /// keeping every use.
    fn evaluate(&self, observations: &[Observation], out: &mut Report) {
        // provider → its latest change and the uses since.
        let mut open: HashMap<&str, (&Observation, Vec<&Observation>)> = HashMap::new();
        for obs in observations {
            let provider = obs.principal.as_ref();
            if obs.kind != USED {
                if let Some((change, uses)) = open.insert(provider, (obs, Vec::new())) {
                    report(change, &uses, out);
                }
                continue;
            }
            if let Some((change, uses)) = open.get_mut(provider) {
                if obs.at - change.at <= WINDOW_MS {
                    uses.push(obs);
                }
            }
        }
        let mut rest: Vec<_> = open.into_values().collect();
        rest.sort_by_key(|(change, _)| change.at);
        for (change, uses) in rest {
            report(change, &uses, out);
        }
    }
}

fn report(change: &Observation, uses: &[&Observation], out: &mut Report) {
    if uses.is_empty() {
        return;
    }
    out.push(finding(change, uses, 0));
}

/// The fold of [`FederationProviderUsedAfterChange`]: per provider key, its changes and its uses by hour.
#[derive(Default)]
pub struct ProviderFold {
    providers: HashMap<Box<str>, Provider>,
    uses_kept: usize,
    left_out: u64,
}

#[derive(Default)]
struct Provider {
    changes: Vec<Observation>,
    /// Hour (event time / one hour) → the uses kept whole then, and how many more there were.
    hours: BTreeMap<i64, (Vec<Observation>, u64)>,
}

impl ProviderFold {
    fn add_use(&mut self, provider: Box<str>, observation: Observation) {
        let hour = observation.at.div_euclid(HOUR_MS);
        let (kept, more) = self
            .providers
            .entry(provider)
            .or_default()
            .hours
            .entry(hour)
            .or_default();
        if kept.len() >= USES_PER_HOUR {
            *more += 1;
        } else if self.uses_kept >= USES_CAP {
            *more += 1;
            self.left_out += 1;
        } else {
            kept.push(observation);
            self.uses_kept += 1;
        }
    }
}

impl SequenceFold for ProviderFold {
    fn add(&mut self, observed: Observed<'_>) {
        let observation = observed.into_observation();
        let provider = observation.principal.clone();
        if observation.kind == USED {
            self.add_use(provider, observation);
        } else {
            // Changes are rare: all kept.
            self.providers
                .entry(provider)
                .or_default()
                .changes
                .push(observation);
        }
    }

    fn merge(&mut self, other: Box<dyn SequenceFold>) {
        let Ok(other) = other.into_any().downcast::<ProviderFold>() else {
            return;
        };
        self.left_out += other.left_out;
        for (key, provider) in other.providers {
            self.providers
                .entry(key.clone())
                .or_default()
                .changes
                .extend(provider.changes);
            for (hour, (kept, more)) in provider.hours {
                for observation in kept {
                    self.add_use(key.clone(), observation);
                }
                // The other fold's count stays with its hour, even when it kept no use of it.
                let provider = self.providers.entry(key.clone()).or_default();
                provider.hours.entry(hour).or_default().1 += more;
            }
        }
    }

    fn finish(self: Box<Self>, out: &mut Report) -> Option<StateLimit> {
        let mut findings = Vec::new();
        for provider in self.providers.values() {
            let mut changes: Vec<&Observation> = provider.changes.iter().collect();
            changes.sort_by(|a, b| a.order().cmp(&b.order()));
            for (i, change) in changes.iter().enumerate() {
                // A use belongs to the latest change before it, within the window.
                let until = changes.get(i + 1).map_or(change.at + WINDOW_MS, |next| {
                    next.at.min(change.at + WINDOW_MS)
                });
                let after = |at: i64| at >= change.at && at <= until;
                let mut uses: Vec<&Observation> = Vec::new();
                let mut more = 0;
                for (_, (kept, others)) in provider
                    .hours
                    .range(change.at.div_euclid(HOUR_MS)..=until.div_euclid(HOUR_MS))
                {
                    uses.extend(kept.iter().filter(|u| after(u.at)));
                    // The uses counted but not kept: those of the hour, as the kept ones' times are
                    // all that is known of them.
                    if kept.iter().any(|u| after(u.at)) {
                        more += others;
                    }
                }
                if uses.is_empty() {
                    continue;
                }
                uses.sort_by(|a, b| a.order().cmp(&b.order()));
                findings.push((change.order(), finding(change, &uses, more)));
            }
        }
        findings.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(findings.into_iter().map(|(_, f)| f));
        (self.left_out > 0).then(|| StateLimit {
            rule: META.code,
            events_left_out: self.left_out,
            limit: format!("{USES_CAP} federated sign-ins kept"),
        })
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// `uses` kept whole (sorted), `more` counted beside them.
fn finding(change: &Observation, uses: &[&Observation], more: u64) -> Finding {
    let created = change.kind == CREATED;
    let severity = if created {
        Severity::Medium
    } else {
        Severity::Low
    };
    let mut finding = finding_from_event(&META, &change.event, severity);
    finding.id = Finding::stable_id(&[
        META.code,
        &change.principal,
        change
            .event
            .event_id
            .as_deref()
            .unwrap_or(&change.event.event_time),
    ]);
    let provider = change
        .principal
        .split_once('/')
        .map_or(change.principal.as_ref(), |(_, key)| key);
    let roles: BTreeSet<&str> = uses
        .iter()
        .map(|u| u.subject.as_ref())
        .filter(|r| !r.is_empty())
        .collect();
    let subjects: BTreeSet<&str> = uses
        .iter()
        .map(|u| u.detail.as_ref())
        .filter(|s| !s.is_empty())
        .collect();
    let addresses: BTreeSet<&str> = uses
        .iter()
        .filter_map(|u| u.event.actor.source_ip.as_deref())
        .collect();
    let join = |set: &BTreeSet<&str>| set.iter().copied().collect::<Vec<_>>().join(", ");
    let first_use = uses[0];
    finding.message = format!(
        "{} {} identity provider `{provider}` at {}; role credentials were obtained through it {} time(s) \
         from {} on: roles {}; subjects {}; from {}.",
        describe_caller(&change.event),
        if created { "created" } else { "changed" },
        change.event.event_time,
        uses.len() as u64 + more,
        first_use.event.event_time,
        join(&roles),
        if subjects.is_empty() {
            "not recorded".to_owned()
        } else {
            join(&subjects)
        },
        join(&addresses),
    );
    finding.resource = Some(Resource {
        kind: "AwsIamIdentityProvider".to_owned(),
        id: provider.to_owned(),
        name: None,
    });
    finding.evidence = vec![
        evidence("change", change.subject.as_ref()),
        evidence("rolesObtained", roles.iter().copied().collect::<Vec<_>>()),
        evidence("subjects", subjects.iter().copied().collect::<Vec<_>>()),
        evidence(
            "uses.eventID",
            uses.iter()
                .filter_map(|u| u.event.event_id.as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    finding.fix.summary = format!(
        "Confirm that `{provider}` and every subject listed belong to your identity team; if not, delete \
         the provider and revoke the sessions of the roles obtained."
    );
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cloudtrail::common::testing::{run_sequence, TestEvent, IAM_USER};

    fn create_saml(name: &str, time: &str) -> TestEvent {
        TestEvent::new("iam.amazonaws.com", "CreateSAMLProvider")
            .identity(IAM_USER)
            .time(time)
            .id(&format!("create-{name}-{time}"))
            .request(&format!(
                r#"{{"name":"{name}","sAMLMetadataDocument":"<EntityDescriptor/>"}}"#
            ))
            .response(&format!(
                r#"{{"sAMLProviderArn":"arn:aws:iam::229654561268:saml-provider/{name}"}}"#
            ))
    }

    fn saml_sign_in(provider: &str, role: &str, subject: &str, time: &str) -> TestEvent {
        TestEvent::new("sts.amazonaws.com", "AssumeRoleWithSAML")
            .identity(&format!(
                r#"{{"type":"SAMLUser","principalId":"aGFzaA==:{subject}","userName":"{subject}","identityProvider":"aGFzaA=="}}"#
            ))
            .time(time)
            .id(&format!("saml-{provider}-{subject}-{time}"))
            .source_ip("45.133.172.19")
            .request(&format!(
                r#"{{"roleArn":"arn:aws:iam::229654561268:role/{role}","roleSessionName":"{subject}","principalArn":"arn:aws:iam::229654561268:saml-provider/{provider}","durationSeconds":3600}}"#
            ))
            .response(&format!(
                r#"{{"subject":"{subject}","subjectType":"persistent","issuer":"https://idp.example/","audience":"https://signin.aws.amazon.com/saml"}}"#
            ))
    }

    #[test]
    fn a_created_saml_provider_used_within_a_day_is_medium() {
        let events = [
            create_saml("backup-idp", "2024-08-02T02:10:00Z"),
            saml_sign_in(
                "backup-idp",
                "OrganizationAdmin",
                "admin@attacker.example",
                "2024-08-02T02:14:00Z",
            ),
            // Another provider's sign-in is not joined.
            saml_sign_in(
                "corp-idp",
                "Developer",
                "jdoe@example.com",
                "2024-08-02T02:15:00Z",
            ),
        ];
        let findings = run_sequence(Box::new(FederationProviderUsedAfterChange), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.message.contains("roles arn:aws:iam::229654561268:role/OrganizationAdmin; subjects admin@attacker.example"),
            "{}",
            f.message
        );
        assert_eq!(f.resource.as_ref().unwrap().id, "saml-provider/backup-idp");
    }

    #[test]
    fn an_oidc_thumbprint_change_then_a_token_is_low_and_a_late_use_is_not_joined() {
        let change = TestEvent::new("iam.amazonaws.com", "UpdateOpenIDConnectProviderThumbprint")
            .identity(IAM_USER)
            .time("2024-08-02T10:00:00Z")
            .id("thumbprint")
            .request(r#"{"openIDConnectProviderArn":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com","thumbprintList":["6938fd4d98bab03faadb97b34396831e3780aea1"]}"#);
        let token = |time: &str| {
            TestEvent::new("sts.amazonaws.com", "AssumeRoleWithWebIdentity")
                .identity(r#"{"type":"WebIdentityUser","principalId":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:someone/fork:ref:refs/heads/main","userName":"repo:someone/fork:ref:refs/heads/main","identityProvider":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com"}"#)
                .time(time)
                .id(&format!("token-{time}"))
                .request(r#"{"roleArn":"arn:aws:iam::229654561268:role/github-deploy","roleSessionName":"GitHubActions"}"#)
                .response(r#"{"subjectFromWebIdentityToken":"repo:someone/fork:ref:refs/heads/main","provider":"arn:aws:iam::229654561268:oidc-provider/token.actions.githubusercontent.com","audience":"sts.amazonaws.com"}"#)
        };
        let events = [
            change,
            token("2024-08-02T10:30:00Z"),
            token("2024-08-03T11:00:00Z"),
        ];
        let findings = run_sequence(Box::new(FederationProviderUsedAfterChange), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].severity, Severity::Low);
        assert!(
            findings[0].message.contains("1 time(s)"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn uses_without_a_change_or_a_change_never_used_are_not_reported() {
        let uses = [saml_sign_in(
            "corp-idp",
            "Developer",
            "jdoe@example.com",
            "2024-08-02T02:15:00Z",
        )];
        assert!(run_sequence(Box::new(FederationProviderUsedAfterChange), &uses).is_empty());
        let unused = [create_saml("backup-idp", "2024-08-02T02:10:00Z")];
        assert!(run_sequence(Box::new(FederationProviderUsedAfterChange), &unused).is_empty());
    }

    #[test]
    fn many_uses_an_hour_are_counted_not_kept() {
        let mut events = vec![create_saml("backup-idp", "2024-08-02T02:10:00Z")];
        events.extend((0..20).map(|i| {
            saml_sign_in(
                "backup-idp",
                "Developer",
                &format!("user{i:02}@example.com"),
                &format!("2024-08-02T02:{:02}:00Z", 11 + i),
            )
        }));
        let findings = run_sequence(Box::new(FederationProviderUsedAfterChange), &events);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert!(f.message.contains("20 time(s)"), "{}", f.message);
        let subjects = f.evidence.iter().find(|e| e.path == "subjects").unwrap();
        assert_eq!(
            subjects.value.as_array().map(Vec::len),
            Some(USES_PER_HOUR),
            "{subjects:?}"
        );
        // The sorted walk keeps them all, and counts the same.
        let mut out = Report::default();
        let texts: Vec<String> = events.iter().map(TestEvent::json).collect();
        let mut observations = Vec::new();
        for text in &texts {
            crate::rules::cloudtrail::common::testing::with_record(text, |record| {
                if let Some(observed) = FederationProviderUsedAfterChange.observe(record) {
                    observations.push(observed.into_observation());
                }
            });
        }
        observations.sort_by(|a, b| a.order().cmp(&b.order()));
        FederationProviderUsedAfterChange.evaluate(&observations, &mut out);
        let walked = out.into_findings();
        assert!(
            walked[0].message.contains("20 time(s)"),
            "{}",
            walked[0].message
        );
        assert_eq!(walked[0].id, f.id);
    }

    #[test]
    fn provider_keys_meet_across_arn_name_and_url() {
        assert_eq!(
            provider_key(Some("arn:aws:iam::1:saml-provider/Okta"), None, None),
            provider_key(None, Some("Okta"), None)
        );
        assert_eq!(
            provider_key(
                Some("arn:aws:iam::1:oidc-provider/Token.Actions.GitHubUserContent.com"),
                None,
                None
            ),
            provider_key(
                None,
                None,
                Some("https://token.actions.githubusercontent.com/")
            )
        );
        assert_eq!(provider_key(Some("accounts.google.com"), None, None), None);
    }
}
