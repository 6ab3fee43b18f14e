//! Property tests: no input makes the parser panic.

use proptest::prelude::*;
use remedy::{Finding, parse_documents};

const SEEDS: &[&str] = &[
    include_str!("../fixtures/iam/malicious-ip-custom.raw.json"),
    include_str!("../fixtures/iam/malicious-ip-custom.eventbridge.json"),
    include_str!("../fixtures/iam/malicious-ip-custom.cli.json"),
    include_str!("../fixtures/iam/malicious-ip-custom.asff.json"),
    include_str!("../fixtures/iam/malicious-ip-custom.sechub-event.json"),
    include_str!("../fixtures/families/ssh-bruteforce-target.json"),
    include_str!("../fixtures/families/s3-bucket-malicious-ip.json"),
];

/// Uses everything a finding offers, so lazy paths (canonical JSON) run too.
fn exercise(f: &Finding) {
    let _ = (
        f.id(),
        f.finding_type().threat_family(),
        f.severity().band(),
        f.resource_type(),
    );
    let _ = (
        f.user_name(),
        f.access_key_id(),
        f.instance_ids(),
        f.remote_ip(),
        f.api(),
    );
    let _ = (
        f.bucket_names(),
        f.threat_list_name(),
        f.is_sample(),
        f.json().is_object(),
    );
}

fn parse_all(bytes: &[u8]) {
    for r in parse_documents(bytes, "prop") {
        match r {
            Ok(f) => exercise(&f),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let _ = Finding::from_slice(bytes);
}

/// Replacement values that probe the lenient deserializers.
fn odd_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!({})),
        Just(serde_json::json!([])),
        Just(serde_json::json!({"a": [1, {"b": null}]})),
        Just(serde_json::json!("XXXX-XX-XXTXX:XX:XXZ")),
        Just(serde_json::json!("2024-02-30T25:61:00Z")),
    ]
}

/// Paths (as key/index steps) of every value in a document.
fn paths(v: &serde_json::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                prefix.push(k.clone());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prefix.push(i.to_string());
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn replace_at(v: &mut serde_json::Value, path: &[String], new: serde_json::Value) {
    let mut node = v;
    for step in path {
        node = match node {
            serde_json::Value::Object(m) => m.get_mut(step).unwrap(),
            serde_json::Value::Array(a) => &mut a[step.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    *node = new;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_json_like_text_never_panics(text in r#"[\[\]{}":,0-9a-zA-Z \n-]{0,256}"#) {
        parse_all(text.as_bytes());
    }

    #[test]
    fn byte_mutations_of_valid_findings_never_panic(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = SEEDS[seed].as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        parse_all(&bytes);
        let end = cut.index(bytes.len());
        parse_all(&bytes[..end]);
    }

    #[test]
    fn value_replacements_in_valid_findings_never_panic(
        seed in 0..SEEDS.len(),
        replacements in proptest::collection::vec((any::<prop::sample::Index>(), odd_value()), 1..4),
    ) {
        let mut doc: serde_json::Value = serde_json::from_str(SEEDS[seed]).unwrap();
        for (at, new) in replacements {
            let mut all = Vec::new();
            paths(&doc, &mut Vec::new(), &mut all);
            let path = all[at.index(all.len())].clone();
            replace_at(&mut doc, &path, new);
        }
        let text = doc.to_string();
        parse_all(text.as_bytes());
        if let Ok(f) = Finding::from_json_value(doc) {
            exercise(&f);
        }
    }
}
