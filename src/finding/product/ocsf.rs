//! OCSF findings (Security Hub's `Findings Imported V2` events, Security Lake records): classes
//! 2002 (Vulnerability Finding), 2003 (Compliance Finding) and 2004 (Detection Finding) typed,
//! any other class read generically.
//!
//! - id: `finding_info.uid`; type: the first `finding_info.types` entry (a GuardDuty type as
//!   Security Hub writes it, `TTPs/…/Stealth:IAMUser-CloudTrailLoggingDisabled`, is read as
//!   GuardDuty's `Stealth:IAMUser/CloudTrailLoggingDisabled`), else the title, else the class;
//! - severity: `severity_id` (1 Informational … 5 Critical, 6 Fatal) through the band table;
//! - resources: `resources[]` and `resource`, whose `data` is ASFF's `Details` (as a JSON string
//!   or an object): access keys, instances and buckets are mapped as for ASFF;
//! - the action: the first of `evidences[]`, its `api` and `src_endpoint`, as GuardDuty's
//!   `awsApiCallAction` (`finding.api`, `finding.remote_ip`, `finding.remote_country`).

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::super::asff::resources::AsffResource;
use super::super::asff::{asff_severity, resource_details, type_candidates};
use super::super::document::{LazyJson, SeverityRaw};
use super::super::error::FindingError;
use super::super::guardduty::arn_parts;
use super::super::kind::FindingType;
use super::super::lenient::{opt_bool, opt_string_loose, opt_time_loose, vec_or_null};
use super::super::service::{AwsApiCallAction, City, Country, RemoteIpDetails, ServiceAction};
use super::super::shape::{Envelope, Shape};
use super::super::source::FindingSource;
use super::super::text::Text;
use super::securityhub::number;
use super::{Compliance, Extra, Parts, ProductResource, Vulnerability, VulnerablePackage, yes_no};
use crate::finding::data::FindingData;

/// The classes typed; others are read generically.
const TYPED_CLASSES: [u64; 3] = [2002, 2003, 2004];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Record {
    #[serde(deserialize_with = "opt_string_loose")]
    class_uid: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    class_name: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    severity: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    severity_id: Option<String>,
    cloud: Option<Cloud>,
    finding_info: Option<FindingInfo>,
    metadata: Option<Metadata>,
    #[serde(deserialize_with = "vec_or_null")]
    resources: Vec<OcsfResource>,
    resource: Option<OcsfResource>,
    #[serde(deserialize_with = "vec_or_null")]
    vulnerabilities: Vec<OcsfVulnerability>,
    compliance: Option<OcsfCompliance>,
    #[serde(deserialize_with = "vec_or_null")]
    evidences: Vec<Evidence>,
    #[serde(deserialize_with = "opt_time_loose")]
    time_dt: Option<OffsetDateTime>,
    #[serde(deserialize_with = "opt_time_loose")]
    time: Option<OffsetDateTime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Evidence {
    api: Option<Api>,
    src_endpoint: Option<SrcEndpoint>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Api {
    #[serde(deserialize_with = "opt_string_loose")]
    operation: Option<Text>,
    service: Option<ApiService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ApiService {
    #[serde(deserialize_with = "opt_string_loose")]
    name: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SrcEndpoint {
    #[serde(deserialize_with = "opt_string_loose")]
    ip: Option<Text>,
    location: Option<Location>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Location {
    #[serde(deserialize_with = "opt_string_loose")]
    country: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    city: Option<Text>,
}

/// The first evidence's API call and caller address, as GuardDuty's `awsApiCallAction`.
fn action(evidences: Vec<Evidence>) -> ServiceAction {
    let Some(e) = evidences
        .into_iter()
        .find(|e| e.api.is_some() || e.src_endpoint.is_some())
    else {
        return ServiceAction::None;
    };
    let api = e.api.unwrap_or_default();
    let remote = e.src_endpoint.map(|src| {
        let location = src.location.unwrap_or_default();
        let ip = src.ip.filter(|ip| !ip.is_empty());
        let v6 = ip.as_deref().is_some_and(|ip| ip.contains(':'));
        RemoteIpDetails {
            ip_address_v4: ip.clone().filter(|_| !v6),
            ip_address_v6: ip.filter(|_| v6),
            country: location
                .country
                .filter(|c| !c.is_empty())
                .map(|name| Country {
                    name: Some(name),
                    code: None,
                }),
            city: location
                .city
                .filter(|c| !c.is_empty())
                .map(|name| City { name: Some(name) }),
            organization: None,
        }
    });
    ServiceAction::AwsApiCall(AwsApiCallAction {
        api: api.operation,
        service_name: api.service.and_then(|s| s.name),
        remote_ip_details: remote,
        ..AwsApiCallAction::default()
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cloud {
    account: Option<Account>,
    #[serde(deserialize_with = "opt_string_loose")]
    region: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Account {
    #[serde(deserialize_with = "opt_string_loose")]
    uid: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FindingInfo {
    #[serde(deserialize_with = "opt_string_loose")]
    uid: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    title: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    desc: Option<String>,
    #[serde(deserialize_with = "vec_or_null")]
    types: Vec<Value>,
    #[serde(deserialize_with = "opt_time_loose")]
    created_time_dt: Option<OffsetDateTime>,
    #[serde(deserialize_with = "opt_time_loose")]
    created_time: Option<OffsetDateTime>,
    #[serde(deserialize_with = "opt_time_loose")]
    modified_time_dt: Option<OffsetDateTime>,
    #[serde(deserialize_with = "opt_time_loose")]
    modified_time: Option<OffsetDateTime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    product: Option<Product>,
    #[serde(deserialize_with = "opt_string_loose")]
    uid: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Product {
    #[serde(deserialize_with = "opt_string_loose")]
    name: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OcsfResource {
    #[serde(rename = "type", deserialize_with = "opt_string_loose")]
    resource_type: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    uid: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    region: Option<String>,
    #[serde(deserialize_with = "opt_string_loose")]
    cloud_partition: Option<String>,
    data: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OcsfVulnerability {
    cve: Option<Cve>,
    #[serde(deserialize_with = "vec_or_null")]
    affected_packages: Vec<OcsfPackage>,
    #[serde(deserialize_with = "vec_or_null")]
    packages: Vec<OcsfPackage>,
    #[serde(deserialize_with = "opt_bool")]
    is_fix_available: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    fix_available: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    is_exploit_available: Option<bool>,
    #[serde(deserialize_with = "opt_string_loose")]
    severity: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cve {
    #[serde(deserialize_with = "opt_string_loose")]
    uid: Option<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    cvss: Vec<Cvss>,
    epss: Option<Epss>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cvss {
    #[serde(deserialize_with = "opt_string_loose")]
    base_score: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Epss {
    #[serde(deserialize_with = "opt_string_loose")]
    score: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OcsfPackage {
    #[serde(deserialize_with = "opt_string_loose")]
    name: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    version: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    fixed_in_version: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    package_manager: Option<Text>,
    remediation: Option<Remediation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Remediation {
    #[serde(deserialize_with = "opt_string_loose")]
    desc: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OcsfCompliance {
    #[serde(deserialize_with = "opt_string_loose")]
    status: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    control: Option<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    standards: Vec<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    requirements: Vec<Text>,
}

impl From<OcsfVulnerability> for Vulnerability {
    fn from(v: OcsfVulnerability) -> Self {
        let cve = v.cve.unwrap_or_default();
        let packages = if v.affected_packages.is_empty() {
            v.packages
        } else {
            v.affected_packages
        };
        Vulnerability {
            id: cve.uid,
            packages: packages
                .into_iter()
                .map(|p| VulnerablePackage {
                    name: p.name,
                    version: p.version,
                    fixed_in_version: p.fixed_in_version,
                    package_manager: p.package_manager,
                    remediation: p.remediation.and_then(|r| r.desc),
                })
                .collect(),
            fix_available: v.is_fix_available.or(v.fix_available).map(yes_no),
            exploit_available: v.is_exploit_available.map(yes_no),
            cvss_score: cve
                .cvss
                .iter()
                .filter_map(|c| number(c.base_score.as_deref()))
                .reduce(f64::max),
            epss_score: cve.epss.and_then(|e| number(e.score.as_deref())),
            vendor_severity: v.severity,
        }
    }
}

/// An OCSF resource as the ASFF resource it was mapped from (`data` is ASFF's `Details`).
fn as_asff(r: &OcsfResource) -> AsffResource {
    let details = match &r.data {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    let value = json!({
        "Type": r.resource_type,
        "Id": r.uid,
        "Region": r.region,
        "Partition": r.cloud_partition,
        "Details": details,
    });
    AsffResource::deserialize(&value).unwrap_or_default()
}

/// The severity from `severity_id`, else the `severity` name, through the one band table.
fn severity(record: &Record, path: &str) -> Result<super::super::severity::Severity, FindingError> {
    let label = match record.severity_id.as_deref().map(str::trim) {
        Some("1") => Some("INFORMATIONAL".to_owned()),
        Some("2") => Some("LOW".to_owned()),
        Some("3") => Some("MEDIUM".to_owned()),
        Some("4") => Some("HIGH".to_owned()),
        Some("5" | "6") => Some("CRITICAL".to_owned()),
        _ => record.severity.clone(),
    };
    let raw = SeverityRaw::Object {
        product: None,
        normalized: None,
        label,
    };
    asff_severity(Some(raw), &format!("{path}.severity_id")).map_err(|_| {
        FindingError::invalid(
            format!("{path}.severity_id"),
            "an OCSF severity (`severity_id` 1 to 6, or `severity`)",
            "no usable severity",
        )
    })
}

/// The type: the first `finding_info.types` entry (GuardDuty's in GuardDuty's form), else the
/// title, else the class name.
fn finding_type(record: &Record, guardduty: bool) -> Option<FindingType> {
    let info = record.finding_info.as_ref();
    let types = info
        .map(|i| i.types.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str);
    if guardduty {
        let gd = types
            .clone()
            .flat_map(type_candidates)
            .find_map(|t| FindingType::new(t).ok());
        if gd.is_some() {
            return gd;
        }
    }
    types
        .chain(info.and_then(|i| i.title.as_deref()))
        .chain(record.class_name.as_deref())
        .find_map(|t| FindingType::of_product(t).ok())
}

/// Maps one OCSF finding.
pub(in super::super) fn to_finding(
    path: &str,
    envelope: Option<Envelope>,
    lazy: LazyJson,
) -> Result<FindingData, FindingError> {
    let json = lazy
        .build()
        .map_err(|why| FindingError::invalid(path.to_owned(), "an OCSF finding", why))?;
    let record = Record::deserialize(&json)
        .map_err(|e| FindingError::invalid(path.to_owned(), "an OCSF finding", e.to_string()))?;
    let product = record
        .metadata
        .as_ref()
        .and_then(|m| m.product.as_ref())
        .and_then(|p| p.name.clone());
    let guardduty = product
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("GuardDuty"));
    let finding_type = finding_type(&record, guardduty).ok_or_else(|| {
        FindingError::invalid(
            format!("{path}.finding_info.types"),
            "a finding type, a title or a class name",
            "nothing",
        )
    })?;
    let class = record.class_uid.as_deref().map(str::trim).unwrap_or("");
    if !TYPED_CLASSES.iter().any(|c| c.to_string() == class) {
        super::warn_generic(
            FindingSource::Ocsf,
            finding_type.as_str(),
            &format!("OCSF class `{class}` is not one of 2002, 2003, 2004"),
        );
    }
    let severity = severity(&record, path)?;
    let info = record.finding_info.unwrap_or_default();
    let id = info.uid.filter(|s| !s.is_empty()).ok_or_else(|| {
        FindingError::invalid(
            format!("{path}.finding_info.uid"),
            "a finding id",
            "nothing",
        )
    })?;
    let arn = if id.starts_with("arn:") {
        id.clone()
    } else {
        Text::default()
    };
    let (arn_partition, arn_region) = arn_parts(&arn);
    let ocsf_resources: Vec<&OcsfResource> = record
        .resources
        .iter()
        .chain(record.resource.as_ref())
        .collect();
    let resources: Vec<AsffResource> = ocsf_resources.iter().map(|r| as_asff(r)).collect();
    let resource = resource_details(&resources).map_err(|e| {
        FindingError::invalid(format!("{path}.resources"), "resources", e.to_string())
    })?;
    let cloud = record.cloud.unwrap_or_default();
    let region = cloud
        .region
        .or_else(|| arn_region.map(Text::from))
        .unwrap_or_default();
    let partition = ocsf_resources
        .iter()
        .find_map(|r| r.cloud_partition.as_deref())
        .or(arn_partition)
        .map(Text::from)
        .unwrap_or_default();
    let extra = Extra {
        vulnerabilities: record
            .vulnerabilities
            .into_iter()
            .map(Vulnerability::from)
            .collect(),
        compliance: record.compliance.map(|c| Compliance {
            status: c.status,
            control_id: c.control,
            standards: c.standards,
            related_requirements: c.requirements,
        }),
        malware_scan: None,
        product_arn: None,
        metadata_uid: record.metadata.as_ref().and_then(|m| m.uid.clone()),
        sensitive_data: Vec::new(),
        resources: ocsf_resources
            .iter()
            .map(|r| ProductResource {
                resource_type: r.resource_type.as_deref().map(Text::from),
                id: r.uid.as_deref().map(Text::from),
                region: r.region.as_deref().map(Text::from),
            })
            .collect(),
    };
    let parts = Parts {
        id,
        arn,
        account_id: cloud.account.and_then(|a| a.uid).unwrap_or_default(),
        region,
        partition,
        title: info.title.map(std::sync::Arc::from),
        description: info.desc,
        finding_type,
        severity,
        created_at: info.created_time_dt.or(info.created_time),
        updated_at: info
            .modified_time_dt
            .or(info.modified_time)
            .or(record.time_dt)
            .or(record.time),
        resource,
        source: FindingSource::Ocsf,
        product,
        extra,
        action: action(record.evidences),
        shape: Shape::Ocsf,
        envelope,
        sample: false,
    };
    Ok(parts.into_data(Some(json), lazy))
}
