//! Findings of sources other than GuardDuty's own findings: Security Hub (ASFF) findings of every
//! other product ([`securityhub`]), OCSF findings ([`ocsf`]), GuardDuty Malware Protection for S3
//! scan results ([`malware`]) and findings of sources remedy does not know ([`generic`]); the
//! typed details they carry ([`Vulnerability`], [`Compliance`], [`SensitiveData`],
//! [`MalwareScan`], [`ProductResource`]).

pub(super) mod generic;
pub(super) mod malware;
pub(super) mod ocsf;
pub(super) mod securityhub;

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use time::OffsetDateTime;

use super::data::{FindingData, JsonSource};
use super::document::LazyJson;
use super::kind::FindingType;
use super::resource::{Resource, ResourceDetails};
use super::service::{Service, ServiceAction};
use super::severity::Severity;
use super::shape::{Envelope, Shape};
use super::source::FindingSource;
use super::text::Text;

pub(crate) use super::details::Extra;
pub use super::details::{
    Compliance, MalwareScan, ProductResource, SensitiveData, Vulnerability, VulnerablePackage,
};

/// Everything a finding of another source is made of; [`Parts::into_data`] makes the finding.
pub(super) struct Parts {
    pub(super) id: Text,
    pub(super) arn: Text,
    pub(super) account_id: Text,
    pub(super) region: Text,
    pub(super) partition: Text,
    pub(super) title: Option<Arc<str>>,
    pub(super) description: Option<String>,
    pub(super) finding_type: FindingType,
    pub(super) severity: Severity,
    pub(super) created_at: Option<OffsetDateTime>,
    pub(super) updated_at: Option<OffsetDateTime>,
    pub(super) resource: ResourceDetails,
    pub(super) source: FindingSource,
    pub(super) product: Option<Text>,
    pub(super) extra: Extra,
    /// The observed action (OCSF evidences), when the source says.
    pub(super) action: ServiceAction,
    pub(super) shape: Shape,
    pub(super) envelope: Option<Envelope>,
    pub(super) sample: bool,
}

impl Parts {
    /// The finding; its canonical JSON is the document's part as delivered (`json`, when it was
    /// read already, or `lazy` on first use).
    pub(super) fn into_data(self, json: Option<Value>, lazy: LazyJson) -> FindingData {
        let built = OnceLock::new();
        if let Some(json) = json {
            let _ = built.set(Ok(json));
        }
        let mut service = Box::<Service>::default();
        service.action = self.action;
        FindingData {
            id: Arc::from(self.id.as_str()),
            arn: self.arn,
            account_id: self.account_id,
            region: self.region,
            partition: self.partition,
            schema_version: None,
            title: self.title.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            finding_type: self.finding_type,
            severity: self.severity,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resource: Resource::from_details(self.resource),
            service,
            shape: self.shape,
            envelope: self.envelope,
            sample: self.sample,
            source: self.source,
            product: self.product,
            extra: Some(Box::new(self.extra)),
            json_source: JsonSource::Document(lazy),
            json: built,
            json_size: OnceLock::new(),
        }
    }
}

/// `YES`/`NO` from a boolean.
pub(super) fn yes_no(b: bool) -> Text {
    Text::from(if b { "YES" } else { "NO" })
}

/// Warns once per (source, type) that a finding was read generically.
pub(super) fn warn_generic(source: FindingSource, finding_type: &str, why: &str) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: OnceLock<Mutex<HashSet<(FindingSource, String)>>> = OnceLock::new();
    const MAX_SEEN: usize = 1024;
    let seen = SEEN.get_or_init(|| Mutex::new(HashSet::new()));
    let first = match seen.lock() {
        Ok(mut seen) => {
            if seen.len() >= MAX_SEEN {
                seen.clear();
            }
            seen.insert((source, finding_type.to_owned()))
        }
        Err(_) => true,
    };
    if first {
        tracing::warn!(
            source = source.as_str(),
            finding_type = %super::inert(finding_type),
            "read generically (id, type, severity, resources): {}",
            super::inert(why)
        );
    }
}
