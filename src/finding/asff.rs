//! Security Hub (ASFF) findings produced by GuardDuty, mapped back to the GuardDuty model.
//!
//! - type: the last segment of a `Types` entry, `A:B-C` → `A:B/C`
//!   (`TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`);
//! - id and arn: from `Id` (the GuardDuty finding ARN; the id is its last segment);
//! - severity: `Severity.Product` (GuardDuty's own number), else `Normalized / 10`, else `Label`;
//! - service: `ProductFields` keys `aws/guardduty/service/a/b` (or legacy `a/b`) become
//!   `service.a.b`; `"true"`/`"false"` become booleans and numeric fields numbers;
//! - resource: `Resources[]` (`AwsIamAccessKey`, `AwsEc2Instance`, `AwsS3Bucket`, ...);
//! - sample: `Sample`.

pub(crate) mod fields;
pub(crate) mod resources;
mod tree;

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::data::{CanonicalSource, FindingData, JsonSource};
use super::document::{Doc, SeverityRaw};
use super::error::FindingError;
use super::guardduty::{arn_parts, has_placeholders, value_says_sample};
use super::kind::FindingType;
use super::resource::{Resource, ResourceDetails};
use super::service::Service;
use super::severity::{Severity, SeverityBand};
use super::shape::{Envelope, Shape};
use super::source::FindingSource;
use super::text::Text;
use fields::{FieldRef, Fields};
use resources::{AsffResource, map_resources};
use tree::{
    Tree, TreeMap, TreeMapOwnerDe, arrayify, entry_or_insert, insert_path, leaf, map_value, rfc3339,
};

/// What the canonical JSON of an ASFF finding is built from, on first use.
#[derive(Debug)]
pub(crate) struct AsffJson {
    fields: Fields,
    resources: Vec<AsffResource>,
    first_observed_at: Option<OffsetDateTime>,
    last_observed_at: Option<OffsetDateTime>,
}

/// The `service` and `resource` trees of one ASFF finding.
struct Trees<'a> {
    service: TreeMap<'a>,
    resource: TreeMap<'a>,
}

/// Rebuilds `service` (from `ProductFields` and the observed times) and `resource` (from
/// `ProductFields` and `Resources[]`). `None` if `service` would not be an object.
fn build_trees<'a>(
    fields: &'a Fields,
    resources: &'a [AsffResource],
    first_observed_at: Option<OffsetDateTime>,
    last_observed_at: Option<OffsetDateTime>,
) -> Option<Trees<'a>> {
    let mut service = Vec::new();
    let mut resource = Vec::new();
    for (key, value) in fields.iter() {
        let (target, rel) = if let Some(rel) = key.strip_prefix("aws/guardduty/service/") {
            (&mut service, rel)
        } else if let Some(rel) = key.strip_prefix("aws/guardduty/resource/") {
            (&mut resource, rel)
        } else if key.starts_with("aws/") {
            continue;
        } else {
            (&mut service, key)
        };
        if let Some(v) = leaf(rel, value) {
            insert_path(target, rel, v);
        }
    }
    for (key, t) in [
        ("eventFirstSeen", first_observed_at),
        ("eventLastSeen", last_observed_at),
    ] {
        if let Some(t) = t.filter(|t| rfc3339(*t).is_some()) {
            entry_or_insert(&mut service, key, Tree::Time(t));
        }
    }
    map_resources(resources, &mut resource);
    let mut service = Tree::Map(service);
    arrayify(&mut service);
    match service {
        Tree::Map(service) => Some(Trees { service, resource }),
        _ => None,
    }
}

/// Whether the ASFF finding `doc` is GuardDuty's: `Err` with its product's name otherwise.
pub(super) fn product_of(doc: &Doc) -> Result<(), String> {
    let empty = Fields::default();
    check_product(
        doc.product_arn.as_deref(),
        doc.product_name.as_deref(),
        doc.product_fields.as_ref().unwrap_or(&empty),
    )
}

/// Maps one ASFF finding of GuardDuty (see [`product_of`]).
pub(super) fn to_finding(
    doc: Doc,
    path: &str,
    envelope: Option<Envelope>,
) -> Result<FindingData, FindingError> {
    let fields = doc.product_fields.unwrap_or_default();
    let finding_type = asff_type(doc.types.as_deref().unwrap_or(&[]), path)?;
    let asff_id = doc.id.unwrap_or_default();
    let arn = guardduty_arn(&asff_id, &fields).unwrap_or_default();
    let id = arn
        .rsplit_once("/finding/")
        .map(|(_, id)| Text::from(id))
        .or_else(|| (!asff_id.is_empty()).then(|| asff_id.clone()))
        .ok_or_else(|| {
            FindingError::invalid(format!("{path}.Id"), "the GuardDuty finding ARN", "nothing")
        })?;
    let resources = doc.resources.unwrap_or_default();
    let (arn_partition, arn_region) = arn_parts(&arn);
    let first = resources.first();
    let region = doc
        .region
        .or_else(|| first.and_then(|r| r.region.clone()))
        .or_else(|| arn_region.map(Text::from))
        .unwrap_or_default();
    let partition = first
        .and_then(|r| r.partition.clone())
        .or_else(|| arn_partition.map(Text::from))
        .unwrap_or_default();
    let severity = asff_severity(doc.severity, path)?;
    let created_at = doc.created_at_pascal.or(doc.created_at_camel);
    let updated_at = doc.updated_at_pascal.or(doc.updated_at_camel);

    let Some(trees) = build_trees(
        &fields,
        &resources,
        doc.first_observed_at,
        doc.last_observed_at,
    ) else {
        return Err(FindingError::invalid(
            format!("{path}.ProductFields"),
            "an object",
            "another value",
        ));
    };
    let service_typed = typed_service(&trees.service).map_err(|e| {
        FindingError::invalid(
            format!("{path}.ProductFields"),
            "GuardDuty service fields",
            e.to_string(),
        )
    })?;
    let resource_typed =
        ResourceDetails::deserialize(TreeMapOwnerDe(&trees.resource)).map_err(|e| {
            FindingError::invalid(
                format!("{path}.Resources"),
                "GuardDuty resources",
                e.to_string(),
            )
        })?;
    let sample = doc.sample == Some(true)
        || service_typed.additional_info.sample == Some(true)
        || value_says_sample(service_typed.additional_info.value.as_deref())
        || has_placeholders(&resource_typed, &service_typed);

    let source = AsffJson {
        fields,
        resources,
        first_observed_at: doc.first_observed_at,
        last_observed_at: doc.last_observed_at,
    };
    Ok(FindingData {
        id: std::sync::Arc::from(id.as_str()),
        arn: Text::from(arn),
        account_id: doc.aws_account_id.unwrap_or_default(),
        region,
        partition,
        schema_version: None,
        title: doc.title.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        finding_type,
        severity,
        created_at,
        updated_at,
        resource: Resource::from_details(resource_typed),
        service: Box::new(service_typed),
        shape: Shape::Asff,
        envelope,
        sample,
        source: FindingSource::GuardDuty,
        product: None,
        extra: None,
        json_source: JsonSource::Mapped(Box::new(source)),
        json: OnceLock::new(),
        json_size: OnceLock::new(),
    })
}

/// The typed service; the observed times stand in for missing `eventFirstSeen`/`eventLastSeen`.
fn typed_service(tree: &TreeMap<'_>) -> Result<Service, serde_json::Error> {
    let mut service = Service::deserialize(TreeMapOwnerDe(tree))?;
    for (key, value) in tree {
        match (*key, value) {
            ("eventFirstSeen", Tree::Time(t)) => service.event_first_seen = Some(*t),
            ("eventLastSeen", Tree::Time(t)) => service.event_last_seen = Some(*t),
            _ => {}
        }
    }
    Ok(service)
}
impl CanonicalSource for AsffJson {
    fn canonical(&self, data: &FindingData) -> Value {
        canonical(data, self)
    }
}

/// The canonical camelCase JSON of an ASFF finding (GuardDuty API shape).
fn canonical(data: &FindingData, source: &AsffJson) -> Value {
    let trees = build_trees(
        &source.fields,
        &source.resources,
        source.first_observed_at,
        source.last_observed_at,
    );
    let (service, resource) = match &trees {
        Some(t) => (
            Value::Object(map_value(&t.service)),
            Value::Object(map_value(&t.resource)),
        ),
        None => (Value::Object(Map::new()), Value::Object(Map::new())),
    };
    let mut canonical = Map::new();
    canonical.insert("accountId".into(), json!(data.account_id));
    canonical.insert("arn".into(), json!(data.arn));
    if let Some(t) = data.created_at.and_then(rfc3339) {
        canonical.insert("createdAt".into(), json!(t));
    }
    canonical.insert("description".into(), json!(data.description));
    canonical.insert("id".into(), json!(data.id));
    canonical.insert("partition".into(), json!(data.partition));
    canonical.insert("region".into(), json!(data.region));
    canonical.insert("resource".into(), resource);
    canonical.insert("service".into(), service);
    canonical.insert("severity".into(), json!(data.severity.value()));
    canonical.insert("title".into(), json!(data.title));
    canonical.insert("type".into(), json!(data.finding_type.as_str()));
    if let Some(t) = data.updated_at.and_then(rfc3339) {
        canonical.insert("updatedAt".into(), json!(t));
    }
    if data.sample {
        canonical.insert("sample".into(), json!(true));
    }
    Value::Object(canonical)
}
/// Whether an ASFF finding is GuardDuty's: `Err` with its product otherwise. `ProductArn`
/// decides when present (Security Hub sets it from the integration that imported the finding; a
/// provider cannot claim GuardDuty's); the names only when it is missing.
pub(super) fn check_product(
    product_arn: Option<&str>,
    product_name: Option<&str>,
    fields: &Fields,
) -> Result<(), String> {
    let field_name = fields
        .get("aws/securityhub/ProductName")
        .and_then(FieldRef::as_str);
    let is_gd = match product_arn.filter(|a| !a.is_empty()) {
        Some(arn) => arn.ends_with("/aws/guardduty"),
        None => {
            product_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"))
                || field_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"))
        }
    };
    if is_gd {
        Ok(())
    } else {
        let product = product_name
            .or(field_name)
            .or(product_arn)
            .unwrap_or("unknown");
        Err(product.to_owned())
    }
}

/// The GuardDuty-model resource of `Resources[]`, for any product's finding.
pub(super) fn resource_details(
    resources: &[AsffResource],
) -> Result<ResourceDetails, serde_json::Error> {
    let mut tree = Vec::new();
    map_resources(resources, &mut tree);
    ResourceDetails::deserialize(TreeMapOwnerDe(&tree))
}

/// `TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`.
fn asff_type(types: &[String], path: &str) -> Result<FindingType, FindingError> {
    for t in types {
        for candidate in type_candidates(t) {
            if let Ok(ft) = FindingType::new(candidate) {
                return Ok(ft);
            }
        }
    }
    Err(FindingError::invalid(
        format!("{path}.Types"),
        "a GuardDuty type such as `TTPs/Discovery/Recon:IAMUser-UserPermissions`",
        match types.first() {
            Some(t) => format!("`{t}`"),
            None => "nothing".to_owned(),
        },
    ))
}

/// The GuardDuty types a `Types` entry may spell, in the notations seen in real Security Hub
/// findings (tried in order; the first that is a finding type wins): `TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` (the documented one, `-`
/// for the type's `/`) and `TTPs/Discovery/Recon:IAMUser/UserPermissions` (the type as is, after
/// the namespace and category).
pub(super) fn type_candidates(entry: &str) -> Vec<String> {
    let segments: Vec<&str> = entry.split('/').collect();
    let Some(at) = segments.iter().rposition(|s| s.contains(':')) else {
        return Vec::new();
    };
    let head = segments.get(at).copied().unwrap_or_default();
    let tail = segments.get(at + 1..).unwrap_or_default();
    let mut out = Vec::new();
    if tail.is_empty() {
        // `A:B-C` → `A:B/C`, and the odd `A:B.C` (GuardDuty's own sample findings in Security
        // Hub: `Software and Configuration Checks/Backdoor:EC2.C&CActivity.B`) → `A:B/C`.
        if let Some(colon) = head.find(':') {
            for separator in ['-', '.'] {
                if let Some(at) = head.get(colon..).and_then(|rest| rest.find(separator)) {
                    let split = colon + at;
                    out.push(format!(
                        "{}/{}",
                        head.get(..split).unwrap_or_default(),
                        head.get(split + 1..).unwrap_or_default()
                    ));
                }
            }
        }
    } else {
        out.push(format!("{head}/{}", tail.join("/")));
    }
    out
}

/// The GuardDuty finding ARN: `Id`, or the tail of `aws/securityhub/FindingId`.
pub(super) fn guardduty_arn(asff_id: &str, fields: &Fields) -> Option<String> {
    if asff_id.contains(":guardduty:") && asff_id.contains("/finding/") {
        return Some(asff_id.to_owned());
    }
    let fid = fields.get("aws/securityhub/FindingId")?.as_str()?;
    let at = fid.find("/guardduty/arn:")?;
    fid.get(at + "/guardduty/".len()..).map(str::to_owned)
}
pub(super) fn asff_severity(
    raw: Option<SeverityRaw>,
    path: &str,
) -> Result<Severity, FindingError> {
    let p = format!("{path}.Severity");
    // Security Hub's labels are the severity bands, plus `INFORMATIONAL`.
    let from_label = |label: &str| {
        if label.trim().eq_ignore_ascii_case("INFORMATIONAL") {
            return Some(Severity::MIN.value());
        }
        label
            .parse::<SeverityBand>()
            .ok()
            .map(|band| band.typical_severity().value())
    };
    let n = match raw {
        Some(SeverityRaw::Object {
            product,
            normalized,
            label,
        }) => product
            .filter(|p| (0.0..=10.0).contains(p))
            .or_else(|| {
                normalized
                    .filter(|n| (0.0..=100.0).contains(n))
                    .map(|n| n / 10.0)
            })
            .or_else(|| label.as_deref().and_then(from_label)),
        Some(SeverityRaw::Number(n)) => Some(n),
        Some(SeverityRaw::Text(s)) => s.trim().parse().ok().or_else(|| from_label(&s)),
        Some(SeverityRaw::Other(_)) | None => None,
    };
    n.and_then(Severity::new).ok_or_else(|| {
        FindingError::invalid(
            p,
            "an object with `Product`, `Normalized` or `Label`",
            "no usable severity",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_in_the_slash_notation_map_back_too() {
        let t = |s: &str| asff_type(&[s.to_owned()], "$").unwrap().to_string();
        assert_eq!(
            t("TTPs/Discovery/Recon:IAMUser/UserPermissions"),
            "Recon:IAMUser/UserPermissions"
        );
        assert_eq!(
            asff_type(
                &[
                    "Software and Configuration Checks/x".to_owned(),
                    "TTPs/Command and Control/Backdoor:EC2/C&CActivity.B!DNS".to_owned()
                ],
                "$"
            )
            .unwrap()
            .to_string(),
            "Backdoor:EC2/C&CActivity.B!DNS"
        );
        // GuardDuty's own sample finding in Security Hub spells the type with a `.`.
        assert_eq!(
            t("Software and Configuration Checks/Backdoor:EC2.C&CActivity.B"),
            "Backdoor:EC2/C&CActivity.B"
        );
        assert_eq!(
            t("TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"),
            "UnauthorizedAccess:EC2/SSHBruteForce"
        );
    }

    #[test]
    fn types_map_back() {
        let t = |s: &str| asff_type(&[s.to_owned()], "$").unwrap().to_string();
        assert_eq!(
            t("TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"),
            "UnauthorizedAccess:EC2/SSHBruteForce"
        );
        assert_eq!(
            t("TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"),
            "Backdoor:EC2/C&CActivity.B!DNS"
        );
        assert_eq!(
            t("Unusual Behaviors/User/UnauthorizedAccess:IAMUser-ConsoleLogin"),
            "UnauthorizedAccess:IAMUser/ConsoleLogin"
        );
        assert!(
            asff_type(
                &["Software and Configuration Checks/Vulnerabilities/CVE".to_owned()],
                "$"
            )
            .is_err()
        );
    }

    #[test]
    fn tree_reads_as_typed_service() {
        let fields: Fields = serde_json::from_value(json!({
            "aws/guardduty/service/count": "3",
            "aws/guardduty/service/archived": "true",
            "aws/guardduty/service/action/actionType": "AWS_API_CALL",
            "aws/guardduty/service/action/awsApiCallAction/api": "GetParameters",
            "aws/guardduty/service/evidence/threatIntelligenceDetails/0_/threatListName": "L",
            "aws/guardduty/service/additionalInfo": "{\"sample\": true}",
        }))
        .unwrap();
        let first = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let trees = build_trees(&fields, &[], Some(first), None).unwrap();
        let s = typed_service(&trees.service).unwrap();
        assert_eq!(s.count, Some(3));
        assert_eq!(s.archived, Some(true));
        assert_eq!(s.event_first_seen, Some(first));
        assert_eq!(s.additional_info.sample, Some(true));
        assert_eq!(s.threat_list_names().collect::<Vec<_>>(), ["L"]);
        assert!(
            matches!(&s.action, crate::finding::ServiceAction::AwsApiCall(a) if a.api.as_deref() == Some("GetParameters"))
        );
    }
}
