//! Crash safety with in-memory and file backends: leases and takeover, write-ahead intents that
//! fail closed, torn audit lines, repeats and updates, graceful shutdown, checked configuration.
//! (The same with real processes and moto: `tests/moto/crash.rs`.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use remedy::action::{MemoryIam, MemoryNotifier, MemorySsm, SkipReason};
use remedy::id::{AccessKeyId, InstanceId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, Notify, Principal, RunCommand, Source};
use remedy::remediate::Shutdown;
use remedy::store::audit::{
    AuditError, AuditRecord, AuditSink, JsonLinesAudit, MemoryAudit, UnavailableAudit,
};
use remedy::store::ledger::{Ledger, MemoryLedger, Owner};
use remedy::testing::context;
use remedy::{
    Action, ActionKind, ActionRequest, Config, ErrorKind, Executor, ExecutorExt, Outcome, Plan,
    Remediator, Router, Status,
};

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn finding(id: &str, updated: &str) -> FindingContext {
    let mut f = context(id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    f.updated_at = Some(
        time::OffsetDateTime::parse(updated, &time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    f.principal = Some(Principal {
        user_name: Some(USER.into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some(KEY.into()),
        principal_id: None,
    });
    f
}

fn source() -> Source {
    Source {
        policy: "p".into(),
        version: "v".into(),
        reason: None,
        line: None,
    }
}

fn disable() -> Action {
    Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new(USER).unwrap(),
        access_key_id: AccessKeyId::new(KEY).unwrap(),
    })
}

fn notify(message: &str) -> Action {
    Action::Notify(Notify {
        channel: "security".into(),
        message: message.into(),
    })
}

fn plan(f: FindingContext, actions: Vec<Action>) -> Plan {
    let mut plan = Plan::new(f, "v");
    for a in actions {
        plan.push(a, source());
    }
    plan
}

struct World {
    iam: MemoryIam,
    ssm: MemorySsm,
    notifier: MemoryNotifier,
}

impl World {
    fn new() -> Self {
        let iam = MemoryIam::new();
        iam.add_key(USER, KEY);
        Self {
            iam,
            ssm: MemorySsm::new(),
            notifier: MemoryNotifier::new(),
        }
    }

    fn router(&self) -> Router {
        Router::new()
            .with(ActionKind::DISABLE_ACCESS_KEY, self.iam.clone().into_arc())
            .with(ActionKind::RUN_COMMAND, self.ssm.clone().into_arc())
            .with(ActionKind::NOTIFY, self.notifier.clone().into_arc())
    }
}

/// An audit sink that records everything but intents (a disk that fills at the wrong moment).
#[derive(Debug, Default, Clone)]
struct NoIntents(MemoryAudit);

#[async_trait]
impl AuditSink for NoIntents {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        if matches!(record, AuditRecord::Intent(_)) {
            return Err(AuditError::new("test", "no space left on device"));
        }
        self.0.record(record).await
    }
}

#[tokio::test]
async fn without_an_intent_record_nothing_destructive_runs_and_the_notification_says_so() {
    for audit in [
        Arc::new(NoIntents::default()) as Arc<dyn AuditSink>,
        Arc::new(UnavailableAudit::new(AuditError::new(
            "/x",
            "read-only file system",
        ))),
    ] {
        let w = World::new();
        let r = Remediator::builder(Arc::new(w.router()))
            .with_audit(audit)
            .enforce(true)
            .build();
        let report = r
            .run(&plan(
                finding("f1", "2026-11-01T00:00:00Z"),
                vec![disable(), notify("key of alice")],
            ))
            .await;
        assert_eq!(w.iam.is_active(USER, KEY), Some(true), "no key disabled");
        let e = report.actions[0].outcome.error().unwrap();
        assert_eq!(e.kind(), ErrorKind::AuditUnavailable);
        assert!(report.has_failures());
        let messages = w.notifier.messages();
        assert_eq!(messages.len(), 1, "notifications keep flowing");
        assert!(messages[0].body.contains("audit"), "{}", messages[0].body);
    }
}

#[tokio::test]
async fn a_full_disk_fails_closed_and_no_record_glues_onto_a_torn_line() {
    // /dev/full: opening works, every write fails with ENOSPC.
    if std::path::Path::new("/dev/full").exists() {
        let w = World::new();
        let r = Remediator::builder(Arc::new(w.router()))
            .with_audit(Arc::new(JsonLinesAudit::open("/dev/full").unwrap()))
            .enforce(true)
            .build();
        let report = r
            .run(&plan(
                finding("f1", "2026-11-01T00:00:00Z"),
                vec![disable()],
            ))
            .await;
        assert_eq!(w.iam.is_active(USER, KEY), Some(true));
        assert_eq!(
            report.actions[0].outcome.error().unwrap().kind(),
            ErrorKind::AuditUnavailable
        );
    }
    // A trail whose last line was cut: the next record starts on a line of its own.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"record\":\"decision\"}\n{\"record\":\"act").unwrap();
    let w = World::new();
    let r = Remediator::builder(Arc::new(w.router()))
        .with_audit(Arc::new(JsonLinesAudit::open(&path).unwrap()))
        .enforce(true)
        .build();
    r.run(&plan(
        finding("f1", "2026-11-01T00:00:00Z"),
        vec![disable()],
    ))
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "{\"record\":\"act", "the torn line stays alone");
    for line in &lines[2..] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["record"].is_string());
    }
    let (unfinished, torn) = JsonLinesAudit::unfinished(&path).unwrap();
    assert_eq!(torn, 1);
    assert!(unfinished.is_empty(), "the intent has its outcome");
}

/// An executor that takes its time and then fails: a first attempt still running, or failing.
#[derive(Debug)]
struct SlowFailure(Duration);

#[async_trait]
impl Executor for SlowFailure {
    async fn execute(&self, _request: &ActionRequest<'_>) -> Outcome {
        tokio::time::sleep(self.0).await;
        Outcome::failed(ErrorKind::Throttled, "slow down")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_delivery_is_in_progress_while_the_first_runs_never_already_done() {
    let ledger = Arc::new(MemoryLedger::new());
    let slow = Router::new().with(
        ActionKind::DISABLE_ACCESS_KEY,
        // Longer than an action waits for another run's action on its target (3 s).
        Arc::new(SlowFailure(Duration::from_millis(3500))),
    );
    let build = |run: &str| {
        Remediator::builder(Arc::new(slow.clone()))
            .with_ledger(ledger.clone() as Arc<dyn Ledger>)
            .with_owner(Owner::with_run(run))
            .enforce(true)
            .build()
    };
    let (first, second) = (build("first"), build("second"));
    let p = plan(finding("f1", "2026-11-01T00:00:00Z"), vec![disable()]);
    let running = tokio::spawn({
        let p = p.clone();
        async move { first.run(&p).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let duplicate = second.run(&p).await;
    assert_eq!(duplicate.actions[0].outcome.status(), Status::InProgress);
    assert!(
        duplicate.actions[0].outcome.to_string().contains("first"),
        "{}",
        duplicate.actions[0].outcome
    );
    let done = running.await.unwrap();
    assert_eq!(done.actions[0].outcome.status(), Status::Failed);
    // The failure released the claim: the next delivery tries again, and is never "already done".
    let retry = second.run(&p).await;
    assert_eq!(retry.actions[0].outcome.status(), Status::Failed);
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_the_state_verified_first() {
    let ledger = Arc::new(MemoryLedger::new());
    let w = World::new();
    let p = plan(finding("f1", "2026-11-01T00:00:00Z"), vec![disable()]);
    // A run that claimed the key and disabled it, then died before recording it as done (lease 0:
    // expired at once).
    let key = remedy::store::ledger::LedgerKey::new(&p.finding, &p.actions[0]);
    ledger
        .claim(&remedy::store::ledger::ClaimRequest {
            key: &key,
            owner: &Owner::with_run("crashed"),
            lease: Duration::ZERO,
            finding: &p.finding,
            action: &p.actions[0],
        })
        .await
        .unwrap();
    w.iam.set_active(USER, KEY, false);

    let next = Remediator::builder(Arc::new(w.router()))
        .with_ledger(ledger.clone() as Arc<dyn Ledger>)
        .with_owner(Owner::with_run("next"))
        .enforce(true)
        .build();
    assert_eq!(next.unfinished().await.unwrap().len(), 1);
    let report = next.run(&p).await;
    let record = &report.actions[0];
    assert_eq!(
        record.outcome.status(),
        Status::AlreadyDone,
        "{}",
        record.outcome
    );
    assert!(
        record.outcome.to_string().contains("verified"),
        "{}",
        record.outcome
    );
    assert!(next.unfinished().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_updated_finding_is_a_new_occurrence() {
    let w = World::new();
    let r = Remediator::builder(Arc::new(w.router()))
        .enforce(true)
        .build();
    let first = plan(finding("f1", "2026-11-01T00:00:00Z"), vec![disable()]);
    assert_eq!(r.run(&first).await.count(Status::Executed), 1);
    // The same version again: idempotent, reported as done.
    assert_eq!(r.run(&first).await.count(Status::AlreadyDone), 1);
    // Someone re-enabled the key; GuardDuty updated the finding (same id).
    w.iam.set_active(USER, KEY, true);
    let updated = plan(finding("f1", "2026-11-02T00:00:00Z"), vec![disable()]);
    assert_eq!(r.run(&updated).await.count(Status::Executed), 1);
    assert_eq!(w.iam.is_active(USER, KEY), Some(false));

    // An SSM command runs once per finding, unless the policy asked for it on every update.
    let command = Action::RunCommand(RunCommand {
        document: "AWS-RunShellScript".into(),
        instance_ids: vec![InstanceId::new("i-0123456789abcdef0").unwrap()],
        parameters: Default::default(),
    });
    let once = |updated: &str| plan(finding("f2", updated), vec![command.clone()]);
    assert_eq!(
        r.run(&once("2026-11-01T00:00:00Z"))
            .await
            .count(Status::Executed),
        1
    );
    assert_eq!(
        r.run(&once("2026-11-02T00:00:00Z"))
            .await
            .count(Status::AlreadyDone),
        1
    );
    let mut again = once("2026-11-03T00:00:00Z");
    again.actions[0].repeat_on_update = true;
    assert_eq!(r.run(&again).await.count(Status::Executed), 1);
    assert_eq!(w.ssm.commands().len(), 2);
}

#[tokio::test]
async fn each_distinct_notification_is_sent_once_per_occurrence() {
    let w = World::new();
    let r = Remediator::builder(Arc::new(w.router()))
        .enforce(true)
        .build();
    let f = finding("f1", "2026-11-01T00:00:00Z");
    let two = plan(f.clone(), vec![notify("first"), notify("second")]);
    assert_eq!(r.run(&two).await.count(Status::Executed), 2);
    assert_eq!(r.run(&two).await.count(Status::AlreadyDone), 2);
    assert_eq!(w.notifier.messages().len(), 2);
}

/// An executor that never finishes on its own.
#[derive(Debug)]
struct Hangs;

#[async_trait]
impl Executor for Hangs {
    async fn execute(&self, _request: &ActionRequest<'_>) -> Outcome {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Outcome::executed("much later")
    }
}

#[tokio::test]
async fn a_stopping_run_starts_nothing_and_abandons_what_outlives_the_grace() {
    let ledger = Arc::new(MemoryLedger::new());
    let shutdown = Shutdown::new();
    let audit = MemoryAudit::new();
    let hanging = Router::new().with(ActionKind::DISABLE_ACCESS_KEY, Arc::new(Hangs));
    let r = Remediator::builder(Arc::new(hanging))
        .with_ledger(ledger.clone() as Arc<dyn Ledger>)
        .with_audit(Arc::new(audit.clone()))
        .with_shutdown(shutdown.clone())
        .with_lease(Duration::ZERO)
        .enforce(true)
        .build();
    let p = plan(finding("f1", "2026-11-01T00:00:00Z"), vec![disable()]);
    let running = tokio::spawn({
        let (r, p) = (r.clone(), p.clone());
        async move { r.run(&p).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    shutdown.stop(Duration::from_millis(100));
    let report = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    let e = report.actions[0].outcome.error().unwrap();
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    // Recorded, and its claim kept for the next run to verify.
    assert_eq!(audit.actions().len(), 1);
    assert_eq!(audit.intents().len(), 1);
    assert_eq!(ledger.claims().await.unwrap().len(), 1);
    // Once stopping, nothing destructive starts.
    let later = r
        .run(&plan(
            finding("f2", "2026-11-01T00:00:00Z"),
            vec![disable()],
        ))
        .await;
    assert!(matches!(
        later.actions[0].outcome,
        Outcome::Skipped(SkipReason::Interrupted)
    ));
}

#[test]
fn out_of_range_numbers_are_configuration_errors() {
    for (text, field) in [
        (
            "[breaker]\ncooldown_secs = 18446744073709551615",
            "breaker.cooldown_secs",
        ),
        ("[breaker]\ncooldown_secs = 0", "breaker.cooldown_secs"),
        ("[ledger]\nlease_secs = 0", "ledger.lease_secs"),
        ("[aws]\nmax_attempts = 0", "aws.max_attempts"),
        (
            "[aws]\noperation_timeout_secs = 999999",
            "aws.operation_timeout_secs",
        ),
        (
            "[aws]\nattempt_timeout_secs = 60\noperation_timeout_secs = 30",
            "aws.attempt_timeout_secs",
        ),
        ("concurrency = 100000", "concurrency"),
        (
            "[rate_limits]\ndisable_access_key = { max = 1, per_secs = 0 }",
            "rate_limits.disable_access_key.per_secs",
        ),
        (
            "[rate_limits]\ndisable_access_key = { max = 2, per_secs = 60, per_account = 3 }",
            "rate_limits.disable_access_key.per_account",
        ),
    ] {
        let e = Config::from_toml_str(text).unwrap_err().to_string();
        assert!(e.contains(field), "{text}: {e}");
    }
    assert!(Config::from_toml_str("[breaker]\ncooldown_secs = 86400").is_ok());
}
