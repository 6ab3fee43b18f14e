//! A finding of one source never reads as another: every string of a document of each source
//! rewritten to spoofed values, and to random text.

use std::path::PathBuf;

use proptest::prelude::*;
use remedy::finding::FindingSource;
use remedy::parse_documents;
use serde_json::{Value, json};

use super::fixture;

/// Documents of each source, to mutate.
fn seeds() -> Vec<(FindingSource, Value)> {
    let read =
        |p: PathBuf| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    vec![
        (
            FindingSource::GuardDuty,
            read(fixture("sequence/iam-compromised-credentials.json")),
        ),
        (
            FindingSource::GuardDuty,
            read(fixture("iam/malicious-ip-custom.asff.json")),
        ),
        // Another product's finding with GuardDuty's type: only `ProductArn` tells them apart.
        (FindingSource::SecurityHub, {
            let mut doc = read(fixture("asff-other-product-only.json"));
            doc["Findings"][0]["Types"] = json!(["TTPs/Discovery/Recon:IAMUser-UserPermissions"]);
            doc["Findings"][0]["ProductFields"] =
                json!({"aws/securityhub/ProductName": "Inspector"});
            doc
        }),
        (
            FindingSource::Ocsf,
            json!({"class_uid": 2002, "severity_id": 5,
                   "finding_info": {"uid": "f", "types": ["TTPs/Discovery/Recon:IAMUser-UserPermissions"]},
                   "metadata": {"product": {"name": "Inspector"}}}),
        ),
        (
            FindingSource::GuardDutyMalwareScan,
            json!({"id": "e", "detail-type": "GuardDuty Malware Protection Object Scan Result",
                   "source": "aws.guardduty",
                   "detail": {"scanStatus": "COMPLETED", "scanResultDetails": {"scanResultStatus": "THREATS_FOUND"}}}),
        ),
    ]
}

/// Every string value's path in `v`.
fn string_paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(format!("/{}", at.join("/"))),
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.replace('~', "~0").replace('/', "~1"));
                string_paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                string_paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The texts an attacker would write to pass as another source.
const SPOOFS: [&str; 7] = [
    "GuardDuty",
    "arn:aws:securityhub:us-east-1::product/aws/guardduty",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "GuardDuty Finding",
    "Findings Imported V2",
    "aws.guardduty",
    "Inspector",
];

/// Rewrites the string at `path` to `text` and checks that every finding read keeps `source`.
/// The keys that decide the shape or the product are the document's claim about itself, not free
/// text, and are left alone: `ProductArn` (Security Hub sets it from the integration),
/// `detail-type` and `source` (EventBridge sets them).
fn keeps_its_source(
    source: FindingSource,
    doc: &Value,
    path: &str,
    text: &str,
) -> Result<(), String> {
    if path.ends_with("/ProductArn") || path == "/detail-type" || path == "/source" {
        return Ok(());
    }
    let mut doc = doc.clone();
    *doc.pointer_mut(path).unwrap() = Value::String(text.to_owned());
    let batch = parse_documents(doc.to_string().as_bytes(), "prop");
    for f in batch.findings() {
        if f.source() != source {
            return Err(format!(
                "{} read as {} after `{path}` = {text:?}",
                f.finding_type(),
                f.source()
            ));
        }
    }
    Ok(())
}

#[test]
fn no_spoofed_field_makes_a_finding_read_as_another_source() {
    for (source, doc) in seeds() {
        let mut paths = Vec::new();
        string_paths(&doc, &mut Vec::new(), &mut paths);
        for path in &paths {
            for text in SPOOFS {
                keeps_its_source(source, &doc, path, text).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Rewriting any one string value (a product name, a type, a title, an id) to any text never
    /// turns a finding of one source into a finding of another.
    #[test]
    fn a_finding_of_one_source_never_reads_as_another(
        seed in 0usize..5,
        pick in any::<prop::sample::Index>(),
        text in ".{0,24}",
    ) {
        let (source, doc) = seeds().swap_remove(seed);
        let mut paths = Vec::new();
        string_paths(&doc, &mut Vec::new(), &mut paths);
        let path = pick.get(&paths).clone();
        let kept = keeps_its_source(source, &doc, &path, &text);
        prop_assert!(kept.is_ok(), "{}", kept.unwrap_err());
    }
}
