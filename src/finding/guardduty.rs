//! The GuardDuty mapping: a [`Doc`] holding a GuardDuty finding (camelCase or PascalCase) becomes
//! [`FindingData`]; and what GuardDuty and ASFF share: ARN parts and sample detection.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::data::{FindingData, JsonSource};
use super::document::{Doc, LazyJson, LocSeg, SeverityRaw, SharedDoc};
use super::error::FindingError;
use super::kind::FindingType;
use super::lenient::opt_bool;
use super::resource::{Resource, ResourceDetails};
use super::service::{Service, ServiceAction};
use super::severity::Severity;
use super::shape::{Envelope, Shape};
use super::source::FindingSource;
use super::text::Text;

/// Placeholder values GuardDuty puts in generated sample findings.
const PLACEHOLDER_PREFIX: &str = "GeneratedFinding";

/// A JSON path `base` + `suffix`, formatted only when an error needs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'a>(pub(super) &'a str, pub(super) &'static str);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

/// Where a GuardDuty finding was read from: the document, the finding's place in it, its shape
/// and envelope.
pub(super) struct Origin<'a> {
    pub(super) shape: Shape,
    pub(super) envelope: Option<Envelope>,
    pub(super) doc: &'a Arc<SharedDoc>,
    pub(super) locator: Vec<LocSeg>,
    pub(super) path: At<'a>,
}

/// Maps one GuardDuty finding.
pub(super) fn finding(doc: Doc, origin: Origin<'_>) -> Result<FindingData, FindingError> {
    let path = origin.path;
    let pascal = doc.type_camel.is_none() && doc.type_pascal.is_some();
    let type_text = doc.type_camel.or(doc.type_pascal).ok_or_else(|| {
        FindingError::invalid(format!("{path}.type"), "a finding type string", "nothing")
    })?;
    let finding_type = FindingType::new(type_text).map_err(|e| e.within(&path.to_string()))?;
    let severity = severity(doc.severity, path)?;
    let id = doc
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FindingError::invalid(format!("{path}.id"), "a finding id", "nothing"))?;
    let arn = doc.arn.unwrap_or_default();
    let (arn_partition, arn_region) = arn_parts(&arn);
    let region = doc
        .region
        .or_else(|| arn_region.map(Text::from))
        .unwrap_or_default();
    let partition = doc
        .partition
        .or_else(|| arn_partition.map(Text::from))
        .unwrap_or_default();
    let resource = doc.resource.unwrap_or_default();
    let service = doc.service.unwrap_or_default();
    let sample = service.additional_info.sample == Some(true)
        || value_says_sample(service.additional_info.value.as_deref())
        || has_placeholders(&resource, &service);
    Ok(FindingData {
        id: Arc::from(id.as_str()),
        arn,
        account_id: doc.account_id.unwrap_or_default(),
        region,
        partition,
        schema_version: doc.schema_version,
        title: doc.title.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        finding_type,
        severity,
        created_at: doc.created_at_camel.or(doc.created_at_pascal),
        updated_at: doc.updated_at_camel.or(doc.updated_at_pascal),
        resource: Resource::from_details(*resource),
        service,
        shape: origin.shape,
        envelope: origin.envelope,
        sample,
        source: FindingSource::GuardDuty,
        product: None,
        extra: None,
        json_source: JsonSource::Document(LazyJson {
            doc: Arc::clone(origin.doc),
            locator: origin.locator,
            pascal,
        }),
        json: OnceLock::new(),
        json_size: OnceLock::new(),
    })
}

/// Resolves a GuardDuty severity (a number, or a numeric string).
fn severity(raw: Option<SeverityRaw>, path: At<'_>) -> Result<Severity, FindingError> {
    let p = || format!("{path}.severity");
    let expected = "a number from 0 to 10";
    let n = match raw {
        None => return Err(FindingError::invalid(p(), expected, "nothing")),
        Some(SeverityRaw::Number(n)) => n,
        Some(SeverityRaw::Text(s)) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return Err(FindingError::invalid(p(), expected, format!("`{s}`"))),
        },
        Some(SeverityRaw::Object { .. }) => {
            return Err(FindingError::invalid(p(), expected, "an object"));
        }
        Some(SeverityRaw::Other(what)) => return Err(FindingError::invalid(p(), expected, what)),
    };
    Severity::new(n).ok_or_else(|| FindingError::invalid(p(), expected, format!("`{n}`")))
}

/// Region and partition from an ARN `arn:PARTITION:guardduty:REGION:ACCOUNT:...`.
pub(super) fn arn_parts(arn: &str) -> (Option<&str>, Option<&str>) {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return (None, None);
    }
    let partition = parts.next().filter(|s| !s.is_empty());
    let _service = parts.next();
    let region = parts.next().filter(|s| !s.is_empty());
    (partition, region)
}

/// Whether `additionalInfo.value` (a JSON string) says `"sample": true`.
pub(super) fn value_says_sample(value: Option<&str>) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, alias = "Sample", deserialize_with = "opt_bool")]
        sample: Option<bool>,
    }
    value
        .filter(|v| v.contains("ample"))
        .and_then(|v| serde_json::from_str::<Probe>(v).ok())
        .and_then(|p| p.sample)
        .unwrap_or(false)
}

/// Whether any of the principal/instance/API values is one of GuardDuty's sample placeholders.
pub(super) fn has_placeholders(resource: &ResourceDetails, service: &Service) -> bool {
    let ph = |s: &Option<Text>| {
        s.as_deref()
            .is_some_and(|s| s.starts_with(PLACEHOLDER_PREFIX))
    };
    let key = resource
        .access_key
        .as_ref()
        .is_some_and(|ak| ph(&ak.user_name) || ph(&ak.access_key_id) || ph(&ak.principal_id));
    let api = matches!(&service.action, ServiceAction::AwsApiCall(a) if ph(&a.api) || ph(&a.service_name));
    key || api
}
