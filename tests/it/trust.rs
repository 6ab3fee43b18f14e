//! Nothing on disk is trusted: forged, edited, reordered and removed audit lines are found by
//! `remedy audit verify` and refused by undo; edited approval requests and removed decisions are
//! refused.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use remedy::config::ApprovalConfig;
use remedy::id::{AccessKeyId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, Principal, Source};
use remedy::store::approval::{ApprovalError, FileApprovals};
use remedy::store::audit::{
    AuditKey, JsonLinesAudit, UndoChecks, UndoError, line_hash, undo_plan, verify,
};
use remedy::store::ledger::MemoryLedger;
use remedy::testing::{InMemory, context};
use remedy::{Action, Plan, Status};

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn finding(id: &str) -> FindingContext {
    let mut f = context(id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    f.principal = Some(Principal {
        user_name: Some(USER.into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some(KEY.into()),
        principal_id: None,
    });
    f
}

fn disable(id: &str) -> Plan {
    let mut plan = Plan::new(finding(id), "v");
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new(USER).unwrap(),
            access_key_id: AccessKeyId::new(KEY).unwrap(),
        }),
        Source {
            policy: "disable-key".into(),
            version: "v1".into(),
            reason: None,
            line: None,
        },
    );
    plan
}

/// A trail at `path` holding one executed `disable_access_key` (sealed with `key`, if any); its
/// record id.
async fn executed_trail(path: &Path, key: Option<AuditKey>) -> String {
    let world = InMemory::new().with_key(USER, KEY);
    let audit = JsonLinesAudit::open(path).unwrap();
    let audit = match key {
        Some(key) => audit.with_key(key),
        None => audit,
    };
    let report = world
        .remediator()
        .with_audit(Arc::new(audit))
        .with_ledger(Arc::new(MemoryLedger::new()))
        .enforce(true)
        .build()
        .run(&disable("f-1"))
        .await;
    let record = &report.actions[0];
    assert_eq!(record.outcome.status(), Status::Executed, "{record:?}");
    record.intent.clone().unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The two forged lines of the attack: copies of the trail's real intent and action records made
/// to name bob's key and carry `undo` as their reversal, appended after the trail's last line with
/// the chain (the attacker knows the scheme) or without.
fn forge(trail: &[String], intent: &str, undo: serde_json::Value, chained: bool) -> Vec<String> {
    let real = |record: &str| -> serde_json::Value {
        let line = trail
            .iter()
            .find(|l| l.contains(&format!("\"record\":\"{record}\"")))
            .unwrap();
        let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = value.as_object_mut().unwrap();
        object.remove("prev");
        object.remove("mac");
        value
    };
    let rename = |value: &serde_json::Value| -> serde_json::Value {
        let text = serde_json::to_string(value)
            .unwrap()
            .replace(USER, "bob")
            .replace(KEY, "AKIAIOSFODNN7BOBBBBB");
        serde_json::from_str(&text).unwrap()
    };
    let mut intent_line = rename(&real("intent"));
    intent_line["intent"] = intent.into();
    let mut action_line = rename(&real("action"));
    action_line["intent"] = intent.into();
    action_line["outcome"]["undo"] = undo;
    let mut out = trail.to_vec();
    for value in [intent_line, action_line] {
        let text = serde_json::to_string(&value).unwrap();
        let line = if chained {
            let prev = line_hash(out.last().unwrap().as_bytes());
            format!("{{\"prev\":\"{prev}\",{}", &text[1..])
        } else {
            text
        };
        out.push(line);
    }
    out
}

fn remedy_verify(path: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["audit", "verify"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn forged_edited_reordered_and_removed_lines_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    executed_trail(&path, None).await;
    executed_trail(&path, None).await;
    let good = lines(&path);
    assert!(good.len() >= 4, "{good:?}");
    let (ok, said) = remedy_verify(&path);
    assert!(ok, "{said}");
    assert!(said.contains("verified"), "{said}");

    let mut edited = good.clone();
    edited[1] = edited[1].replace(USER, "mallory");
    let mut reordered = good.clone();
    reordered.swap(1, 2);
    let mut removed = good.clone();
    removed.remove(1);
    let forged = forge(&good, "r-forged", serde_json::json!({}), false);
    for (name, lines, bad) in [
        ("edited", edited, 3),
        ("reordered", reordered, 2),
        ("removed", removed, 2),
        ("forged", forged, good.len() + 1),
    ] {
        write(&path, &lines);
        let (ok, said) = remedy_verify(&path);
        assert!(!ok, "{name}: {said}");
        assert!(said.contains(&format!(":{bad}:")), "{name}: {said}");
    }
}

#[tokio::test]
async fn undo_refuses_forged_reversals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let real = executed_trail(&path, None).await;
    let good = lines(&path);

    // Re-enable another user's key, the lines appended without the chain: the trail breaks.
    let enable_bob = serde_json::json!({"kind": "enable_access_key", "user_name": "bob", "access_key_id": "AKIAIOSFODNN7BOBBBBB"});
    write(&path, &forge(&good, "r-1", enable_bob.clone(), false));
    let refused = undo_plan(&path, "r-1", &UndoChecks::default()).unwrap_err();
    assert!(matches!(refused, UndoError::Unverified { .. }), "{refused}");

    // Delete a policy that is not remedy's, chained by an attacker who knows the scheme: the
    // reversal is not what remedy writes for the action.
    let delete = serde_json::json!({"kind": "delete_inline_policy", "principal": {"kind": "user", "name": "bob"}, "policy_name": "SecurityTeamDenyAll"});
    write(&path, &forge(&good, "r-2", delete, true));
    let refused = undo_plan(&path, "r-2", &UndoChecks::default()).unwrap_err();
    assert!(matches!(refused, UndoError::Mismatch { .. }), "{refused}");
    // A chained forgery whose reversal matches its own forged action (bob's key, and a finding
    // edited to name bob) passes the chain without a key: only the HMAC or the ledger stops it
    // (next test, and `remedy undo` with a persistent ledger).
    write(&path, &forge(&good, "r-3", enable_bob, true));
    assert!(undo_plan(&path, "r-3", &UndoChecks::default()).is_ok());

    // The real record still undoes.
    write(&path, &good);
    let undo = undo_plan(&path, &real, &UndoChecks::default()).unwrap();
    assert_eq!(undo.plan.actions.len(), 1);
}

#[tokio::test]
async fn with_a_key_a_chained_forgery_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key = AuditKey::new(b"a key of sixteen bytes or more".to_vec()).unwrap();
    let real = executed_trail(&path, Some(key.clone())).await;
    let good = lines(&path);
    assert!(good.iter().all(|l| l.contains("\"mac\":\"")), "{good:?}");
    assert!(verify(&path, Some(&key), None).unwrap().is_intact());
    let checks = UndoChecks {
        key: Some(key.clone()),
        ..UndoChecks::default()
    };
    assert!(undo_plan(&path, &real, &checks).is_ok());
    // The forger chains correctly but cannot seal.
    let enable =
        serde_json::json!({"kind": "enable_access_key", "user_name": USER, "access_key_id": KEY});
    write(&path, &forge(&good, "r-4", enable, true));
    let verified = verify(&path, Some(&key), None).unwrap();
    assert_eq!(
        verified.first_bad.as_ref().map(|b| b.0),
        Some(good.len() as u64 + 1)
    );
    assert!(matches!(
        undo_plan(&path, "r-4", &checks),
        Err(UndoError::Unverified { .. })
    ));
}

#[tokio::test]
async fn an_edited_request_or_a_removed_decision_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileApprovals::open(dir.path()).unwrap());
    let world = InMemory::new()
        .with_key(USER, KEY)
        .with_key("bob", "AKIAIOSFODNN7BOBBBBB");
    let remediator = world
        .remediator()
        .with_approval(ApprovalConfig {
            kinds: vec!["disable_access_key".into()],
            ..ApprovalConfig::default()
        })
        .with_approval_store(store.clone())
        .enforce(true)
        .build();
    let report = remediator.run(&disable("f-5")).await;
    let id = match &report.actions[0].outcome {
        remedy::action::Outcome::PendingApproval { approval_id, .. } => approval_id.clone(),
        other => panic!("{other}"),
    };
    let request = dir.path().join(format!("{id}.request.json"));
    let original = std::fs::read_to_string(&request).unwrap();

    // Edited to disable bob's key instead: refused, bob's key untouched.
    let edited = original
        .replace(
            &format!("\"user_name\":\"{USER}\""),
            "\"user_name\":\"bob\"",
        )
        .replace(KEY, "AKIAIOSFODNN7BOBBBBB");
    assert_ne!(edited, original);
    std::fs::write(&request, &edited).unwrap();
    let refused = remediator.approve(&id, "carol", None).await.unwrap_err();
    assert!(
        matches!(refused, ApprovalError::Invalid { .. }),
        "{refused}"
    );
    assert_eq!(
        world.iam.is_active("bob", "AKIAIOSFODNN7BOBBBBB"),
        Some(true)
    );

    // Denied, then its decision file removed: it does not come back as a fresh request.
    std::fs::write(&request, &original).unwrap();
    remediator.deny(&id, "carol", None).await.unwrap();
    std::fs::remove_file(dir.path().join(format!("{id}.decision.json"))).unwrap();
    let refused = remediator.approve(&id, "mallory", None).await.unwrap_err();
    assert!(
        matches!(refused, ApprovalError::Invalid { .. }),
        "{refused}"
    );
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
}

#[tokio::test]
async fn with_a_key_requests_and_decisions_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileApprovals::open(dir.path()).unwrap());
    let world = InMemory::new().with_key(USER, KEY);
    let remediator = world
        .remediator()
        .with_approval(ApprovalConfig {
            kinds: vec!["disable_access_key".into()],
            ..ApprovalConfig::default()
        })
        .with_approval_store(store.clone())
        .with_audit_key(AuditKey::new(b"a key of sixteen bytes or more".to_vec()).unwrap())
        .enforce(true)
        .build();
    let report = remediator.run(&disable("f-6")).await;
    let id = match &report.actions[0].outcome {
        remedy::action::Outcome::PendingApproval { approval_id, .. } => approval_id.clone(),
        other => panic!("{other}"),
    };
    let request = dir.path().join(format!("{id}.request.json"));
    let original = std::fs::read_to_string(&request).unwrap();
    assert!(original.contains("\"seal\":\""), "{original}");
    // A field outside the key (who is asked) edited: only the seal sees it.
    let edited = original.replace("\"channel\":\"security\"", "\"channel\":\"attacker\"");
    assert_ne!(edited, original);
    std::fs::write(&request, &edited).unwrap();
    let refused = remediator.approve(&id, "carol", None).await.unwrap_err();
    assert!(
        matches!(refused, ApprovalError::Invalid { .. }),
        "{refused}"
    );

    // Denied, then the decision rewritten to an approval: refused, the key stays active.
    std::fs::write(&request, &original).unwrap();
    remediator.deny(&id, "carol", None).await.unwrap();
    let decision = dir.path().join(format!("{id}.decision.json"));
    let text = std::fs::read_to_string(&decision).unwrap();
    std::fs::write(&decision, text.replace("\"deny\"", "\"approve\"")).unwrap();
    let _ = std::fs::remove_file(dir.path().join(format!("{id}.result.json")));
    let refused = remediator.approval(&id).await.unwrap_err();
    assert!(
        matches!(refused, ApprovalError::Invalid { .. }),
        "{refused}"
    );
    remediator.expire().await.unwrap();
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
}
