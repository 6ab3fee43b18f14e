//! The [`AuditSink`] suite: every kind of record is accepted, also from racing tasks; records
//! read back in the order they were written; a sink that cannot record returns errors rather than
//! panicking.
//!
//! A sink has no way to read back in the trait: [`read_back`] and [`all`] take a function that
//! returns what the sink holds, one JSON object per record, in order (the lines of a JSON Lines
//! file, the items of a log stream, a memory sink's records serialized). The objects read may
//! carry more fields than were written (a chain's `prev`, a seal); every written field must be
//! there, equal. The checks write records of their own, with finding ids no other run uses, so a
//! sink need not be empty; other records between them are ignored.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{AuditSink, MemoryAudit, UnavailableAudit};
//! use remedy::store::audit::AuditError;
//! use remedy::testing::conformance::audit;
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_sink_conforms() {
//!     // Your sink here, and how to read back what it holds.
//!     let memory = MemoryAudit::new();
//!     let sink: Arc<dyn AuditSink> = Arc::new(memory.clone());
//!     let read = async || {
//!         let records = memory.records();
//!         records.iter().map(|r| serde_json::to_value(r).unwrap()).collect()
//!     };
//!     audit::all(sink, read).await.unwrap();
//!     // And your sink when it cannot record (its file full, its stream gone).
//!     let broken = UnavailableAudit::new(AuditError::new("mine", "the disk is full"));
//!     audit::fails_cleanly(Arc::new(broken)).await.unwrap();
//! }
//! # fn main() { let _ = my_sink_conforms(); }
//! ```

use std::sync::Arc;

use serde_json::Value;

use super::{Check, ConformanceError, unique};
use crate::action::Outcome;
use crate::plan::{Action, FailureKind, Notify, Plan, PolicyFailure, Source};
use crate::store::approval::approval_id;
use crate::store::audit::{
    ActionRecord, ApprovalEvent, ApprovalRecord, AuditRecord, AuditSink, DecisionRecord, Guard,
    GuardResult, IntentRecord, Mode, PolicyFailureRecord,
};
use crate::store::ledger::{LedgerKey, Owner};

const SUITE: &str = "audit";

/// Runs [`accepts`] and [`read_back`] on `sink`, reading back with `read`.
pub async fn all(
    sink: Arc<dyn AuditSink>,
    read: impl AsyncFnMut() -> Vec<Value>,
) -> Result<(), ConformanceError> {
    accepts(Arc::clone(&sink)).await?;
    read_back(sink, read).await
}

/// One record of each kind (decision, intent, action, policy failure, approval), one after the
/// other, then eight racing records: every one is accepted, and none panics.
pub async fn accepts(sink: Arc<dyn AuditSink>) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "accepts");
    for record in samples(c, &unique("accepts"))? {
        let kind = kind_of(&record);
        let sink = Arc::clone(&sink);
        let recorded = tokio::spawn(async move { sink.record(&record).await }).await;
        c.ok(c.joined(recorded)?, &format!("a {kind} record"))?;
    }
    let racing = record_racing(c, &sink, &unique("accepts-racing")).await?;
    for (kind, recorded) in racing {
        c.ok(recorded, &format!("a racing {kind} record"))?;
    }
    Ok(())
}

/// One record of each kind written one after the other reads back in that order, each with every
/// field it was written with; eight racing records all read back (in any order).
pub async fn read_back(
    sink: Arc<dyn AuditSink>,
    mut read: impl AsyncFnMut() -> Vec<Value>,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "read_back");
    let written = samples(c, &unique("in-order"))?;
    for record in &written {
        c.ok(
            sink.record(record).await,
            &format!("a {} record", kind_of(record)),
        )?;
    }
    let racing_marker = unique("racing");
    for (kind, recorded) in record_racing(c, &sink, &racing_marker).await? {
        c.ok(recorded, &format!("a racing {kind} record"))?;
    }
    let held = read().await;

    // In order: each written record is found after the one before it.
    let mut from = 0;
    for record in &written {
        let expected = c.ok(serde_json::to_value(record), "encoding a record")?;
        let found = held
            .iter()
            .skip(from)
            .position(|h| contains(h, &expected))
            .map(|at| from + at);
        let Some(at) = found else {
            let earlier = held.iter().take(from).any(|h| contains(h, &expected));
            return Err(c.fail(if earlier {
                format!("the {} record reads back before the record written before it", kind_of(record))
            } else {
                format!(
                    "the {} record does not read back with every field it was written with: {expected}",
                    kind_of(record)
                )
            }));
        };
        from = at + 1;
    }

    // Racing: all eight there.
    let racing = held
        .iter()
        .filter(|h| {
            h.get("finding_id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.starts_with(racing_marker.as_str()))
        })
        .count();
    c.equal(racing, 8, "racing records read back")
}

/// `sink` is one that cannot record (yours with its disk full, its stream gone, its credentials
/// refused; remedy's [`UnavailableAudit`](crate::store::UnavailableAudit) always): every kind of
/// record, written one after the other or racing, is an error with a message, and none panics.
pub async fn fails_cleanly(sink: Arc<dyn AuditSink>) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "fails_cleanly");
    let mut results = Vec::new();
    for record in samples(c, &unique("fails"))? {
        let kind = kind_of(&record);
        let sink = Arc::clone(&sink);
        let recorded = tokio::spawn(async move { sink.record(&record).await }).await;
        results.push((kind, c.joined(recorded)?));
    }
    results.extend(record_racing(c, &sink, &unique("fails-racing")).await?);
    for (kind, recorded) in results {
        match recorded {
            Ok(()) => {
                return Err(c.fail(format!(
                    "a sink that cannot record accepted a {kind} record"
                )));
            }
            Err(e) => c.ensure(!e.message.trim().is_empty(), || {
                format!("the error of a {kind} record says nothing: {e}")
            })?,
        }
    }
    Ok(())
}

/// Eight records (action records of eight findings whose ids start with `marker`) written by
/// racing tasks; what came of each.
async fn record_racing(
    c: Check,
    sink: &Arc<dyn AuditSink>,
    marker: &str,
) -> Result<Vec<(&'static str, Result<(), crate::store::AuditError>)>, ConformanceError> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let records = samples(c, &format!("{marker}-{i}"))?;
        let Some(record) = records
            .into_iter()
            .find(|r| matches!(r, AuditRecord::Action(_)))
        else {
            return Err(c.fail("the sample records have no action record"));
        };
        let sink = Arc::clone(sink);
        tasks.spawn(async move { sink.record(&record).await });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(("action", c.joined(joined)?));
    }
    Ok(results)
}

/// Whether `held` has every field of `written`, equal (objects may have more fields; other
/// values are equal).
fn contains(held: &Value, written: &Value) -> bool {
    match (held, written) {
        (Value::Object(held), Value::Object(written)) => written
            .iter()
            .all(|(k, w)| held.get(k).is_some_and(|h| contains(h, w))),
        _ => held == written,
    }
}

fn kind_of(record: &AuditRecord) -> &'static str {
    match record {
        AuditRecord::Decision(_) => "decision",
        AuditRecord::Intent(_) => "intent",
        AuditRecord::Action(_) => "action",
        AuditRecord::PolicyFailure(_) => "policy failure",
        AuditRecord::Approval(_) => "approval",
    }
}

/// One record of each kind for a finding `finding_id`, in the order a run writes them; the texts
/// hold characters a terminal would act on, as a hostile finding's may.
fn samples(c: Check, finding_id: &str) -> Result<Vec<AuditRecord>, ConformanceError> {
    let time = || "2026-12-01T00:00:00Z".to_owned();
    let finding = c.ok(
        crate::testing::context(finding_id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller"),
        "a finding context",
    )?;
    let action = Action::Notify(Notify {
        channel: "security".into(),
        message: "key used from \u{202e}a threat list\u{1b}[31m \"quoted\"\n".into(),
    });
    let source = Source {
        policy: "p".into(),
        version: "v1".into(),
        reason: Some("a reason".into()),
        line: Some(3),
    };
    let mut plan = Plan::new(finding.clone(), "v1");
    plan.push(action.clone(), source.clone());
    let Some(planned) = plan.actions.last().cloned() else {
        return Err(c.fail("a plan with one action has none"));
    };
    let key = LedgerKey::new(&finding, &planned);
    let intent = format!("{finding_id}-intent");
    Ok(vec![
        AuditRecord::Decision(DecisionRecord {
            time: time(),
            mode: Mode::Enforce,
            plan,
        }),
        AuditRecord::PolicyFailure(PolicyFailureRecord {
            time: time(),
            mode: Mode::Enforce,
            finding_id: Arc::clone(&finding.id),
            finding_type: finding.finding_type.clone(),
            account_id: finding.account_id.clone(),
            region: finding.region.clone(),
            failure: PolicyFailure {
                policy: "q".into(),
                file: Some("q.rhai".into()),
                kind: FailureKind::default(),
                message: "a runtime error".into(),
                line: Some(7),
                column: Some(2),
            },
        }),
        AuditRecord::Approval(Box::new(ApprovalRecord {
            time: time(),
            event: ApprovalEvent::Requested,
            approval_id: approval_id(&key),
            finding_id: Arc::clone(&finding.id),
            account_id: finding.account_id.clone(),
            kind: action.kind(),
            target: action.target(),
            policy: "p".into(),
            channel: "security".into(),
            expires: "2026-12-01T01:00:00Z".into(),
            on_timeout: "deny".into(),
            by: None,
            note: None,
        })),
        AuditRecord::Intent(Box::new(IntentRecord {
            time: time(),
            intent: intent.clone(),
            owner: Owner::current().clone(),
            key,
            finding: finding.clone(),
            action: planned,
        })),
        AuditRecord::Action(ActionRecord {
            time: time(),
            mode: Mode::Enforce,
            finding_id: Arc::clone(&finding.id),
            finding_type: finding.finding_type.clone(),
            account_id: finding.account_id.clone(),
            region: finding.region.clone(),
            kind: action.kind(),
            target: action.target(),
            params: action.params(),
            policy: "p".into(),
            policy_version: "v1".into(),
            sources: vec![source],
            guards: vec![GuardResult {
                guard: Guard::Ledger,
                passed: true,
                detail: Some("claimed".into()),
            }],
            outcome: Outcome::Executed {
                details: "sent".into(),
                undo: None,
            },
            intent: Some(intent),
            closes: None,
            duration_ms: 3,
        }),
    ])
}
