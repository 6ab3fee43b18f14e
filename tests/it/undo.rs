//! Undo: the reversal an executed containment action records, read back from the JSON Lines
//! audit trail ([`undo_plan`]) and carried out by a remediator over the in-memory IAM.

use std::sync::Arc;

use remedy::id::{AccessKeyId, RoleName, UserName};
use remedy::plan::{
    Action, DisableAccessKey, DisableConsoleLogin, FindingContext, IamPrincipal, Principal,
    RevokeRoleSessions,
};
use remedy::store::audit::{JsonLinesAudit, UndoChecks, UndoError, undo_plan};
use remedy::store::ledger::MemoryLedger;
use remedy::testing::{InMemory, context, plan_of};
use remedy::{Report, Status};

fn finding(id: &str, user: &str, user_type: &str) -> FindingContext {
    let mut f = context(id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    f.principal = Some(Principal {
        user_name: Some(user.into()),
        user_type: Some(user_type.into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal_id: None,
    });
    f
}

/// Runs `plan` enforced over `mem`, auditing to the trail at `path`, with one ledger for the test.
async fn enforce(
    mem: &InMemory,
    ledger: &Arc<MemoryLedger>,
    path: &std::path::Path,
    plan: &remedy::Plan,
) -> Report {
    mem.remediator()
        .with_audit(Arc::new(JsonLinesAudit::open(path).unwrap()))
        .with_ledger(Arc::clone(ledger) as _)
        .enforce(true)
        .build()
        .run(plan)
        .await
}

fn revoke(role: &str) -> Action {
    Action::RevokeRoleSessions(RevokeRoleSessions {
        role_name: RoleName::new(role).unwrap(),
    })
}

#[tokio::test]
async fn a_revocation_is_undone_exactly_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let ledger = Arc::new(MemoryLedger::new());
    let mem = InMemory::new();
    mem.iam.add_role("web-role");
    mem.iam.put_role_policy(
        "web-role",
        "keep-me",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
    );
    let role = IamPrincipal::Role(RoleName::new("web-role").unwrap());

    let plan = plan_of(
        finding("f-1", "web-role", "AssumedRole"),
        [revoke("web-role")],
        "p",
    );
    let report = enforce(&mem, &ledger, &trail, &plan).await;
    let record = &report.actions[0];
    assert_eq!(record.outcome.status(), Status::Executed, "{record:?}");
    let id = record.intent.clone().unwrap();
    let policies = mem.iam.inline_policies(&role);
    assert_eq!(policies.len(), 2, "{policies:?}");

    // The undo plan: one undo action for the same finding, chosen by no policy.
    let undo = undo_plan(&trail, &id, &UndoChecks::default()).unwrap().plan;
    assert_eq!(&*undo.finding.id, "f-1");
    assert_eq!(undo.actions.len(), 1);
    assert!(undo.actions[0].sources.is_empty());
    let done = enforce(&mem, &ledger, &trail, &undo).await;
    assert_eq!(
        done.actions[0].outcome.status(),
        Status::Executed,
        "{done:?}"
    );
    assert_eq!(done.actions[0].kind.as_str(), "undo");
    let left = mem.iam.inline_policies(&role);
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        ["keep-me"],
        "only remedy's policy goes"
    );

    // A second undo of the same record is refused: the trail says it was undone.
    match undo_plan(&trail, &id, &UndoChecks::default()) {
        Err(UndoError::AlreadyUndone { by, .. }) => {
            assert_eq!(Some(by), done.actions[0].intent.clone());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn records_that_cannot_be_undone_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let ledger = Arc::new(MemoryLedger::new());
    let mem = InMemory::new();
    mem.iam.add_login_profile("alice");
    mem.iam.add_key("alice", "AKIAIOSFODNN7EXAMPLE");
    let console = Action::DisableConsoleLogin(DisableConsoleLogin {
        user_name: UserName::new("alice").unwrap(),
    });
    let key = Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new("alice").unwrap(),
        access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
    });
    let plan = plan_of(finding("f-2", "alice", "IAMUser"), [console, key], "p");
    let report = enforce(&mem, &ledger, &trail, &plan).await;
    assert!(
        report
            .actions
            .iter()
            .all(|r| r.outcome.status() == Status::Executed),
        "{report:?}"
    );
    let ids: Vec<String> = report
        .actions
        .iter()
        .map(|r| r.intent.clone().unwrap())
        .collect();

    match undo_plan(&trail, &ids[0], &UndoChecks::default()) {
        Err(e @ UndoError::Irreversible { .. }) => {
            assert!(e.to_string().contains("cannot be restored"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // The key is set active again.
    let undo = undo_plan(&trail, &ids[1], &UndoChecks::default())
        .unwrap()
        .plan;
    let done = enforce(&mem, &ledger, &trail, &undo).await;
    assert_eq!(
        done.actions[0].outcome.status(),
        Status::Executed,
        "{done:?}"
    );
    assert_eq!(
        mem.iam.is_active("alice", "AKIAIOSFODNN7EXAMPLE"),
        Some(true)
    );
    // An undo itself is not undone.
    let again = done.actions[0].intent.clone().unwrap();
    assert!(matches!(
        undo_plan(&trail, &again, &UndoChecks::default()),
        Err(UndoError::NoReversal { .. })
    ));

    assert!(matches!(
        undo_plan(&trail, "no-such-record", &UndoChecks::default()),
        Err(UndoError::NotFound { .. })
    ));
    assert!(matches!(
        undo_plan(
            dir.path().join("missing.jsonl"),
            "x",
            &UndoChecks::default()
        ),
        Err(UndoError::Unreadable { .. })
    ));
}

#[tokio::test]
async fn an_action_that_found_nothing_to_do_has_nothing_to_undo() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let ledger = Arc::new(MemoryLedger::new());
    let mem = InMemory::new();
    mem.iam.add_user("bob");
    let console = Action::DisableConsoleLogin(DisableConsoleLogin {
        user_name: UserName::new("bob").unwrap(),
    });
    let report = enforce(
        &mem,
        &ledger,
        &trail,
        &plan_of(finding("f-3", "bob", "IAMUser"), [console], "p"),
    )
    .await;
    assert_eq!(report.actions[0].outcome.status(), Status::AlreadyDone);
    let id = report.actions[0].intent.clone().unwrap();
    match undo_plan(&trail, &id, &UndoChecks::default()) {
        Err(UndoError::NotExecuted { status, .. }) => assert_eq!(status, "already_done"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_protected_role_is_not_undone_either() {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let ledger = Arc::new(MemoryLedger::new());
    let mem = InMemory::new();
    mem.iam.add_role("web-role");
    let plan = plan_of(
        finding("f-4", "web-role", "AssumedRole"),
        [revoke("web-role")],
        "p",
    );
    let report = enforce(&mem, &ledger, &trail, &plan).await;
    let id = report.actions[0].intent.clone().unwrap();
    // The role became protected since.
    let config = remedy::Config::from_toml_str("[protect]\nroles = [\"web-*\"]").unwrap();
    let protected = mem
        .clone()
        .with_protection(remedy::remediate::Protection::new(&config.protect).unwrap());
    let undo = undo_plan(&trail, &id, &UndoChecks::default()).unwrap().plan;
    let done = enforce(&protected, &ledger, &trail, &undo).await;
    assert_eq!(
        done.actions[0].outcome.status(),
        Status::Skipped,
        "{done:?}"
    );
    assert_eq!(
        mem.iam
            .inline_policies(&IamPrincipal::Role(RoleName::new("web-role").unwrap()))
            .len(),
        1
    );
}
