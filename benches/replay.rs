#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Replay cost per finding against one `remedy eval` of the candidate: the bundled policies
//! against a copy with one policy changed, on the corpus-style fixture finding.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use remedy::replay::{Replay, Summary};
use remedy::{Finding, PolicySet};

const FINDING: &str = include_str!("../tests/fixtures/policy/iam-malicious-ip.json");
const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

fn bench(c: &mut Criterion) {
    let finding = Finding::from_json_str(FINDING).unwrap();
    let old = PolicySet::from_dir(POLICIES).unwrap();
    let new = std::sync::Arc::new(PolicySet::from_dir(POLICIES).unwrap());
    let replay = Replay::new(old, std::sync::Arc::clone(&new));
    let mut g = c.benchmark_group("replay");
    g.bench_function("eval_new_set", |b| {
        b.iter(|| new.evaluate(black_box(&finding)))
    });
    g.bench_function("compare_both_sets", |b| {
        b.iter(|| replay.compare(black_box(&finding)))
    });
    g.bench_function("compare_and_count", |b| {
        let mut summary = Summary::new();
        b.iter(|| summary.add(&replay.compare(black_box(&finding))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
