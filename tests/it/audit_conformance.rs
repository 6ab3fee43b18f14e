//! One contract for every audit sink, the public suite `remedy::testing::conformance::audit`:
//! every kind of record is accepted (also from racing tasks) and reads back in order with every
//! field it was written with, and a sink that cannot record returns errors rather than panicking.
//! Runs against memory (plain and boxed) and the JSON Lines file; the failing sinks are
//! [`UnavailableAudit`] and, on Linux, a JSON Lines file on `/dev/full`.

use std::path::Path;
use std::sync::Arc;

use remedy::store::audit::{AuditError, AuditSink, JsonLinesAudit, MemoryAudit, UnavailableAudit};
use remedy::testing::conformance;
use serde_json::Value;

/// How to read back what a sink holds, one JSON object per record.
#[derive(Clone)]
enum Reader {
    Memory(MemoryAudit),
    File(std::path::PathBuf),
}

impl Reader {
    fn read(&self) -> Vec<Value> {
        match self {
            Reader::Memory(m) => m
                .records()
                .iter()
                .map(|r| serde_json::to_value(r).unwrap())
                .collect(),
            Reader::File(path) => lines(path),
        }
    }
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A sink under test: its name, the sink, how to read it back, and what it keeps.
type Backend = (
    &'static str,
    Arc<dyn AuditSink>,
    Reader,
    Option<tempfile::TempDir>,
);

/// The sinks under test, each fresh.
fn backends() -> Vec<Backend> {
    let memory = MemoryAudit::new();
    let boxed = MemoryAudit::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit").join("trail.jsonl");
    let file = JsonLinesAudit::open(&path).unwrap();
    vec![
        (
            "memory",
            Arc::new(memory.clone()),
            Reader::Memory(memory),
            None,
        ),
        (
            "boxed memory",
            Arc::new(Box::new(boxed.clone())),
            Reader::Memory(boxed),
            None,
        ),
        ("file", Arc::new(file), Reader::File(path), Some(dir)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_accepted_also_racing() {
    for (name, sink, _, _dir) in backends() {
        if let Err(e) = conformance::audit::accepts(sink).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_read_back_in_order_with_every_field() {
    for (name, sink, reader, _dir) in backends() {
        if let Err(e) = conformance::audit::read_back(sink, async || reader.read()).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_every_check_on_one_sink() {
    for (name, sink, reader, _dir) in backends() {
        if let Err(e) = conformance::audit::all(sink, async || reader.read()).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_cannot_record_says_so_and_does_not_panic() {
    let unavailable = UnavailableAudit::new(AuditError::new("nowhere", "cannot open: gone"));
    conformance::audit::fails_cleanly(Arc::new(unavailable))
        .await
        .unwrap();
    // A full disk: every write of the JSON Lines file fails.
    if cfg!(target_os = "linux") && Path::new("/dev/full").exists() {
        let full = JsonLinesAudit::open("/dev/full").unwrap();
        conformance::audit::fails_cleanly(Arc::new(full))
            .await
            .unwrap();
    } else {
        eprintln!("the full-disk audit sink not tested: no /dev/full");
    }
}

/// The suite fails a sink that does not keep what it accepted, and one that accepts records it
/// cannot write: the checks check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_a_sink_that_breaks_the_contract() {
    let memory = MemoryAudit::new();
    let sink: Arc<dyn AuditSink> = Arc::new(memory.clone());
    // Reads back nothing: not kept.
    let e = conformance::audit::read_back(Arc::clone(&sink), async || Vec::new())
        .await
        .unwrap_err();
    assert_eq!((e.suite, e.check), ("audit", "read_back"), "{e}");
    // Reads back in reverse: out of order.
    let reversed = async || {
        let mut all = Reader::Memory(memory.clone()).read();
        all.reverse();
        all
    };
    let e = conformance::audit::read_back(Arc::clone(&sink), reversed)
        .await
        .unwrap_err();
    assert!(e.message.contains("before"), "{e}");
    // Accepts what it cannot record.
    let e = conformance::audit::fails_cleanly(sink).await.unwrap_err();
    assert!(e.message.contains("accepted"), "{e}");
}
