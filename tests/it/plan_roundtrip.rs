//! A plan is self-contained: serialized to JSON and read back (or replayed from the audit trail's
//! decision record) it runs exactly like the original.

use std::sync::Arc;

use remedy::plan::PLAN_SCHEMA;
use remedy::store::audit::{AuditRecord, JsonLinesAudit};
use remedy::testing::InMemory;
use remedy::{Finding, Plan, PolicySet, Report, Status};
use serde_json::Value;

fn policies() -> PolicySet {
    PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies")).unwrap()
}

fn findings() -> Vec<Finding> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/findings");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Finding::from_json_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

/// The records of a report without what differs between two runs (times, durations, and the
/// intent ids, which are unique in the process).
fn records(report: &Report) -> Vec<Value> {
    report
        .actions
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("time");
            o.remove("duration_ms");
            o.remove("intent");
            v
        })
        .collect()
}

/// Runs `plan` enforced against fresh in-memory AWS with the keys it wants to disable.
async fn enforce(plan: &Plan) -> (Report, InMemory) {
    let aws = InMemory::new().with_keys_of(plan);
    let report = aws.enforce(plan).await;
    (report, aws)
}

#[tokio::test]
async fn a_plan_read_back_from_json_runs_like_the_original() {
    let set = policies();
    let mut executed = 0;
    for finding in findings() {
        let plan = set.evaluate(&finding);
        assert_eq!(plan.schema, PLAN_SCHEMA);
        let json = serde_json::to_string(&plan).unwrap();
        let back = Plan::from_json_str(&json).unwrap();
        assert_eq!(back, plan, "{json}");

        let (original, aws1) = enforce(&plan).await;
        let (replayed, aws2) = enforce(&back).await;
        assert_eq!(records(&original), records(&replayed), "{}", finding.id());
        assert_eq!(aws1.ssm.commands().len(), aws2.ssm.commands().len());
        assert_eq!(aws1.notifier.messages(), aws2.notifier.messages());
        executed += original.count(Status::Executed);
    }
    // The sample findings are not all no-ops: keys were disabled and messages sent.
    assert!(executed >= 5, "{executed}");
}

#[tokio::test]
async fn a_decision_record_of_the_audit_trail_replays_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let set = policies();
    let finding = findings().into_iter().next().unwrap();
    let plan = set.evaluate(&finding);
    let aws = InMemory::new().with_keys_of(&plan);
    let remediator = aws
        .remediator()
        .with_audit(Arc::new(JsonLinesAudit::open(&path).unwrap()))
        .build();
    remediator.run(&plan).await;

    let text = std::fs::read_to_string(&path).unwrap();
    let decision = text
        .lines()
        .find(|l| l.contains("\"record\":\"decision\""))
        .unwrap();
    let replayed = Plan::from_json_str(decision).unwrap();
    assert_eq!(replayed, plan);
    let (a, _) = enforce(&plan).await;
    let (b, _) = enforce(&replayed).await;
    assert_eq!(records(&a), records(&b));

    // The decision record is the plan plus when and how it was run, chained in the trail.
    let mut value: Value = serde_json::from_str(decision).unwrap();
    assert_eq!(
        value.as_object_mut().unwrap().remove("prev").unwrap(),
        "start",
        "the first line of a trail starts its chain"
    );
    assert_eq!(value["mode"], "dry_run");
    assert!(value["time"].is_string());
    assert_eq!(value["finding_id"], finding.id());
    assert_eq!(value["account_id"], finding.account_id());
    let record: AuditRecord = AuditRecord::Decision(remedy::store::audit::DecisionRecord {
        time: value["time"].as_str().unwrap().to_owned(),
        mode: remedy::store::audit::Mode::DryRun,
        plan: replayed,
    });
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        value,
        "the record round-trips field for field"
    );
}
