//! The JSON of plans and action records keeps its format: a plan (a key disabled, the finding
//! resolved and archived, a notification) and the records of a run over the in-memory executors, compared field by field with the files in `tests/fixtures/golden/`
//! (times, durations and run ids replaced by placeholders). `REMEDY_BLESS=1` rewrites the files
//! after a deliberate change of format.

use std::path::PathBuf;
use std::sync::Arc;

use remedy::id::{AccessKeyId, UserName};
use remedy::plan::{
    ArchiveFinding, DisableAccessKey, Notify, Principal, Source, UpdateFinding, WorkflowStatus,
};
use remedy::store::ledger::MemoryLedger;
use remedy::testing::{InMemory, context};
use remedy::{Action, ActionKind, Plan};
use serde_json::Value;

fn plan() -> Plan {
    let mut finding = context("f-golden", "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    finding.account_id = "123456789012".into();
    finding.region = "us-east-1".into();
    finding.principal = Some(Principal {
        user_name: Some("alice".into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal_id: None,
    });
    let mut plan = Plan::new(finding, "v1");
    let source = Source {
        policy: "disable-key".into(),
        version: "v1".into(),
        reason: Some("used from a malicious IP".into()),
        line: Some(7),
    };
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new("alice").unwrap(),
            access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
        }),
        source.clone(),
    );
    // The bundled key policy's write-back, after the disable.
    plan.push(
        Action::UpdateFinding(UpdateFinding {
            status: WorkflowStatus::Resolved,
            note: "remedy disabled access key AKIAIOSFODNN7EXAMPLE of IAM user alice".into(),
        }),
        source.clone(),
    );
    plan.push(Action::ArchiveFinding(ArchiveFinding {}), source.clone());
    plan.push(
        Action::Notify(Notify {
            channel: "security".into(),
            message: "key of alice disabled".into(),
        }),
        source,
    );
    plan
}

/// `value` with what changes from run to run replaced.
fn stable(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match k.as_str() {
                        "time" | "at" | "duration_ms" | "intent" => *v = Value::from("<varies>"),
                        _ => walk(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::String(s) if s.contains("claimed by run") || s.contains(" run ") => {
                *s = "<varies>".into();
            }
            _ => {}
        }
    }
    walk(&mut value);
    value
}

fn golden(name: &str, actual: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/golden/{name}.json"));
    if std::env::var_os("REMEDY_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        actual,
        &expected,
        "{name} changed format:\n{}",
        serde_json::to_string_pretty(actual).unwrap()
    );
}

#[tokio::test]
async fn plans_and_records_keep_their_json() {
    let plan = plan();
    golden("plan", &stable(serde_json::to_value(&plan).unwrap()));
    let world = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    // `update_finding` on, `archive_finding` off: an executed write-back and a `not_enabled` skip.
    let report = world
        .remediator()
        .with_ledger(Arc::new(MemoryLedger::new()))
        .with_writeback_kinds([ActionKind::UPDATE_FINDING])
        .enforce(true)
        .build()
        .run(&plan)
        .await;
    let records: Vec<Value> = report
        .actions
        .iter()
        .map(|r| stable(serde_json::to_value(r).unwrap()))
        .collect();
    golden("records", &Value::Array(records));
}
