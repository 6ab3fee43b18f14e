#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Policy evaluation cost: one matching policy, 20 policies, 100 and 1000 policies of which 5
//! match (the prefilter keeps the rest free), compiling 100 policies, a typed parse of the same
//! finding for the ratio, and parse + one matching policy end to end.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use remedy::{Finding, PolicySet};

const FINDING: &str = include_str!("../tests/fixtures/policy/iam-malicious-ip.json");

/// A policy like the bundled ones: reads a few properties and returns two actions.
fn matching(i: usize) -> (String, String) {
    (
        format!("match-{i:04}"),
        format!(
            r#"
const DESCRIPTION = "disable a key used from a threat-list address ({i})";
const APPLIES_TO = ["UnauthorizedAccess:IAMUser/MaliciousIPCaller*"];
const MIN_SEVERITY = 2.0;
fn decide(finding) {{
    if finding.sample {{ return notify("security", "sample"); }}
    [
        disable_access_key(finding.user_name, finding.access_key_id, "threat list"),
        notify("security", `key ${{finding.access_key_id}} of ${{finding.user_name}} disabled ({i})`),
    ]
}}
"#
        ),
    )
}

/// A policy for another finding type: exact types and globs with distinct literal prefixes.
fn other(i: usize) -> (String, String) {
    let applies = if i.is_multiple_of(2) {
        format!("\"Recon:EC2/Type{i}\"")
    } else {
        format!("\"Backdoor:EC2/Family{i}.*\"")
    };
    (
        format!("other-{i:04}"),
        format!(
            "const DESCRIPTION = \"other {i}\";\nconst APPLIES_TO = {applies};\nfn decide(finding) {{ notify(\"security\", finding.id) }}\n"
        ),
    )
}

fn set(matching_n: usize, total: usize) -> PolicySet {
    let sources: Vec<_> = (0..matching_n)
        .map(matching)
        .chain((matching_n..total).map(other))
        .collect();
    PolicySet::from_sources(sources).unwrap()
}

fn bench(c: &mut Criterion) {
    let finding = Finding::from_json_str(FINDING).unwrap();
    let mut g = c.benchmark_group("evaluate");
    g.bench_function("parse_typed_finding", |b| {
        b.iter(|| Finding::from_json_str(black_box(FINDING)).unwrap())
    });
    for (name, matching_n, total) in [
        ("1_matching_of_1", 1, 1),
        ("20_matching_of_20", 20, 20),
        ("5_matching_of_20", 5, 20),
        ("5_matching_of_100", 5, 100),
        ("5_matching_of_1000", 5, 1000),
    ] {
        let set = set(matching_n, total);
        let plan = set.evaluate(&finding);
        assert_eq!(plan.evaluated.len(), matching_n);
        assert!(plan.errors.is_empty(), "{plan:?}");
        g.bench_function(name, |b| b.iter(|| set.evaluate(black_box(&finding))));
        if matching_n == 1 {
            // End to end: the finding's JSON to the plan.
            g.bench_function("parse_and_1_matching", |b| {
                b.iter(|| set.evaluate(&Finding::from_json_str(black_box(FINDING)).unwrap()))
            });
        }
    }
    // The floor: a policy that reads nothing and decides nothing.
    let trivial = PolicySet::from_sources([(
        "trivial",
        "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; fn decide(finding) { () }",
    )])
    .unwrap();
    g.bench_function("1_trivial_policy", |b| {
        b.iter(|| trivial.evaluate(black_box(&finding)))
    });
    let sources: Vec<_> = (0..5).map(matching).chain((5..100).map(other)).collect();
    g.sample_size(10);
    g.bench_function("compile_100_policies", |b| {
        b.iter(|| PolicySet::from_sources(black_box(sources.clone())).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
