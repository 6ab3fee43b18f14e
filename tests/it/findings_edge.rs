//! Findings at the edges: bad inputs, limits, unknown fields, samples, and the public handle.

use remedy::finding::{FindingErrorKind, MAX_DOCUMENT_BYTES, SeverityBand, Shape, TypeGlob};
use remedy::{Finding, FindingType, Severity};

use super::findings::{one, read};

fn err_of(text: &str) -> remedy::FindingError {
    Finding::from_json_str(text).expect_err(text)
}

fn raw_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.raw.json")).unwrap();
    edit(&mut v);
    v.to_string()
}

#[test]
fn bad_inputs_give_clear_errors() {
    let e = err_of("{\"id\": ");
    assert!(matches!(e.kind(), FindingErrorKind::Syntax { .. }), "{e}");
    assert_eq!(e.path(), "$.id");

    let e = err_of(&raw_with(|v| {
        v.as_object_mut().unwrap().remove("type");
    }));
    assert_eq!(e.path(), "$.type");
    assert_eq!(
        e.to_string(),
        "at `$.type`: expected a finding type string, found nothing"
    );

    let e = err_of(&raw_with(|v| {
        v["severity"] = serde_json::json!({"value": 5})
    }));
    assert_eq!(
        e.to_string(),
        "at `$.severity`: expected a number from 0 to 10, found an object"
    );

    let e = err_of(&raw_with(|v| v["severity"] = serde_json::json!(11)));
    assert_eq!(e.path(), "$.severity");

    let e = err_of(&raw_with(|v| v["type"] = serde_json::json!("not a type")));
    assert_eq!(e.path(), "$.type");

    let e = err_of(&raw_with(|v| {
        v["service"]["count"] = serde_json::json!({"n": 1})
    }));
    assert_eq!(e.path(), "$.service.count");
    assert!(e.to_string().contains("found an object"), "{e}");

    let e = err_of(
        r#"{"version":"0","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"state":"running"}}"#,
    );
    assert!(matches!(e.kind(), FindingErrorKind::NotGuardDuty { .. }));
    assert!(
        e.to_string()
            .contains("EC2 Instance State-change Notification"),
        "{e}"
    );

    let e = err_of(r#"{"hello": "world"}"#);
    assert!(matches!(e.kind(), FindingErrorKind::NotGuardDuty { .. }));

    for empty in ["", "  \n\t "] {
        assert!(matches!(err_of(empty).kind(), FindingErrorKind::Empty));
    }
    assert!(matches!(
        err_of("{\"Findings\": []}").kind(),
        FindingErrorKind::NotGuardDuty { .. }
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = "[".repeat(200_000);
    assert!(Finding::from_json_str(&deep).is_err());
    // Nested through a field the typed parser descends into: serde_json's recursion limit.
    let deep = format!("{}1{}", "{\"detail\":".repeat(200_000), "}".repeat(200_000));
    let e = err_of(&deep);
    assert!(e.to_string().contains("nested more than 4 levels"), "{e}");
    assert!(e.path().len() < 1000, "path is shortened");
    // Nested under an unknown field: skipped without recursion, then reported as not a finding.
    let deep = format!("{}1{}", "{\"x\":".repeat(200_000), "}".repeat(200_000));
    assert!(Finding::from_json_str(&deep).is_err());
}

#[test]
fn documents_over_the_size_limit_are_rejected_before_parsing() {
    let mut big = raw_with(|_| {});
    big.insert_str(
        1,
        &format!("\"padding\": \"{}\",", "x".repeat(50 * 1024 * 1024)),
    );
    assert!(big.len() > MAX_DOCUMENT_BYTES);
    let started = std::time::Instant::now();
    let e = err_of(&big);
    assert!(
        matches!(e.kind(), FindingErrorKind::TooLarge { size, .. } if *size == big.len() as u64)
    );
    assert!(started.elapsed().as_millis() < 500);
}

#[test]
fn unknown_fields_nulls_and_string_numbers_are_accepted() {
    let text = raw_with(|v| {
        v["someNewField"] = serde_json::json!({"deeply": [1, 2, {"x": null}]});
        v["service"]["count"] = serde_json::json!("42");
        v["service"]["archived"] = serde_json::json!("true");
        v["severity"] = serde_json::json!("7.5");
        v["title"] = serde_json::Value::Null;
        v["updatedAt"] = serde_json::json!(1_718_098_611_208_u64);
        v["createdAt"] = serde_json::json!("2024-06-11 09:20:15.433");
        v["service"]["eventFirstSeen"] = serde_json::json!("XXXX-XX-XXTXX:XX:XXZ");
        v["resource"]["instanceDetails"] = serde_json::Value::Null;
    });
    let f = Finding::from_json_str(&text).unwrap();
    assert_eq!(f.count(), Some(42));
    assert!(f.archived());
    assert_eq!(f.severity().value(), 7.5);
    assert_eq!(f.severity().band(), SeverityBand::High);
    assert_eq!(f.title(), "");
    assert_eq!(f.updated_at().unwrap().unix_timestamp(), 1_718_098_611);
    assert_eq!(f.created_at().unwrap().unix_timestamp(), 1_718_097_615);
    assert_eq!(f.service().event_first_seen, None);
    assert_eq!(f.json()["someNewField"]["deeply"][1], 2);
}

#[test]
fn sample_detection() {
    let sample = |edit: fn(&mut serde_json::Value)| {
        Finding::from_json_str(&raw_with(edit)).unwrap().is_sample()
    };
    assert!(!sample(|_| {}));
    assert!(sample(
        |v| v["service"]["additionalInfo"] = serde_json::json!({"sample": true})
    ));
    assert!(sample(
        |v| v["service"]["additionalInfo"] =
            serde_json::json!({"value": "{\"sample\":true}", "type": "default"})
    ));
    assert!(!sample(
        |v| v["service"]["additionalInfo"] = serde_json::json!({"value": "{\"sample\":false}"})
    ));
    assert!(sample(|v| v["resource"]["accessKeyDetails"]["userName"] =
        serde_json::json!("GeneratedFindingUserName")));
    assert!(sample(
        |v| v["resource"]["accessKeyDetails"]["accessKeyId"] =
            serde_json::json!("GeneratedFindingAccessKeyId")
    ));
    let mut asff: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.asff.json")).unwrap();
    assert!(!Finding::from_json_value(asff.clone()).unwrap().is_sample());
    asff["Sample"] = serde_json::json!(true);
    assert!(Finding::from_json_value(asff).unwrap().is_sample());
}

#[test]
fn finding_is_a_cheap_shareable_handle() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Finding>();
    let f = one("iam/malicious-ip-custom.eventbridge.json");
    let g = f.clone();
    let handle = std::thread::spawn(move || g.json()["id"].as_str().unwrap().to_owned());
    assert_eq!(handle.join().unwrap(), f.id());
    assert!(format!("{f:?}").contains("MaliciousIPCaller"));
}

#[test]
fn types_globs_and_bands_from_the_public_api() {
    let t: FindingType = "Backdoor:EC2/C&CActivity.B!DNS".parse().unwrap();
    assert!(t.matches(&TypeGlob::new("Backdoor:*")));
    assert!(t.matches(&TypeGlob::new("*!DNS")));
    assert!(!t.matches(&TypeGlob::new("Backdoor:EC2/C&CActivity.B")));
    assert_eq!(
        TypeGlob::new("UnauthorizedAccess:IAMUser/*").literal_prefix(),
        "UnauthorizedAccess:IAMUser/"
    );
    assert_eq!(Severity::new(3.95).unwrap().band(), SeverityBand::Low);
    assert_eq!(
        "critical".parse::<SeverityBand>().unwrap(),
        SeverityBand::Critical
    );
    assert_eq!(Shape::Asff.to_string(), "asff");
}
