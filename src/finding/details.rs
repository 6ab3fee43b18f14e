//! The typed details that findings of sources other than GuardDuty's own carry
//! ([`Vulnerability`], [`Compliance`], [`SensitiveData`], [`MalwareScan`], [`ProductResource`]),
//! and [`Extra`], which holds them in a finding: a leaf, so that both the finding's data and the
//! product readers can name them.

use super::text::Text;

/// A vulnerability a finding reports (Inspector's `Vulnerabilities[]`, OCSF `vulnerabilities[]`).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Vulnerability {
    /// The vulnerability id (`CVE-2021-44228`).
    pub id: Option<Text>,
    /// The vulnerable packages.
    pub packages: Vec<VulnerablePackage>,
    /// Whether a fix is available: `YES`, `NO` or `PARTIAL`.
    pub fix_available: Option<Text>,
    /// Whether an exploit is known: `YES` or `NO`.
    pub exploit_available: Option<Text>,
    /// The highest CVSS base score given.
    pub cvss_score: Option<f64>,
    /// The EPSS score (the probability of exploitation in the next 30 days), if given.
    pub epss_score: Option<f64>,
    /// The vendor's severity (`CRITICAL`, ...).
    pub vendor_severity: Option<Text>,
}

/// A package a vulnerability affects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VulnerablePackage {
    /// The package name.
    pub name: Option<Text>,
    /// The installed version.
    pub version: Option<Text>,
    /// The version that fixes the vulnerability.
    pub fixed_in_version: Option<Text>,
    /// The package manager (`OS`, `JAR`, `NPM`, ...).
    pub package_manager: Option<Text>,
    /// How to fix it (`yum update openssl`), as the product says.
    pub remediation: Option<Text>,
}

/// Sensitive data Macie found in an object: one detection type of one category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SensitiveData {
    /// The resource it was found in (`arn:aws:s3:::bucket/key`).
    pub resource: Option<Text>,
    /// The category (`PERSONAL_INFORMATION`, `FINANCIAL_INFORMATION`, `CREDENTIALS`, ...).
    pub category: Option<Text>,
    /// The detection type (`USA_SOCIAL_SECURITY_NUMBER`, `CREDIT_CARD_NUMBER`, `AWS_CREDENTIALS`).
    pub detection_type: Option<Text>,
    /// How many occurrences.
    pub count: Option<u64>,
}

/// A compliance check's result (Security Hub controls, OCSF compliance findings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compliance {
    /// `PASSED`, `WARNING`, `FAILED` or `NOT_AVAILABLE`.
    pub status: Option<Text>,
    /// The control (`EC2.7`, `Config.1`).
    pub control_id: Option<Text>,
    /// The standards the control belongs to.
    pub standards: Vec<Text>,
    /// The requirements of those standards it checks (`PCI DSS 10.5.2`).
    pub related_requirements: Vec<Text>,
}

/// A GuardDuty Malware Protection for S3 scan result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MalwareScan {
    /// The scan's status (`COMPLETED`, `SKIPPED`, `FAILED`).
    pub scan_status: Option<Text>,
    /// The result (`NO_THREATS_FOUND`, `THREATS_FOUND`, `UNSUPPORTED`, `ACCESS_DENIED`, `FAILED`).
    pub result_status: Option<Text>,
    /// The bucket.
    pub bucket: Option<Text>,
    /// The object key.
    pub key: Option<Text>,
    /// The object's version id.
    pub version_id: Option<Text>,
    /// The object's ETag.
    pub e_tag: Option<Text>,
    /// The names of the threats found.
    pub threats: Vec<Text>,
}

/// A resource as a product names it (ASFF `Resources[]`, OCSF `resources[]`): whatever remedy
/// maps to its own model (access keys, instances, buckets, clusters, functions) is in
/// [`Finding::resource`](super::Finding::resource) as well.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductResource {
    /// The type (`AwsEc2Instance`, `AwsEcrContainerImage`, `AwsAccount`).
    pub resource_type: Option<Text>,
    /// The id (an ARN, an instance id).
    pub id: Option<Text>,
    /// The region.
    pub region: Option<Text>,
}

/// The typed details of a finding that only other sources carry.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub(crate) vulnerabilities: Vec<Vulnerability>,
    pub(crate) compliance: Option<Compliance>,
    pub(crate) malware_scan: Option<MalwareScan>,
    pub(crate) resources: Vec<ProductResource>,
    pub(crate) sensitive_data: Vec<SensitiveData>,
    /// The ASFF `ProductArn` (with `Id`, what identifies the finding in Security Hub).
    pub(crate) product_arn: Option<Text>,
    /// The OCSF `metadata.uid` (what identifies the finding in Security Hub's OCSF API).
    pub(crate) metadata_uid: Option<Text>,
}
