//! Risk categories of single actions: which actions expose credentials, exfiltrate data, expose
//! resources (change who can reach them), modify infrastructure, and which services are too
//! sensitive for a service-wide wildcard. Lists are lower-case `service:action`.

use crate::catalog::{AccessLevel, ActionId, Catalog};

/// Actions that return or create a credential, token or key usable by the caller.
pub const CREDENTIALS_EXPOSURE: &[&str] = &[
    "appsync:listapikeys",
    "chime:createapikey",
    "cloud9:createenvironmenttoken",
    "codeartifact:getauthorizationtoken",
    "codepipeline:pollforjobs",
    "cognito-identity:getcredentialsforidentity",
    "cognito-identity:getopenidtoken",
    "cognito-identity:getopenidtokenfordeveloperidentity",
    "cognito-idp:describeuserpoolclient",
    "connect:getfederationtoken",
    "ec2-instance-connect:sendsshpublickey",
    "ec2-instance-connect:sendserialconsolesshpublickey",
    "ec2:getpassworddata",
    "ecr-public:getauthorizationtoken",
    "ecr:getauthorizationtoken",
    "gamelift:getinstanceaccess",
    "gamelift:getcomputeauthtoken",
    "iam:createaccesskey",
    "iam:createloginprofile",
    "iam:createservicespecificcredential",
    "iam:resetservicespecificcredential",
    "iam:updateaccesskey",
    "iam:updateloginprofile",
    "lightsail:getbucketaccesskeys",
    "lightsail:getkeypair",
    "lightsail:getkeypairs",
    "lightsail:getinstanceaccessdetails",
    "lightsail:getrelationaldatabasemasteruserpassword",
    "mediapackage:rotatechannelcredentials",
    "mediapackage:rotateingestendpointcredentials",
    "rds-db:connect",
    "redshift:getclustercredentials",
    "redshift:getclustercredentialswithiam",
    "redshift-serverless:getcredentials",
    "snowball:getjobunlockcode",
    "storagegateway:describechapcredentials",
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:getfederationtoken",
    "sts:getsessiontoken",
];

/// Actions that read sensitive data out of the account (Cloudsplaining's list plus the obvious
/// secret stores).
pub const DATA_EXFILTRATION: &[&str] = &[
    "s3:getobject",
    "ssm:getparameter",
    "ssm:getparameters",
    "ssm:getparametersbypath",
    "secretsmanager:getsecretvalue",
    "rds:copydbsnapshot",
    "rds:createdbsnapshot",
];

/// Services where `service:*` hands over control of identity, keys, audit or the organization.
pub const SENSITIVE_SERVICES: &[&str] = &["iam", "sts", "kms", "organizations", "cloudtrail"];

/// Actions that should require MFA beyond the permissions-management ones: credential and audit
/// tampering.
pub const MFA_SENSITIVE_EXTRA: &[&str] = &[
    "cloudtrail:deletetrail",
    "cloudtrail:stoplogging",
    "cloudtrail:updatetrail",
    "cloudtrail:puteventselectors",
    "kms:schedulekeydeletion",
    "kms:disablekey",
    "organizations:leaveorganization",
    "iam:deactivatemfadevice",
    "iam:deletevirtualmfadevice",
];

/// Risk categories an action belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ActionRisk {
    pub credentials_exposure: bool,
    pub data_exfiltration: bool,
    pub resource_exposure: bool,
    pub infrastructure_modification: bool,
    pub sensitive: bool,
}

/// The categories of one catalog action.
pub fn classify(catalog: &Catalog, id: ActionId) -> ActionRisk {
    let action = catalog.action(id);
    let name = catalog.full_name(id).to_ascii_lowercase();
    // A few read calls are filed under Permissions management (e.g. QuickSight's
    // `Describe*Permissions`); reading who has access changes nobody's access.
    let reads = ["Get", "Describe", "List", "View", "Search"]
        .iter()
        .any(|p| action.name.starts_with(p));
    let permissions = action.has_level(AccessLevel::PermissionsManagement) && !reads;
    let credentials = CREDENTIALS_EXPOSURE.contains(&name.as_str());
    ActionRisk {
        credentials_exposure: credentials,
        data_exfiltration: DATA_EXFILTRATION.contains(&name.as_str()),
        resource_exposure: permissions,
        infrastructure_modification: permissions || action.has_level(AccessLevel::Write),
        sensitive: (permissions && is_identity_service(&name))
            || credentials && name.starts_with("iam:")
            || MFA_SENSITIVE_EXTRA.contains(&name.as_str()),
    }
}

/// [`classify`] for every catalog action, computed once.
pub fn risk_table() -> &'static [ActionRisk] {
    static TABLE: std::sync::OnceLock<Vec<ActionRisk>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let catalog = Catalog::get();
        (0..catalog.len() as u32)
            .map(|i| classify(catalog, ActionId(i)))
            .collect()
    })
}

fn is_identity_service(name: &str) -> bool {
    ["iam:", "organizations:", "kms:", "sso:", "identitystore:"]
        .iter()
        .any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_name_real_actions() {
        let catalog = Catalog::get();
        for name in CREDENTIALS_EXPOSURE
            .iter()
            .chain(DATA_EXFILTRATION)
            .chain(MFA_SENSITIVE_EXTRA)
        {
            assert!(
                catalog.lookup(name).is_some(),
                "{name} is not in the catalog"
            );
        }
        for service in SENSITIVE_SERVICES {
            assert!(catalog.service(service).is_some());
        }
    }

    #[test]
    fn classifies_actions() {
        let catalog = Catalog::get();
        let risk = |n: &str| classify(catalog, catalog.lookup(n).unwrap());
        assert!(risk("iam:CreateAccessKey").credentials_exposure);
        assert!(risk("s3:PutBucketPolicy").resource_exposure);
        assert!(risk("s3:GetObject").data_exfiltration);
        assert!(!risk("s3:GetObject").infrastructure_modification);
        assert!(risk("ec2:RunInstances").infrastructure_modification);
        assert!(risk("iam:AttachUserPolicy").sensitive);
        assert!(!risk("s3:ListBucket").sensitive);
        assert!(!risk("quicksight:DescribeTopicPermissions").resource_exposure);
    }
}
