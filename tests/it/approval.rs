//! Approvals through the remediator, on in-memory executors: an action that needs a person waits
//! (`pending_approval`), is carried out on approval through every guard again, is skipped on
//! denial, and is decided exactly once (timeouts, and what the channel is told: approval_told.rs).

use std::sync::Arc;

use remedy::action::{Outcome, SkipReason};
use remedy::config::{ApprovalConfig, OnTimeout, ProtectConfig, TagRule};
use remedy::id::{AccessKeyId, ApprovalId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, Notify, Principal, Source};
use remedy::remediate::{KillSwitch, Protection, Remediator};
use remedy::store::approval::{ApprovalError, MemoryApprovals};
use remedy::store::audit::AuditRecord;
use remedy::testing::InMemory;
use remedy::{Action, FindingType, Plan, Report, Severity, Status};

pub(crate) const USER: &str = "alice";
pub(crate) const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

pub(crate) fn finding(id: &str) -> FindingContext {
    let mut f = FindingContext::new(
        id,
        FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap(),
        Severity::new(8.0).unwrap(),
    );
    f.principal = Some(Principal {
        user_name: Some(USER.into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some(KEY.into()),
        principal_id: None,
    });
    f
}

pub(crate) fn plan(id: &str) -> Plan {
    let mut plan = Plan::new(finding(id), "v");
    let source = Source {
        policy: "disable-key".into(),
        version: "v1".into(),
        reason: Some("the key was used from a malicious IP".into()),
        line: Some(7),
    };
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new(USER).unwrap(),
            access_key_id: AccessKeyId::new(KEY).unwrap(),
        }),
        source.clone(),
    );
    plan.push(
        Action::Notify(Notify {
            channel: "security".into(),
            message: "key of alice used from a malicious IP".into(),
        }),
        source,
    );
    plan
}

pub(crate) fn rules(timeout_secs: u64, on_timeout: OnTimeout) -> ApprovalConfig {
    ApprovalConfig {
        kinds: vec!["disable_access_key".into()],
        timeout_secs,
        on_timeout,
        ..ApprovalConfig::default()
    }
}

/// An enforcing remediator over `world`, sharing `store`.
pub(crate) fn remediator(
    world: &InMemory,
    store: &Arc<MemoryApprovals>,
    config: ApprovalConfig,
) -> Remediator {
    world
        .remediator()
        .with_approval(config)
        .with_approval_store(store.clone())
        .enforce(true)
        .build()
}

pub(crate) fn key_record(report: &Report) -> &remedy::store::audit::ActionRecord {
    report
        .actions
        .iter()
        .find(|r| r.kind.as_str() == "disable_access_key")
        .unwrap()
}

pub(crate) fn pending_id(report: &Report) -> ApprovalId {
    match &key_record(report).outcome {
        Outcome::PendingApproval { approval_id, .. } => approval_id.clone(),
        other => panic!("not pending: {other}"),
    }
}

#[tokio::test]
async fn the_action_waits_and_the_person_is_told_how_to_decide() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let report = r.run(&plan("f-1")).await;
    assert_eq!(report.count(Status::PendingApproval), 1, "{report:#?}");
    assert_eq!(
        world.iam.is_active(USER, KEY),
        Some(true),
        "nothing done yet"
    );
    let id = pending_id(&report);
    let json = serde_json::to_value(&key_record(&report).outcome).unwrap();
    assert_eq!(json["status"], "pending_approval");
    assert_eq!(json["approval_id"], id.as_str());
    assert_eq!(json["on_timeout"], "deny");
    assert!(json["expires"].as_str().unwrap().starts_with("20"));

    let pending = r.pending().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, id);

    // The policy's notification still goes out; the request's own asks the channel.
    let messages = world.notifier.messages();
    let ask = messages
        .iter()
        .find(|m| m.body.contains("asks for approval"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    for part in [
        &format!("remedy approve {id} --by NAME"),
        &format!("remedy deny {id} --by NAME"),
        "disable access key",
        "disable-key",
        "malicious IP",
        "Expires at",
        "denied and not carried out",
    ] {
        assert!(
            ask.body.contains(part),
            "{part:?} missing from {}",
            ask.body
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.body.contains("key of alice used from a malicious IP"))
    );
    // The audit trail has the request.
    let requested = world.audit.records().into_iter().any(|r| {
        matches!(&r, AuditRecord::Approval(a) if a.approval_id == id
            && serde_json::to_value(a).unwrap()["event"] == "requested")
    });
    assert!(requested);
}

#[tokio::test]
async fn approving_carries_it_out_and_names_the_approver() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let id = pending_id(&r.run(&plan("f-2")).await);
    let report = r
        .approve(&id, "bob", Some("confirmed with alice"))
        .await
        .unwrap();
    let record = &report.actions[0];
    assert_eq!(record.outcome.status(), Status::Executed, "{report:#?}");
    assert_eq!(world.iam.is_active(USER, KEY), Some(false));
    let approval = record
        .guards
        .iter()
        .find(|g| g.guard.as_str() == "approval")
        .unwrap();
    assert!(approval.passed);
    assert!(
        approval
            .detail
            .as_deref()
            .unwrap()
            .contains("approved by bob")
    );
    let decided = world.audit.records().into_iter().find_map(|r| match r {
        AuditRecord::Approval(a) if a.by.is_some() => Some(a),
        _ => None,
    });
    let decided = decided.unwrap();
    assert_eq!(decided.by.as_deref(), Some("bob"));
    assert_eq!(decided.note.as_deref(), Some("confirmed with alice"));
    assert!(r.pending().await.unwrap().is_empty());
    let stored = r.approval(&id).await.unwrap();
    assert!(stored.result.unwrap().starts_with("executed"));

    // Approving twice is refused; so is denying what was approved.
    for again in [
        r.approve(&id, "carol", None).await,
        r.deny(&id, "carol", None).await,
    ] {
        match again {
            Err(ApprovalError::AlreadyDecided { decision, .. }) => assert_eq!(decision.by, "bob"),
            other => panic!("{other:?}"),
        }
    }
    // A redelivery of the finding: done already, nobody is asked again.
    let before = world.notifier.messages().len();
    let again = r.run(&plan("f-2")).await;
    assert_eq!(key_record(&again).outcome.status(), Status::AlreadyDone);
    assert_eq!(
        world.notifier.messages().len(),
        before,
        "nobody is asked again (and the policy's notification was sent already)"
    );
}

#[tokio::test]
async fn denying_leaves_it_and_redeliveries_stay_denied() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let id = pending_id(&r.run(&plan("f-3")).await);
    // Delivered again while waiting: the same request, nobody asked twice.
    let asks = |w: &InMemory| {
        w.notifier
            .messages()
            .iter()
            .filter(|m| m.body.contains("asks for approval"))
            .count()
    };
    let again = r.run(&plan("f-3")).await;
    assert_eq!(pending_id(&again), id);
    assert_eq!(asks(&world), 1);

    let report = r.deny(&id, "bob", Some("expected traffic")).await.unwrap();
    match &report.actions[0].outcome {
        Outcome::Skipped(SkipReason::Denied { by, note, .. }) => {
            assert_eq!(by, "bob");
            assert_eq!(note.as_deref(), Some("expected traffic"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
    let later = r.run(&plan("f-3")).await;
    assert_eq!(
        key_record(&later)
            .outcome
            .skip_reason()
            .map(SkipReason::kind),
        Some("denied")
    );
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
    assert!(matches!(
        r.approve(&id, "carol", None).await,
        Err(ApprovalError::AlreadyDecided { .. })
    ));
}

#[tokio::test]
async fn an_approval_never_bypasses_a_guard() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let asking = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let id = pending_id(&asking.run(&plan("f-4")).await);

    // The kill switch is engaged between the request and the approval.
    let switch = KillSwitch::new();
    switch.engage();
    let stopped = world
        .remediator()
        .with_approval(rules(3600, OnTimeout::Deny))
        .with_approval_store(store.clone())
        .with_kill_switch(switch)
        .enforce(true)
        .build();
    let report = stopped.approve(&id, "bob", None).await.unwrap();
    assert_eq!(
        report.actions[0]
            .outcome
            .skip_reason()
            .map(SkipReason::kind),
        Some("kill_switch")
    );
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));

    // Protection added after the request holds too.
    let id = pending_id(&asking.run(&plan("f-5")).await);
    let protection = Protection::new(&ProtectConfig {
        users: vec!["ali*".into()],
        ..ProtectConfig::default()
    })
    .unwrap();
    let protected = world
        .remediator()
        .with_approval_store(store.clone())
        .with_protection(protection)
        .enforce(true)
        .build();
    let report = protected.approve(&id, "bob", None).await.unwrap();
    assert_eq!(
        report.actions[0]
            .outcome
            .skip_reason()
            .map(SkipReason::kind),
        Some("protected")
    );
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));

    // A dry run cannot approve: approving acts.
    let id = pending_id(&asking.run(&plan("f-6")).await);
    let dry = world
        .remediator()
        .with_approval_store(store.clone())
        .build();
    assert!(matches!(
        dry.approve(&id, "bob", None).await,
        Err(ApprovalError::NotEnforcing)
    ));
    assert!(
        asking.approval(&id).await.unwrap().is_pending(),
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_approvers_one_wins_and_the_key_is_disabled_once() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let id = pending_id(&r.run(&plan("f-8")).await);
    let (a, b) = (r.clone(), r.clone());
    let (ia, ib) = (id.clone(), id.clone());
    let one = tokio::spawn(async move { a.approve(&ia, "bob", None).await });
    let two = tokio::spawn(async move { b.approve(&ib, "carol", None).await });
    let results = [one.await.unwrap(), two.await.unwrap()];
    let won: Vec<&Report> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(won[0].actions[0].outcome.status(), Status::Executed);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(ApprovalError::AlreadyDecided { .. })))
    );
    let executed = world
        .audit
        .actions()
        .into_iter()
        .filter(|a| {
            a.kind.as_str() == "disable_access_key" && a.outcome.status() == Status::Executed
        })
        .count();
    assert_eq!(executed, 1);
}

#[tokio::test]
async fn only_matching_actions_wait_and_dry_runs_only_say_so() {
    // A dry run: nothing stored, the record says a person would be asked.
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let dry = world
        .remediator()
        .with_approval(rules(3600, OnTimeout::Deny))
        .with_approval_store(store.clone())
        .build();
    let report = dry.run(&plan("f-9")).await;
    let outcome = key_record(&report).outcome.to_string();
    assert!(outcome.contains("once a person approves it"), "{outcome}");
    assert!(dry.pending().await.unwrap().is_empty());

    // Another account than the listed ones, or an untagged target: no approval needed.
    let scoped = |config: ApprovalConfig| remediator(&world, &store, config);
    let mut f = plan("f-10");
    f.finding.account_id = "111122223333".into();
    let other_account = scoped(ApprovalConfig {
        accounts: vec!["4444*".into()],
        ..rules(3600, OnTimeout::Deny)
    });
    assert_eq!(
        key_record(&other_account.run(&f).await).outcome.status(),
        Status::Executed
    );

    world.iam.set_active(USER, KEY, true);
    let tagged = scoped(ApprovalConfig {
        tags: vec![TagRule {
            key: "env".into(),
            value: Some("prod*".into()),
        }],
        ..rules(3600, OnTimeout::Deny)
    });
    assert_eq!(
        key_record(&tagged.run(&plan("f-11")).await)
            .outcome
            .status(),
        Status::Executed,
        "the user has no env tag"
    );
    // The enriched principal's tags count.
    world.iam.set_active(USER, KEY, true);
    let mut p = plan("f-12");
    let context = remedy::enrich::Context {
        principal: Some(remedy::enrich::PrincipalDetails {
            name: USER.into(),
            tags: [("env".to_owned(), "production".to_owned())].into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    p.finding.enrichment = Some(Arc::new(context));
    assert_eq!(
        key_record(&tagged.run(&p).await).outcome.status(),
        Status::PendingApproval
    );
    // Policies name what waits too, and a notification never waits.
    world.iam.set_active(USER, KEY, true);
    let by_policy = scoped(ApprovalConfig {
        kinds: vec![],
        policies: vec!["disable-key".into()],
        ..rules(3600, OnTimeout::Deny)
    });
    let report = by_policy.run(&plan("f-13")).await;
    assert_eq!(
        key_record(&report).outcome.status(),
        Status::PendingApproval
    );
    assert!(
        report
            .actions
            .iter()
            .filter(|r| r.kind.as_str() == "notify")
            .all(|r| r.outcome.status() == Status::Executed)
    );
}

/// A notifier whose every message fails: the channel cannot be reached.
#[derive(Debug)]
struct Unreachable;

#[remedy::async_trait]
impl remedy::Executor for Unreachable {
    async fn execute(&self, _request: &remedy::action::ActionRequest<'_>) -> Outcome {
        Outcome::failed(remedy::action::ErrorKind::Unavailable, "sns is down")
    }
}

#[tokio::test]
async fn an_ask_that_did_not_get_through_is_sent_on_the_next_delivery() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let ledger: Arc<dyn remedy::store::ledger::Ledger> =
        Arc::new(remedy::store::ledger::MemoryLedger::new());
    let down = world
        .router()
        .with(remedy::ActionKind::NOTIFY, Arc::new(Unreachable));
    let first = Remediator::builder(Arc::new(down))
        .with_approval(rules(3600, OnTimeout::Deny))
        .with_approval_store(store.clone())
        .with_ledger(ledger.clone())
        .enforce(true)
        .build();
    let report = first.run(&plan("f-14")).await;
    let id = pending_id(&report);
    let failed_ask = report
        .actions
        .iter()
        .find(|r| r.policy == "remedy")
        .unwrap();
    assert_eq!(failed_ask.outcome.status(), Status::Failed);
    assert!(report.has_failures(), "a queue would redeliver the message");

    let up = || {
        world
            .remediator()
            .with_approval(rules(3600, OnTimeout::Deny))
            .with_approval_store(store.clone())
            .with_ledger(ledger.clone())
            .enforce(true)
            .build()
    };
    let again = up().run(&plan("f-14")).await;
    assert_eq!(pending_id(&again), id, "the same request");
    let asks = world
        .notifier
        .messages()
        .iter()
        .filter(|m| m.body.contains("asks for approval"))
        .count();
    assert_eq!(asks, 1, "asked now");
    let third = up().run(&plan("f-14")).await;
    assert!(
        third.actions.iter().all(|r| r.policy != "remedy"),
        "{third:#?}"
    );
    assert_eq!(
        world
            .notifier
            .messages()
            .iter()
            .filter(|m| m.body.contains("asks for approval"))
            .count(),
        1,
        "not asked twice"
    );
}

#[tokio::test]
async fn expire_finishes_what_a_stopped_approver_left() {
    let world = InMemory::new().with_key(USER, KEY);
    let store = Arc::new(MemoryApprovals::new());
    let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
    let id = pending_id(&r.run(&plan("f-15")).await);
    // The approver's process recorded the decision two minutes ago and stopped before acting.
    let decision = remedy::store::approval::Decision {
        verdict: remedy::store::approval::Verdict::Approve,
        by: "bob".into(),
        at: "2020-01-01T00:00:00Z".into(),
        note: None,
        timed_out: false,
        seal: None,
    };
    remedy::store::approval::ApprovalStore::decide(&*store, &id, &decision)
        .await
        .unwrap();
    assert!(r.pending().await.unwrap().is_empty(), "decided");
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
    let reports = r.expire().await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].actions[0].outcome.status(), Status::Executed);
    assert_eq!(world.iam.is_active(USER, KEY), Some(false));
    assert!(r.expire().await.unwrap().is_empty(), "finished now");
    // A decision made just now is left to its decider.
    world.iam.set_active(USER, KEY, true);
    let id = pending_id(&r.run(&plan("f-16")).await);
    let now = remedy::store::approval::Decision::by(
        remedy::store::approval::Verdict::Approve,
        "bob",
        None,
    );
    remedy::store::approval::ApprovalStore::decide(&*store, &id, &now)
        .await
        .unwrap();
    assert!(r.expire().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_store_that_cannot_be_written_fails_the_action_closed_and_notifications_flow() {
    let world = InMemory::new().with_key(USER, KEY);
    let dir = tempfile::tempdir().unwrap();
    // Its parent is a file: every write fails (as on a full or read-only disk).
    std::fs::write(dir.path().join("file"), "").unwrap();
    let store =
        remedy::store::approval::FileApprovals::open(dir.path().join("file/approvals")).unwrap();
    let r = world
        .remediator()
        .with_approval(rules(3600, OnTimeout::Deny))
        .with_approval_store(Arc::new(store))
        .enforce(true)
        .build();
    let report = r.run(&plan("f-17")).await;
    let outcome = &key_record(&report).outcome;
    assert_eq!(
        outcome.error().map(|e| e.kind()),
        Some(remedy::action::ErrorKind::StateUnavailable),
        "{outcome}"
    );
    assert_eq!(world.iam.is_active(USER, KEY), Some(true));
    assert!(
        report
            .actions
            .iter()
            .filter(|a| a.kind.as_str() == "notify")
            .all(|a| a.outcome.status() == Status::Executed)
    );
    // Listing says the store is unavailable; it does not pretend nothing waits.
    assert!(matches!(
        r.pending().await,
        Err(ApprovalError::Unavailable { .. })
    ));
}
