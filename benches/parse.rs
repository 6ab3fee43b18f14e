#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! Typed parsing per shape against the floor: serde_json into `IgnoredAny` on the same bytes.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use remedy::Finding;
use serde::de::IgnoredAny;

const SHAPES: &[(&str, &str)] = &[
    (
        "eventbridge",
        include_str!("../tests/fixtures/iam/malicious-ip-custom.eventbridge.json"),
    ),
    (
        "raw",
        include_str!("../tests/fixtures/iam/malicious-ip-custom.raw.json"),
    ),
    (
        "cli",
        include_str!("../tests/fixtures/iam/malicious-ip-custom.cli.json"),
    ),
    (
        "asff",
        include_str!("../tests/fixtures/iam/malicious-ip-custom.asff.json"),
    ),
    (
        "eventbridge-instance",
        include_str!("../tests/fixtures/families/ec2-backdoor-cc-dns.json"),
    ),
];

fn parse(c: &mut Criterion) {
    for (name, text) in SHAPES {
        let bytes = text.as_bytes();
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(criterion::Throughput::Bytes(bytes.len() as u64));
        group.bench_function("ignored_any_floor", |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(bytes)).unwrap())
        });
        group.bench_function("typed", |b| {
            b.iter(|| Finding::from_slice(black_box(bytes)).unwrap())
        });
        group.bench_function("typed_then_json", |b| {
            b.iter(|| {
                let f = Finding::from_slice(black_box(bytes)).unwrap();
                black_box(f.json().is_object())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
