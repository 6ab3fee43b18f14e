//! Security Hub (ASFF) findings of every product but GuardDuty (Inspector, Macie, IAM Access
//! Analyzer, Config, Security Hub's controls, partners): id, type (the first `Types` entry, else
//! the title), severity (`Severity` as for GuardDuty's), account, region, times, `Resources[]`
//! (mapped to remedy's resource model where it has one), `Vulnerabilities[]`, `Compliance` and
//! Macie's `DataClassification`.

use serde::Deserialize;
use serde_json::Value;

use super::super::asff::fields::FieldRef;
use super::super::asff::resources::AsffResource;
use super::super::asff::{asff_severity, resource_details};
use super::super::document::{Doc, LazyJson};
use super::super::error::FindingError;
use super::super::guardduty::arn_parts;
use super::super::kind::FindingType;
use super::super::lenient::{opt_string_loose, vec_or_null};
use super::super::service::ServiceAction;
use super::super::shape::{Envelope, Shape};
use super::super::source::FindingSource;
use super::super::text::Text;
use super::{
    Compliance, Extra, Parts, ProductResource, SensitiveData, Vulnerability, VulnerablePackage,
};
use crate::finding::data::FindingData;

/// The parts of an ASFF finding only other products use, read from the finding's JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AsffExtras {
    #[serde(rename = "Vulnerabilities", deserialize_with = "vec_or_null")]
    vulnerabilities: Vec<AsffVulnerability>,
    #[serde(rename = "Compliance")]
    compliance: Option<AsffCompliance>,
    #[serde(rename = "Resources", deserialize_with = "vec_or_null")]
    resources: Vec<ClassifiedResource>,
}

/// A resource's `DataClassification` (Macie).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ClassifiedResource {
    #[serde(deserialize_with = "opt_string_loose")]
    id: Option<Text>,
    data_classification: Option<DataClassification>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct DataClassification {
    result: Option<ClassificationResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ClassificationResult {
    #[serde(deserialize_with = "vec_or_null")]
    sensitive_data: Vec<SensitiveCategory>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct SensitiveCategory {
    #[serde(deserialize_with = "opt_string_loose")]
    category: Option<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    detections: Vec<Detection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Detection {
    #[serde(rename = "Type", deserialize_with = "opt_string_loose")]
    detection_type: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    count: Option<String>,
}

/// Every detection of every classified resource, flat.
fn sensitive_data(resources: Vec<ClassifiedResource>) -> Vec<SensitiveData> {
    let mut out = Vec::new();
    for r in resources {
        let Some(result) = r.data_classification.and_then(|d| d.result) else {
            continue;
        };
        for category in result.sensitive_data {
            for d in category.detections {
                out.push(SensitiveData {
                    resource: r.id.clone(),
                    category: category.category.clone(),
                    detection_type: d.detection_type,
                    count: d.count.and_then(|c| c.trim().parse().ok()),
                });
            }
        }
    }
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffVulnerability {
    #[serde(deserialize_with = "opt_string_loose")]
    id: Option<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    vulnerable_packages: Vec<AsffPackage>,
    #[serde(deserialize_with = "vec_or_null")]
    cvss: Vec<AsffCvss>,
    vendor: Option<AsffVendor>,
    #[serde(deserialize_with = "opt_string_loose")]
    fix_available: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    exploit_available: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    epss_score: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffPackage {
    #[serde(deserialize_with = "opt_string_loose")]
    name: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    version: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    fixed_in_version: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    package_manager: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    remediation: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffCvss {
    #[serde(deserialize_with = "opt_string_loose")]
    base_score: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffVendor {
    #[serde(deserialize_with = "opt_string_loose")]
    vendor_severity: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffCompliance {
    #[serde(deserialize_with = "opt_string_loose")]
    status: Option<Text>,
    #[serde(deserialize_with = "opt_string_loose")]
    security_control_id: Option<Text>,
    #[serde(deserialize_with = "vec_or_null")]
    associated_standards: Vec<AsffStandard>,
    #[serde(deserialize_with = "vec_or_null")]
    related_requirements: Vec<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct AsffStandard {
    #[serde(deserialize_with = "opt_string_loose")]
    standards_id: Option<Text>,
}

/// A number written as a number or a string.
pub(super) fn number(text: Option<&str>) -> Option<f64> {
    text?.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

impl From<AsffVulnerability> for Vulnerability {
    fn from(v: AsffVulnerability) -> Self {
        Vulnerability {
            id: v.id,
            packages: v
                .vulnerable_packages
                .into_iter()
                .map(|p| VulnerablePackage {
                    name: p.name,
                    version: p.version,
                    fixed_in_version: p.fixed_in_version,
                    package_manager: p.package_manager,
                    remediation: p.remediation,
                })
                .collect(),
            fix_available: v.fix_available,
            exploit_available: v.exploit_available,
            cvss_score: v
                .cvss
                .iter()
                .filter_map(|c| number(c.base_score.as_deref()))
                .reduce(f64::max),
            epss_score: number(v.epss_score.as_deref()),
            vendor_severity: v.vendor.and_then(|v| v.vendor_severity),
        }
    }
}

/// The finding's type: the first `Types` entry that is a type, else the title, else the
/// generator; `None` when it has none of them.
fn product_type(doc: &Doc) -> Option<FindingType> {
    doc.types
        .iter()
        .flatten()
        .map(String::as_str)
        .chain(doc.title.as_deref())
        .chain(doc.generator_id.as_deref())
        .find_map(|t| FindingType::of_product(t).ok())
}

/// Maps one ASFF finding of `product` (not GuardDuty).
pub(in super::super) fn to_finding(
    doc: Doc,
    product: String,
    path: &str,
    envelope: Option<Envelope>,
    lazy: LazyJson,
) -> Result<FindingData, FindingError> {
    let finding_type = match product_type(&doc) {
        Some(t) => t,
        None => {
            return Err(FindingError::invalid(
                format!("{path}.Types"),
                "a finding type (`Types`) or a `Title`",
                "nothing",
            ));
        }
    };
    if doc.types.as_ref().is_none_or(Vec::is_empty) {
        super::warn_generic(
            FindingSource::SecurityHub,
            finding_type.as_str(),
            "the finding has no `Types`; its title stands for its type",
        );
    }
    let id =
        doc.id.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
            FindingError::invalid(format!("{path}.Id"), "a finding id", "nothing")
        })?;
    let severity = asff_severity(doc.severity, path)?;
    let resources: Vec<AsffResource> = doc.resources.unwrap_or_default();
    let arn = if id.starts_with("arn:") {
        id.clone()
    } else {
        Text::default()
    };
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
    let resource = resource_details(&resources).map_err(|e| {
        FindingError::invalid(format!("{path}.Resources"), "resources", e.to_string())
    })?;
    // The typed extras, read from the finding's own JSON (which is also its canonical JSON).
    let json = lazy.build().ok();
    let extras = json
        .as_ref()
        .and_then(|v| AsffExtras::deserialize(v).ok())
        .unwrap_or_default();
    let fields = doc.product_fields.unwrap_or_default();
    let compliance = extras.compliance.map(|c| Compliance {
        status: c.status,
        control_id: c.security_control_id.or_else(|| {
            fields
                .get("ControlId")
                .and_then(FieldRef::as_str)
                .map(Text::from)
        }),
        standards: c
            .associated_standards
            .into_iter()
            .filter_map(|s| s.standards_id)
            .collect(),
        related_requirements: c.related_requirements,
    });
    let extra = Extra {
        vulnerabilities: extras
            .vulnerabilities
            .into_iter()
            .map(Vulnerability::from)
            .collect(),
        compliance,
        malware_scan: None,
        product_arn: doc.product_arn.clone(),
        metadata_uid: None,
        sensitive_data: sensitive_data(extras.resources),
        resources: resources
            .iter()
            .map(|r| ProductResource {
                resource_type: r.resource_type().map(Text::from),
                id: r.id().map(Text::from),
                region: r.region.clone(),
            })
            .collect(),
    };
    let parts = Parts {
        id,
        arn,
        account_id: doc.aws_account_id.unwrap_or_default(),
        region,
        partition,
        title: doc.title,
        description: doc.description,
        finding_type,
        severity,
        created_at: doc.created_at_pascal.or(doc.created_at_camel),
        updated_at: doc.updated_at_pascal.or(doc.updated_at_camel),
        resource,
        source: FindingSource::SecurityHub,
        product: Some(Text::from(product)),
        extra,
        action: ServiceAction::None,
        shape: Shape::Asff,
        envelope,
        sample: doc.sample == Some(true),
    };
    Ok(parts.into_data(json.filter(Value::is_object), lazy))
}
