//! Security Hub products without a sample in the shared corpus, from the repository's fixtures
//! (tests/fixtures/products, provenance in its README): Macie's sensitive data and IAM Access
//! Analyzer's external access.

use remedy::finding::FindingSource;
use remedy::plan::Action;
use remedy::{Finding, PolicySet};

use super::{fixture, one};

#[test]
fn macie_sensitive_data_is_typed() {
    let f = one(&fixture("products/macie-sensitive-data.asff.json"));
    assert_eq!(f.source(), FindingSource::SecurityHub);
    assert_eq!(f.product(), Some("Macie"));
    assert_eq!(
        f.finding_type().as_str(),
        "Sensitive Data Identifications/PII/SensitiveData:S3Object-Personal"
    );
    assert_eq!(f.severity().value(), 7.0);
    assert_eq!(f.bucket_names(), ["example-customer-exports"]);
    let found: Vec<(&str, &str, u64)> = f
        .sensitive_data()
        .iter()
        .map(|d| {
            (
                d.category.as_deref().unwrap(),
                d.detection_type.as_deref().unwrap(),
                d.count.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("PERSONAL_INFORMATION", "USA_SOCIAL_SECURITY_NUMBER", 12),
            ("PERSONAL_INFORMATION", "NAME", 30),
            ("FINANCIAL_INFORMATION", "CREDIT_CARD_NUMBER", 3),
        ]
    );
    assert_eq!(
        f.sensitive_data()[0].resource.as_deref(),
        Some("arn:aws:s3:::example-customer-exports/2025/03/customers.csv")
    );
    let script = "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"Sensitive Data Identifications/*\";\n\
        const SOURCES = \"securityhub\";\n\
        fn decide(finding) { let n = 0; for d in finding.sensitive_data { if d.category == \"FINANCIAL_INFORMATION\" { n += d.count; } }\n\
        notify(\"security\", `${finding.product}: ${n} financial items in ${finding.bucket_names[0]}`) }\n";
    let set = PolicySet::from_sources([("macie", script)]).unwrap();
    let plan = set.evaluate(&f);
    let Action::Notify(n) = &plan.actions[0].action else {
        panic!("{plan:?}")
    };
    assert_eq!(
        n.message,
        "Macie: 3 financial items in example-customer-exports"
    );
}

#[test]
fn access_analyzer_is_read_generically_with_its_bucket() {
    let f: Finding = one(&fixture("products/access-analyzer-public-bucket.asff.json"));
    assert_eq!(f.source(), FindingSource::SecurityHub);
    assert_eq!(f.product(), Some("IAM Access Analyzer"));
    assert_eq!(f.severity().value(), 9.0, "Product 9");
    assert_eq!(f.bucket_names(), ["example-public-assets"]);
    assert_eq!(f.resource_type(), "S3Bucket");
    assert!(f.sensitive_data().is_empty() && f.vulnerabilities().is_empty());
    assert_eq!(
        f.json()["Resources"][0]["Details"]["Other"]["External Principal"],
        "*"
    );
}
