//! Checks AWS CLI command lines against the service models the AWS CLI itself is generated from
//! (botocore's `data/<service>/<version>/service-2.json`).
//!
//! The CLI derives its names mechanically: operation `CreatePolicyVersion` becomes `create-policy-version`
//! and input member `SetAsDefault` becomes `--set-as-default` (booleans also get `--no-set-as-default`),
//! by botocore's `xform_name`, reimplemented in [`xform_name`]. A handful of hand-written CLI
//! customizations rename or add arguments; [`CUSTOMIZATIONS`] lists the ones our entries may meet.
//! The checker reports every problem in a command, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// Global options any command may carry (ENTRY_FORMAT.md lists the ones entries use).
pub const GLOBAL_OPTIONS: &[&str] = &[
    "region",
    "profile",
    "output",
    "query",
    "no-cli-pager",
    "endpoint-url",
    "no-paginate",
    "debug",
];

/// CLI customizations: `(cli service, operation, renamed or added argument, replaces member)`.
/// `replaces` is the botocore member name the CLI argument stands for, or `""` for an added argument.
pub const CUSTOMIZATIONS: &[(&str, &str, &str, &str)] = &[
    // awscli/customizations/argrename.py
    (
        "iam",
        "enable-mfa-device",
        "authentication-code-1",
        "AuthenticationCode1",
    ),
    (
        "iam",
        "enable-mfa-device",
        "authentication-code-2",
        "AuthenticationCode2",
    ),
    (
        "iam",
        "resync-mfa-device",
        "authentication-code-1",
        "AuthenticationCode1",
    ),
    (
        "iam",
        "resync-mfa-device",
        "authentication-code-2",
        "AuthenticationCode2",
    ),
    ("sns", "subscribe", "notification-endpoint", "Endpoint"),
    // awscli/customizations/iamvirtmfa.py: the seed is written to a file instead of stdout.
    ("iam", "create-virtual-mfa-device", "outfile", ""),
    ("iam", "create-virtual-mfa-device", "bootstrap-method", ""),
];

/// The AWS CLI's service name → botocore's data directory, where they differ.
const SERVICE_DIRS: &[(&str, &str)] = &[
    ("s3api", "s3"),
    ("configservice", "config"),
    ("ddb", "dynamodb"),
];

/// Names botocore transforms by a fixed table instead of its regular expressions (its `_xform_cache`
/// is seeded with these), in their `-` form, as of the botocore pinned in `scripts/requirements.lock`.
/// `tests/kb_cli.rs` compares every name against botocore's own `xform_name`, so a new botocore that
/// adds to the table fails there, naming the names to add.
const XFORM_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "AssociateWhatsAppBusinessAccount",
        "associate-whatsapp-business-account",
    ),
    ("CreateCachediSCSIVolume", "create-cached-iscsi-volume"),
    ("CreateOAuth2Token", "create-oauth2-token"),
    ("CreateOAuth2TokenWithIAM", "create-oauth2-token-with-iam"),
    ("CreateStorediSCSIVolume", "create-stored-iscsi-volume"),
    ("CreateWhatsAppDataset", "create-whatsapp-dataset"),
    ("CreateWhatsAppFlow", "create-whatsapp-flow"),
    (
        "CreateWhatsAppMessageTemplate",
        "create-whatsapp-message-template",
    ),
    (
        "CreateWhatsAppMessageTemplateFromLibrary",
        "create-whatsapp-message-template-from-library",
    ),
    (
        "CreateWhatsAppMessageTemplateMedia",
        "create-whatsapp-message-template-media",
    ),
    ("DeleteWhatsAppFlow", "delete-whatsapp-flow"),
    (
        "DeleteWhatsAppMessageMedia",
        "delete-whatsapp-message-media",
    ),
    (
        "DeleteWhatsAppMessageTemplate",
        "delete-whatsapp-message-template",
    ),
    ("DeprecateWhatsAppFlow", "deprecate-whatsapp-flow"),
    (
        "DescribeCachediSCSIVolumes",
        "describe-cached-iscsi-volumes",
    ),
    (
        "DescribeStorediSCSIVolumes",
        "describe-stored-iscsi-volumes",
    ),
    (
        "DisassociateWhatsAppBusinessAccount",
        "disassociate-whatsapp-business-account",
    ),
    ("ExecutePartiQLBatch", "execute-partiql-batch"),
    ("ExecutePartiQLStatement", "execute-partiql-statement"),
    ("ExecutePartiQLTransaction", "execute-partiql-transaction"),
    (
        "GetLinkedWhatsAppBusinessAccount",
        "get-linked-whatsapp-business-account",
    ),
    (
        "GetLinkedWhatsAppBusinessAccountPhoneNumber",
        "get-linked-whatsapp-business-account-phone-number",
    ),
    ("GetOTelEnrichment", "get-otel-enrichment"),
    (
        "GetWhatsAppBusinessPublicKey",
        "get-whatsapp-business-public-key",
    ),
    ("GetWhatsAppCallPermission", "get-whatsapp-call-permission"),
    ("GetWhatsAppFlow", "get-whatsapp-flow"),
    ("GetWhatsAppFlowPreview", "get-whatsapp-flow-preview"),
    ("GetWhatsAppMessageMedia", "get-whatsapp-message-media"),
    (
        "GetWhatsAppMessageTemplate",
        "get-whatsapp-message-template",
    ),
    (
        "IntrospectOAuth2TokenWithIAM",
        "introspect-oauth2-token-with-iam",
    ),
    (
        "ListHITsForQualificationType",
        "list-hits-for-qualification-type",
    ),
    (
        "ListLinkedWhatsAppBusinessAccounts",
        "list-linked-whatsapp-business-accounts",
    ),
    ("ListWhatsAppFlowAssets", "list-whatsapp-flow-assets"),
    ("ListWhatsAppFlows", "list-whatsapp-flows"),
    (
        "ListWhatsAppMessageTemplates",
        "list-whatsapp-message-templates",
    ),
    (
        "ListWhatsAppTemplateLibrary",
        "list-whatsapp-template-library",
    ),
    ("PostWhatsAppMessageMedia", "post-whatsapp-message-media"),
    ("PublishWhatsAppFlow", "publish-whatsapp-flow"),
    (
        "PutWhatsAppBusinessAccountEventDestinations",
        "put-whatsapp-business-account-event-destinations",
    ),
    (
        "PutWhatsAppBusinessPublicKey",
        "put-whatsapp-business-public-key",
    ),
    ("RevokeOAuth2TokenWithIAM", "revoke-oauth2-token-with-iam"),
    ("SendWhatsAppCallEvent", "send-whatsapp-call-event"),
    (
        "SendWhatsAppConversionEvent",
        "send-whatsapp-conversion-event",
    ),
    ("SendWhatsAppMessage", "send-whatsapp-message"),
    ("StartOTelEnrichment", "start-otel-enrichment"),
    ("StopOTelEnrichment", "stop-otel-enrichment"),
    (
        "UpdateLinkedWhatsAppBusinessAccountPhoneNumber",
        "update-linked-whatsapp-business-account-phone-number",
    ),
    ("UpdateOTelEnrichment", "update-otel-enrichment"),
    ("UpdateWhatsAppFlow", "update-whatsapp-flow"),
    ("UpdateWhatsAppFlowAssets", "update-whatsapp-flow-assets"),
    (
        "UpdateWhatsAppMessageTemplate",
        "update-whatsapp-message-template",
    ),
];

/// botocore's `xform_name`: `CreateOpenIDConnectProvider` → `create-open-id-connect-provider`.
pub fn xform_name(name: &str, sep: &str) -> String {
    if let Some((_, fixed)) = XFORM_EXCEPTIONS.iter().find(|(n, _)| *n == name) {
        return fixed.replace('-', sep);
    }
    static RES: OnceLock<(Regex, Regex, Regex)> = OnceLock::new();
    let (special, first_cap, end_cap) = RES.get_or_init(|| {
        (
            Regex::new("[A-Z]{2,}s$").expect("static regex"),
            Regex::new("(.)([A-Z][a-z]+)").expect("static regex"),
            Regex::new("([a-z0-9])([A-Z])").expect("static regex"),
        )
    });
    if name.contains(sep) {
        return name.to_owned();
    }
    let mut name = name.to_owned();
    if let Some(m) = special.find(&name) {
        let matched = m.as_str().to_ascii_lowercase();
        name = format!("{}{sep}{matched}", &name[..m.start()]);
    }
    let s1 = first_cap.replace_all(&name, format!("${{1}}{sep}${{2}}").as_str());
    end_cap
        .replace_all(&s1, format!("${{1}}{sep}${{2}}").as_str())
        .to_lowercase()
}

/// One argument the CLI accepts for an operation.
#[derive(Debug, Clone)]
struct Argument {
    required: bool,
    boolean: bool,
}

/// The arguments of every operation of one service, keyed by CLI operation name.
#[derive(Debug, Clone, Default)]
pub struct ServiceModel {
    /// CLI name of the service (`iam`, `accessanalyzer`).
    pub cli_name: String,
    operations: BTreeMap<String, BTreeMap<String, Argument>>,
    paginated: BTreeSet<String>,
}

/// Why a command line is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliProblem {
    #[error("cannot split the command into words: {0}")]
    Syntax(String),
    #[error("not an `aws SERVICE OPERATION ...` command")]
    NotAws,
    #[error("unknown service `{0}` (no botocore model)")]
    UnknownService(String),
    #[error("`aws {service}` has no operation `{operation}`")]
    UnknownOperation { service: String, operation: String },
    #[error("`aws {service} {operation}` has no parameter `--{parameter}`")]
    UnknownParameter {
        service: String,
        operation: String,
        parameter: String,
    },
    #[error("`aws {service} {operation}` needs `--{parameter}`")]
    MissingRequired {
        service: String,
        operation: String,
        parameter: String,
    },
    #[error("`{0}` is not a `--parameter` (positional words are not accepted here)")]
    Positional(String),
}

impl ServiceModel {
    /// Builds the model from botocore's `service-2.json` (and `paginators-1.json`, when there is one).
    pub fn from_json(cli_name: &str, service: &Value, paginators: Option<&Value>) -> ServiceModel {
        let shapes = service.get("shapes").and_then(Value::as_object);
        let mut operations = BTreeMap::new();
        if let Some(ops) = service.get("operations").and_then(Value::as_object) {
            for (op_name, op) in ops {
                let cli_op = xform_name(op_name, "-");
                let mut args = BTreeMap::new();
                let input = op
                    .pointer("/input/shape")
                    .and_then(Value::as_str)
                    .and_then(|s| shapes?.get(s));
                if let Some(input) = input {
                    let required: BTreeSet<&str> = input
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let members = input.get("members").and_then(Value::as_object);
                    for (member, spec) in members.into_iter().flatten() {
                        let boolean = spec
                            .get("shape")
                            .and_then(Value::as_str)
                            .and_then(|s| shapes?.get(s)?.get("type")?.as_str())
                            == Some("boolean");
                        let mut cli_arg = xform_name(member, "-");
                        for &(svc, o, arg, replaces) in CUSTOMIZATIONS {
                            if svc == cli_name && o == cli_op && replaces == member {
                                cli_arg = arg.to_owned();
                            }
                        }
                        args.insert(
                            cli_arg,
                            Argument {
                                required: required.contains(member.as_str()),
                                boolean,
                            },
                        );
                    }
                }
                for &(svc, o, arg, replaces) in CUSTOMIZATIONS {
                    if svc == cli_name && o == cli_op && replaces.is_empty() {
                        args.insert(
                            arg.to_owned(),
                            Argument {
                                required: true,
                                boolean: false,
                            },
                        );
                    }
                }
                operations.insert(cli_op, args);
            }
        }
        let paginated = paginators
            .and_then(|p| p.get("pagination"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(|k| xform_name(k, "-")).collect())
            .unwrap_or_default();
        ServiceModel {
            cli_name: cli_name.to_owned(),
            operations,
            paginated,
        }
    }

    /// Whether the service has this CLI operation.
    pub fn has_operation(&self, operation: &str) -> bool {
        self.operations.contains_key(operation)
    }

    /// Every CLI operation name.
    pub fn operations(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Checks the words after `aws SERVICE` (`operation --arg value ...`).
    fn check_words(&self, words: &[String]) -> Vec<CliProblem> {
        let service = self.cli_name.clone();
        let Some(operation) = words.first() else {
            return vec![CliProblem::NotAws];
        };
        let Some(args) = self.operations.get(operation) else {
            return vec![CliProblem::UnknownOperation {
                service,
                operation: operation.clone(),
            }];
        };
        let paginated = self.paginated.contains(operation);
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        let mut i = 1;
        while i < words.len() {
            let word = &words[i];
            i += 1;
            let Some(name) = word.strip_prefix("--") else {
                problems.push(CliProblem::Positional(word.clone()));
                continue;
            };
            let (name, inline_value) = match name.split_once('=') {
                Some((n, _)) => (n, true),
                None => (name, false),
            };
            let negated = name
                .strip_prefix("no-")
                .filter(|n| args.get(*n).is_some_and(|a| a.boolean));
            let known = if let Some(base) = negated {
                seen.insert(base.to_owned());
                Some(true)
            } else if let Some(arg) = args.get(name) {
                seen.insert(name.to_owned());
                Some(arg.boolean)
            } else if GLOBAL_OPTIONS.contains(&name)
                || (paginated && ["starting-token", "page-size", "max-items"].contains(&name))
            {
                Some(matches!(name, "no-cli-pager" | "no-paginate" | "debug"))
            } else {
                None
            };
            if known.is_none() {
                problems.push(CliProblem::UnknownParameter {
                    service: service.clone(),
                    operation: operation.clone(),
                    parameter: name.to_owned(),
                });
            }
            // A flag takes no value; anything else (unknown ones too) consumes the words up to the next `--`.
            if known != Some(true) && !inline_value {
                while i < words.len() && !words[i].starts_with("--") {
                    i += 1;
                }
            }
        }
        for (name, arg) in args {
            if arg.required && !seen.contains(name) {
                problems.push(CliProblem::MissingRequired {
                    service: service.clone(),
                    operation: operation.clone(),
                    parameter: name.clone(),
                });
            }
        }
        problems
    }
}

/// Service models loaded from a botocore data directory on demand.
#[derive(Debug)]
pub struct Checker {
    data_dir: PathBuf,
    models: BTreeMap<String, Option<ServiceModel>>,
}

impl Checker {
    /// `data_dir` is botocore's `data/` directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Checker {
        Checker {
            data_dir: data_dir.into(),
            models: BTreeMap::new(),
        }
    }

    /// The model for a CLI service name, loading the newest API version; `None` when there is none.
    pub fn model(&mut self, cli_service: &str) -> Option<&ServiceModel> {
        if !self.models.contains_key(cli_service) {
            let dir = SERVICE_DIRS
                .iter()
                .find(|(cli, _)| *cli == cli_service)
                .map_or(cli_service, |(_, dir)| dir);
            let model = load_model(&self.data_dir.join(dir), cli_service);
            self.models.insert(cli_service.to_owned(), model);
        }
        self.models.get(cli_service).and_then(Option::as_ref)
    }

    /// Checks one command line (`aws iam create-policy-version --policy-arn ...`); empty when valid.
    pub fn check(&mut self, command: &str) -> Vec<CliProblem> {
        let words = match split_words(command) {
            Ok(w) => w,
            Err(e) => return vec![CliProblem::Syntax(e)],
        };
        let mut rest = words.iter().skip(1);
        if words.first().map(String::as_str) != Some("aws") {
            return vec![CliProblem::NotAws];
        }
        let Some(service) = rest.next() else {
            return vec![CliProblem::NotAws];
        };
        if service.starts_with("--") {
            return vec![CliProblem::Positional(service.clone())];
        }
        let tail: Vec<String> = rest.cloned().collect();
        match self.model(service) {
            Some(model) => model.check_words(&tail),
            None => vec![CliProblem::UnknownService(service.clone())],
        }
    }
}

fn load_model(service_dir: &Path, cli_name: &str) -> Option<ServiceModel> {
    let newest = newest_version_dir(service_dir)?;
    let service = read_json(&newest, "service-2.json")?;
    let paginators = read_json(&newest, "paginators-1.json");
    Some(ServiceModel::from_json(
        cli_name,
        &service,
        paginators.as_ref(),
    ))
}

/// The newest API version directory of a botocore service (`data/iam/2010-05-08`).
pub fn newest_version_dir(service_dir: &Path) -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = fs::read_dir(service_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("service-2.json").is_file() || p.join("service-2.json.gz").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Reads `name` (or `name.gz`, as newer botocore releases ship them) from a model directory.
pub fn read_json(dir: &Path, name: &str) -> Option<Value> {
    if let Ok(text) = fs::read_to_string(dir.join(name)) {
        return serde_json::from_str(&text).ok();
    }
    let file = fs::File::open(dir.join(format!("{name}.gz"))).ok()?;
    serde_json::from_reader(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
        file,
    )))
    .ok()
}

/// The newest `service-2.json` of a botocore service, parsed (`data_dir` is botocore's `data/`).
pub fn service_json(data_dir: &Path, service: &str) -> Option<Value> {
    read_json(
        &newest_version_dir(&data_dir.join(service))?,
        "service-2.json",
    )
}

/// Splits a command line into words the way a POSIX shell would for the simple cases entries use:
/// whitespace, 'single quotes', "double quotes" with backslash escapes, and backslash outside quotes.
/// A line continuation, an unclosed quote, a pipe or a redirection is an error.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => {
                    return Err(
                        "line continuation (`\\` at the end): write one command per line".into(),
                    )
                }
            },
            '#' if !in_word => break,
            '|' | '>' | '<' | ';' | '&' => {
                return Err(format!(
                    "shell operator `{c}`: write one plain command per line"
                ))
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xform_name_matches_botocore() {
        // Expected values printed by `botocore.xform_name(name, '-')`.
        for (name, want) in [
            ("ListMFADevices", "list-mfa-devices"),
            (
                "CreateOpenIDConnectProvider",
                "create-open-id-connect-provider",
            ),
            ("GetSAMLProvider", "get-saml-provider"),
            ("UploadSSHPublicKey", "upload-ssh-public-key"),
            ("PolicyARNs", "policy-arns"),
            ("ClientIDList", "client-id-list"),
            ("SAMLMetadataDocument", "saml-metadata-document"),
            (
                "AddClientIDToOpenIDConnectProvider",
                "add-client-id-to-open-id-connect-provider",
            ),
            ("IsMultiRegionTrail", "is-multi-region-trail"),
            ("SetAsDefault", "set-as-default"),
        ] {
            assert_eq!(xform_name(name, "-"), want, "{name}");
        }
    }

    fn model() -> ServiceModel {
        let service = serde_json::json!({
            "operations": {
                "CreatePolicyVersion": {"input": {"shape": "CreatePolicyVersionRequest"}},
                "ListPolicyVersions": {"input": {"shape": "ListPolicyVersionsRequest"}},
                "EnableMFADevice": {"input": {"shape": "EnableMFADeviceRequest"}}
            },
            "shapes": {
                "CreatePolicyVersionRequest": {"type": "structure", "required": ["PolicyArn", "PolicyDocument"],
                    "members": {"PolicyArn": {"shape": "arn"}, "PolicyDocument": {"shape": "doc"},
                                "SetAsDefault": {"shape": "bool"}}},
                "ListPolicyVersionsRequest": {"type": "structure", "required": ["PolicyArn"],
                    "members": {"PolicyArn": {"shape": "arn"}, "Marker": {"shape": "s"}}},
                "EnableMFADeviceRequest": {"type": "structure", "required": ["AuthenticationCode1"],
                    "members": {"AuthenticationCode1": {"shape": "s"}}},
                "arn": {"type": "string"}, "doc": {"type": "string"}, "s": {"type": "string"},
                "bool": {"type": "boolean"}
            }
        });
        let paginators = serde_json::json!({"pagination": {"ListPolicyVersions": {}}});
        ServiceModel::from_json("iam", &service, Some(&paginators))
    }

    fn check(line: &str) -> Vec<CliProblem> {
        let words = split_words(line).unwrap();
        assert_eq!(words[..2], ["aws", "iam"]);
        model().check_words(&words[2..])
    }

    #[test]
    fn accepts_valid_commands() {
        assert_eq!(check("aws iam create-policy-version --policy-arn arn:aws:iam::111122223333:policy/p --policy-document '{\"Version\": \"2012-10-17\"}' --set-as-default"), []);
        assert_eq!(check("aws iam create-policy-version --policy-arn a --policy-document file://p.json --no-set-as-default --region us-east-1"), []);
        assert_eq!(check("aws iam list-policy-versions --policy-arn a --max-items 5 --query 'Versions[].VersionId' --output text"), []);
        assert_eq!(
            check("aws iam enable-mfa-device --authentication-code-1 123456"),
            []
        );
    }

    #[test]
    fn rejects_unknown_operations_parameters_and_missing_required() {
        assert_eq!(
            check("aws iam create-policy-versions --policy-arn a"),
            [CliProblem::UnknownOperation {
                service: "iam".into(),
                operation: "create-policy-versions".into()
            }]
        );
        assert_eq!(
            check("aws iam create-policy-version --policy-arn a --policy-document d --default"),
            [CliProblem::UnknownParameter {
                service: "iam".into(),
                operation: "create-policy-version".into(),
                parameter: "default".into()
            }]
        );
        assert_eq!(
            check("aws iam create-policy-version --policy-arn a"),
            [CliProblem::MissingRequired {
                service: "iam".into(),
                operation: "create-policy-version".into(),
                parameter: "policy-document".into()
            }]
        );
        // Pagination options only exist on paginated operations; the renamed argument replaces the member.
        assert_eq!(
            check("aws iam create-policy-version --policy-arn a --policy-document d --max-items 2")
                .len(),
            1
        );
        assert_eq!(
            check("aws iam enable-mfa-device --authentication-code1 1").len(),
            2
        );
        // `--no-` only negates booleans.
        assert_eq!(
            check("aws iam create-policy-version --no-policy-arn --policy-document d").len(),
            2
        );
        assert!(matches!(
            check("aws iam list-policy-versions stray --policy-arn a")[0],
            CliProblem::Positional(_)
        ));
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_words(r#"aws iam x --a 'b c' --d "e \"f\"" --g h\ i # comment"#).unwrap(),
            ["aws", "iam", "x", "--a", "b c", "--d", "e \"f\"", "--g", "h i"]
        );
        assert!(split_words("aws iam x \\").is_err());
        assert!(split_words("aws iam x --a 'b").is_err());
        assert!(split_words("aws iam x | jq .").is_err());
    }
}
