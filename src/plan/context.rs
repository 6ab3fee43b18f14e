//! What a plan knows of its finding: [`FindingContext`], enough to carry the plan out, guard it
//! and tell people about it without the finding itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::finding::enrichment::Context;
use crate::finding::{Finding, FindingSource, FindingType, Severity, SeverityBand, Text};

/// The finding a plan was made for: its identity, where it is, who and what it names.
///
/// Serialized flat into the plan's JSON (`finding_id`, `finding_type`, `severity`, `sample`,
/// `account_id`, ...); absent values are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingContext {
    /// The finding's id.
    #[serde(rename = "finding_id")]
    pub id: Arc<str>,
    /// The finding's type, e.g. `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom`.
    pub finding_type: FindingType,
    /// The severity.
    pub severity: Severity,
    /// Whether the finding is a sample (generated) finding: no destructive action is taken for it.
    pub sample: bool,
    /// Where the finding came from. Left out of the JSON for GuardDuty's findings (and read as
    /// `guardduty` when absent), so a plan, approval or record written before sources were
    /// recorded reads and re-serializes byte for byte as it was sealed.
    #[serde(default = "guardduty", skip_serializing_if = "is_guardduty")]
    pub source: FindingSource,
    /// The product that made the finding (`GuardDuty`, `Inspector`, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Text>,
    /// The finding's ARN, when it has one (GuardDuty's findings): with the region, what
    /// identifies a GuardDuty finding in Security Hub (write-back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_arn: Option<Text>,
    /// The ASFF `ProductArn` of a Security Hub finding: with its id, what identifies it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_arn: Option<Text>,
    /// The OCSF `metadata.uid` of an OCSF finding: what identifies it in Security Hub's OCSF API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_uid: Option<Text>,
    /// The title.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub title: Arc<str>,
    /// The AWS account the finding is about.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub account_id: Text,
    /// The region.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub region: Text,
    /// When GuardDuty last updated the finding (RFC 3339 in the JSON form).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// How many times GuardDuty saw the activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The IAM principal the finding names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// The other principals the finding names: an attack sequence's actors and access keys.
    /// A destructive action may touch them as it may the finding's principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Principal>,
    /// The EC2 instances the finding is about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance_ids: Vec<Text>,
    /// The tags of the finding's instance, key to value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instance_tags: BTreeMap<String, String>,
    /// The remote IP address, as the finding gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<Text>,
    /// The remote IP's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_country: Option<Text>,
    /// The API called, e.g. `GetParameters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Text>,
    /// The service of the API, e.g. `ssm.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_service: Option<Text>,
    /// What enrichment found before the policies decided (the principal's permissions, the key's
    /// recent activity, what failed): exactly what the policies saw as `finding.context`.
    /// Absent when the finding was not enriched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Arc<Context>>,
}

/// The IAM principal of a finding (`resource.accessKeyDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The IAM user name (the role name for assumed roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<Text>,
    /// The principal's type: `IAMUser`, `AssumedRole`, `Root`, `FederatedUser`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<Text>,
    /// The access key id the principal used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Text>,
    /// The principal id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<Text>,
}

impl FindingContext {
    /// A context with only an id, a type and a severity (tests, host-made plans).
    pub fn new(id: &str, finding_type: FindingType, severity: Severity) -> Self {
        Self {
            id: Arc::from(id),
            finding_type,
            severity,
            sample: false,
            source: FindingSource::GuardDuty,
            product: None,
            finding_arn: None,
            product_arn: None,
            metadata_uid: None,
            title: Arc::from(""),
            account_id: Text::default(),
            region: Text::default(),
            updated_at: None,
            count: None,
            principal: None,
            actors: Vec::new(),
            instance_ids: Vec::new(),
            instance_tags: BTreeMap::new(),
            remote_ip: None,
            remote_country: None,
            api: None,
            api_service: None,
            enrichment: None,
        }
    }

    /// The severity band.
    pub fn severity_band(&self) -> SeverityBand {
        self.severity.band()
    }

    /// The finding's principal, then its other principals ([`FindingContext::actors`]).
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.principal.iter().chain(&self.actors)
    }

    /// Every identifier the finding names: its principals' user or role names, access key ids
    /// and principal ids, and its instance ids. A destructive action may touch only these.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let principal = self.principals().flat_map(|p| {
            [&p.user_name, &p.access_key_id, &p.principal_id]
                .into_iter()
                .flatten()
                .map(Text::as_str)
        });
        principal.chain(self.instance_ids.iter().map(Text::as_str))
    }

    /// The principal's user (or role) name.
    pub fn user_name(&self) -> Option<&str> {
        self.principal.as_ref()?.user_name.as_deref()
    }

    /// The principal's type.
    pub fn user_type(&self) -> Option<&str> {
        self.principal.as_ref()?.user_type.as_deref()
    }

    /// The principal's access key id.
    pub fn access_key_id(&self) -> Option<&str> {
        self.principal.as_ref()?.access_key_id.as_deref()
    }
}

/// The source of plans written before sources were recorded.
fn guardduty() -> FindingSource {
    FindingSource::GuardDuty
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_guardduty(source: &FindingSource) -> bool {
    *source == FindingSource::GuardDuty
}

impl From<&Finding> for FindingContext {
    fn from(f: &Finding) -> Self {
        // Short strings are stored inline (`Text`) and long ones shared (`Arc`): building a
        // context allocates nothing for a typical IAM finding.
        let owned = |s: Option<&str>| s.map(Text::from);
        let principal = Principal {
            user_name: owned(f.user_name()),
            user_type: owned(f.user_type()),
            access_key_id: owned(f.access_key_id()),
            principal_id: owned(f.principal_id()),
        };
        let actors = f
            .sequence()
            .into_iter()
            .flat_map(|s| s.principals())
            .map(|p| Principal {
                user_name: owned(p.user_name),
                user_type: owned(p.user_type),
                access_key_id: owned(p.access_key_id),
                principal_id: owned(p.principal_id),
            })
            .filter(|p| *p != Principal::default() && *p != principal)
            .fold(Vec::new(), |mut all: Vec<Principal>, p| {
                if !all.contains(&p) {
                    all.push(p);
                }
                all
            });
        Self {
            id: f.shared_id(),
            finding_type: f.finding_type().clone(),
            severity: f.severity(),
            sample: f.is_sample(),
            source: f.source(),
            product: owned(f.product()).filter(|_| f.source() != FindingSource::GuardDuty),
            finding_arn: owned(Some(f.arn()).filter(|a| !a.is_empty())),
            product_arn: owned(f.product_arn()),
            metadata_uid: owned(f.metadata_uid()),
            title: f.shared_title(),
            account_id: Text::from(f.account_id()),
            region: Text::from(f.region()),
            updated_at: f.updated_at(),
            count: f.count(),
            principal: (principal != Principal::default()).then_some(principal),
            actors,
            instance_ids: f.instance_ids().into_iter().map(Text::from).collect(),
            instance_tags: f
                .instance_tags()
                .iter()
                .map(|t| (t.key.as_str().to_owned(), t.value.as_str().to_owned()))
                .collect(),
            remote_ip: owned(f.remote_ip_text()),
            remote_country: owned(f.remote_country()),
            api: owned(f.api()),
            api_service: owned(f.api_service()),
            enrichment: f.shared_context(),
        }
    }
}
