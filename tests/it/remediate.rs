//! The remediator: dry run, enforcement, guards, idempotency, audit, concurrency.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use remedy::action::{MemoryIam, MemoryNotifier, MemorySsm, SkipReason};
use remedy::config::{ProtectConfig, RateLimit};
use remedy::id::{AccessKeyId, InstanceId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, Notify, Principal, RunCommand, Source};
use remedy::remediate::{KillSwitch, Protection};
use remedy::store::audit::{AuditRecord, Guard, JsonLinesAudit, MemoryAudit, Mode};
use remedy::store::ledger::FileLedger;
use remedy::{
    Action, ActionKind, ActionRequest, ErrorKind, Executor, ExecutorExt, FindingType, Outcome,
    Plan, Remediator, Router, Severity, Status,
};

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const OTHER: &str = "AKIAOTHERKEY00000000";

struct World {
    iam: MemoryIam,
    ssm: MemorySsm,
    notifier: MemoryNotifier,
    audit: MemoryAudit,
}

impl World {
    fn new() -> Self {
        let iam = MemoryIam::new();
        iam.add_key(USER, KEY).add_key(USER, OTHER);
        iam.add_key("break-glass-1", "AKIABREAKGLASS000000");
        Self {
            iam,
            ssm: MemorySsm::new(),
            notifier: MemoryNotifier::new(),
            audit: MemoryAudit::new(),
        }
    }

    fn router(&self) -> Arc<dyn Executor> {
        Router::new()
            .with(ActionKind::DISABLE_ACCESS_KEY, self.iam.clone().into_arc())
            .with(ActionKind::RUN_COMMAND, self.ssm.clone().into_arc())
            .with(ActionKind::NOTIFY, self.notifier.clone().into_arc())
            .into_arc()
    }

    fn remediator(&self) -> remedy::remediate::RemediatorBuilder {
        Remediator::builder(self.router()).with_audit(Arc::new(self.audit.clone()))
    }
}

fn source(policy: &str) -> Source {
    Source {
        policy: policy.into(),
        version: "v1".into(),
        reason: Some("because".into()),
        line: None,
    }
}

fn disable(user: &str, key: &str) -> Action {
    Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new(user).unwrap(),
        access_key_id: AccessKeyId::new(key).unwrap(),
    })
}

fn notify(message: &str) -> Action {
    Action::Notify(Notify {
        channel: "security".into(),
        message: message.into(),
    })
}

fn plan(id: &str, actions: Vec<Action>, policy: &str) -> Plan {
    plan_for(finding(id), actions, policy)
}

fn plan_for(finding: FindingContext, actions: Vec<Action>, policy: &str) -> Plan {
    let mut plan = Plan::new(finding, "set-v1");
    plan.evaluated = vec![policy.into()];
    // Notification first on purpose: the remediator runs it last.
    for a in actions {
        plan.push(a, source(policy));
    }
    plan
}

fn finding(id: &str) -> FindingContext {
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

fn iam_plan(id: &str) -> Plan {
    plan(
        id,
        vec![notify("key disabled"), disable(USER, KEY)],
        "disable-key",
    )
}

#[tokio::test]
async fn dry_run_is_the_default_and_changes_nothing() {
    let w = World::new();
    let r = w.remediator().build();
    let report = r.run(&iam_plan("f1")).await;
    assert_eq!(report.mode, Mode::DryRun);
    assert_eq!(report.actions.len(), 2);
    assert_eq!(report.actions[0].kind, ActionKind::DISABLE_ACCESS_KEY);
    assert!(matches!(
        report.actions[0].outcome,
        Outcome::Skipped(SkipReason::DryRun { ref would }) if would.contains(KEY)
    ));
    assert_eq!(w.iam.is_active(USER, KEY), Some(true));
    assert!(w.notifier.messages().is_empty());
    // Decision + two actions audited.
    assert_eq!(w.audit.records().len(), 3);
    assert!(matches!(w.audit.records()[0], AuditRecord::Decision(_)));
}

#[tokio::test]
async fn enforcing_disables_exactly_the_key_and_reports_it_in_the_notification() {
    let w = World::new();
    let r = w.remediator().enforce(true).build();
    let report = r.run(&iam_plan("f1")).await;
    assert_eq!(report.count(Status::Executed), 2, "{report:#?}");
    assert_eq!(w.iam.is_active(USER, KEY), Some(false));
    assert_eq!(w.iam.is_active(USER, OTHER), Some(true));
    let messages = w.notifier.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].body.contains("set to inactive"),
        "{}",
        messages[0].body
    );
    assert!(messages[0].body.contains("finding id: f1"));
}

#[tokio::test]
async fn a_repeated_finding_is_already_done() {
    let w = World::new();
    let r = w.remediator().enforce(true).build();
    r.run(&iam_plan("f1")).await;
    let again = r.run(&iam_plan("f1")).await;
    assert_eq!(again.count(Status::AlreadyDone), 2, "{again:#?}");
    assert_eq!(w.notifier.messages().len(), 1);
    assert_eq!(w.iam.is_active(USER, OTHER), Some(true));
}

#[tokio::test]
async fn the_file_ledger_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::new();
    let build = || {
        w.remediator()
            .enforce(true)
            .with_ledger(Arc::new(FileLedger::open(dir.path()).unwrap()))
            .build()
    };
    let first = build().run(&iam_plan("f1")).await;
    assert_eq!(first.count(Status::Executed), 2);
    // Someone re-enables the key; a redelivered finding still must not act twice.
    let second = build().run(&iam_plan("f1")).await;
    assert_eq!(second.count(Status::AlreadyDone), 2);
    // A dry run reads the same ledger.
    let dry = w
        .remediator()
        .with_ledger(Arc::new(FileLedger::open(dir.path()).unwrap()))
        .build()
        .run(&iam_plan("f1"))
        .await;
    assert_eq!(dry.count(Status::AlreadyDone), 2);
}

#[tokio::test]
async fn protected_users_are_never_touched() {
    let w = World::new();
    let protection = Protection::new(&ProtectConfig {
        users: vec!["break-glass-*".into()],
        ..ProtectConfig::default()
    })
    .unwrap();
    let r = w
        .remediator()
        .enforce(true)
        .with_protection(protection)
        .build();
    let p = plan(
        "f2",
        vec![disable("break-glass-1", "AKIABREAKGLASS000000")],
        "p",
    );
    let report = r.run(&p).await;
    let outcome = &report.actions[0].outcome;
    assert_eq!(
        outcome.to_string(),
        "skipped: protected by user `break-glass-*`"
    );
    assert_eq!(
        w.iam.is_active("break-glass-1", "AKIABREAKGLASS000000"),
        Some(true)
    );
    let guards = &report.actions[0].guards;
    assert!(
        guards
            .iter()
            .any(|g| g.guard == Guard::Protection && !g.passed)
    );
}

#[tokio::test]
async fn shadow_policies_report_but_do_not_execute() {
    let w = World::new();
    let r = w
        .remediator()
        .enforce(true)
        .with_shadow_policy("disable-key")
        .build();
    let report = r.run(&iam_plan("f1")).await;
    assert!(matches!(
        &report.actions[0].outcome,
        Outcome::Skipped(SkipReason::Shadow { policies, .. }) if policies == &["disable-key"]
    ));
    assert_eq!(w.iam.is_active(USER, KEY), Some(true));
    assert!(w.notifier.messages().is_empty());
}

#[tokio::test]
async fn the_kill_switch_stops_destructive_actions_but_not_notifications() {
    let w = World::new();
    let kill = KillSwitch::new();
    let r = w
        .remediator()
        .enforce(true)
        .with_kill_switch(kill.clone())
        .build();
    kill.engage();
    let report = r.run(&iam_plan("f1")).await;
    assert!(matches!(
        report.actions[0].outcome,
        Outcome::Skipped(SkipReason::KillSwitch { .. })
    ));
    assert_eq!(w.iam.is_active(USER, KEY), Some(true));
    assert_eq!(w.notifier.messages().len(), 1);
    assert!(w.notifier.messages()[0].body.contains("kill switch"));
}

#[tokio::test]
async fn sample_findings_never_lead_to_destructive_actions() {
    let w = World::new();
    let r = w.remediator().enforce(true).build();
    let mut p = iam_plan("f1");
    p.finding.sample = true;
    let report = r.run(&p).await;
    assert!(matches!(
        report.actions[0].outcome,
        Outcome::Skipped(SkipReason::Sample)
    ));
    assert_eq!(w.iam.is_active(USER, KEY), Some(true));
}

#[tokio::test]
async fn the_rate_limit_trips_the_breaker_which_notifies_and_blocks() {
    let w = World::new();
    for i in 0..4 {
        w.iam
            .add_key(&format!("user{i}"), &format!("AKIAUSERKEY0000000{i:02}"));
    }
    let r = w
        .remediator()
        .enforce(true)
        .with_rate_limit(ActionKind::DISABLE_ACCESS_KEY, RateLimit::new(2, 3600))
        .with_breaker(Duration::from_secs(600), "security")
        .build();
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let id = format!("f{i}");
        let p = plan(
            &id,
            vec![disable(
                &format!("user{i}"),
                &format!("AKIAUSERKEY0000000{i:02}"),
            )],
            "p",
        );
        let report = r.run(&p).await;
        outcomes.push(
            report
                .actions
                .iter()
                .map(|a| a.outcome.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert!(
        outcomes[0][0].is_success() && outcomes[1][0].is_success(),
        "{outcomes:#?}"
    );
    assert!(matches!(
        outcomes[2][0],
        Outcome::Skipped(SkipReason::RateLimited { .. })
    ));
    // The breaker's own notification is part of the report of the finding that tripped it.
    assert_eq!(outcomes[2].len(), 2);
    assert!(outcomes[2][1].is_success());
    assert!(matches!(
        outcomes[3][0],
        Outcome::Skipped(SkipReason::CircuitOpen { .. })
    ));
    let messages = w.notifier.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].body.contains("circuit breaker tripped"));
    assert_eq!(w.iam.is_active("user2", "AKIAUSERKEY000000002"), Some(true));
}

#[derive(Debug)]
struct Broken(ErrorKind);

#[async_trait]
impl Executor for Broken {
    async fn execute(&self, _: &ActionRequest<'_>) -> Outcome {
        Outcome::failed(self.0, "backend said no")
    }
}

#[derive(Debug)]
struct Panicking;

#[async_trait]
impl Executor for Panicking {
    async fn execute(&self, _: &ActionRequest<'_>) -> Outcome {
        panic!("executor bug")
    }
}

#[tokio::test]
async fn a_per_account_limit_skips_one_accounts_excess_and_the_others_are_still_answered() {
    let w = World::new();
    let r = w
        .remediator()
        .enforce(true)
        .with_rate_limit(
            ActionKind::DISABLE_ACCESS_KEY,
            RateLimit::new(10, 3600).with_per_account(2),
        )
        .with_breaker(Duration::from_secs(600), "security")
        .build();
    let mut statuses = Vec::new();
    // Four keys in a noisy account, then one in another account.
    for (i, account) in ["111111111111"; 4]
        .into_iter()
        .chain(["222222222222"])
        .enumerate()
    {
        let (user, key) = (format!("user{i}"), format!("AKIAUSERKEY0000000{i:02}"));
        w.iam.add_key(&user, &key);
        let mut context = finding(&format!("f{i}"));
        context.account_id = account.into();
        let report = r
            .run(&plan_for(context, vec![disable(&user, &key)], "p"))
            .await;
        statuses.push(report.actions[0].outcome.clone());
    }
    assert!(
        statuses[0].is_success() && statuses[1].is_success(),
        "{statuses:#?}"
    );
    for skipped in &statuses[2..4] {
        assert!(
            matches!(skipped, Outcome::Skipped(SkipReason::RateLimited { limit, .. })
                if limit.contains("in account 111111111111")),
            "{skipped:?}"
        );
    }
    // The other account is answered: one account's window does not trip the breaker.
    assert!(statuses[4].is_success(), "{:?}", statuses[4]);
    assert_eq!(
        w.iam.is_active("user1", "AKIAUSERKEY000000001"),
        Some(false)
    );
    assert_eq!(w.iam.is_active("user2", "AKIAUSERKEY000000002"), Some(true));
    assert_eq!(
        w.iam.is_active("user4", "AKIAUSERKEY000000004"),
        Some(false)
    );
    assert!(
        w.notifier
            .messages()
            .iter()
            .all(|m| !m.body.contains("breaker")),
        "{:?}",
        w.notifier.messages()
    );
}

#[tokio::test]
async fn a_stopping_remediator_reports_every_listed_plan_and_leaves_an_open_stream() {
    let w = World::new();
    let r = w.remediator().enforce(true).build();
    r.shutdown().stop(Duration::from_secs(30));
    // A list: every plan gets its report, its destructive action interrupted.
    let reports = r.run_all((0..3).map(|i| iam_plan(&format!("f{i}")))).await;
    assert_eq!(reports.len(), 3);
    for report in &reports {
        assert!(
            report
                .actions
                .iter()
                .any(|a| matches!(a.outcome, Outcome::Skipped(SkipReason::Interrupted)))
        );
    }
    assert_eq!(w.iam.is_active(USER, KEY), Some(true));
    // A stream whose sender is still open: the call returns instead of waiting for more.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let mut seen = 0;
    tokio::time::timeout(
        Duration::from_secs(5),
        r.run_received(&mut rx, |_, _| seen += 1),
    )
    .await
    .expect("a stopping remediator stops reading its stream");
    assert_eq!(seen, 0);
    drop(tx);
}

#[tokio::test]
async fn failures_and_panics_are_recorded_and_can_be_retried_later() {
    let audit = MemoryAudit::new();
    let router = Router::new()
        .with(
            ActionKind::DISABLE_ACCESS_KEY,
            Arc::new(Broken(ErrorKind::Unavailable)),
        )
        .with(ActionKind::RUN_COMMAND, Arc::new(Panicking));
    let r = Remediator::builder(router.into_arc())
        .with_audit(Arc::new(audit.clone()))
        .enforce(true)
        .build();
    let run = Action::RunCommand(RunCommand {
        document: "AWS-RunShellScript".into(),
        instance_ids: vec![InstanceId::new("i-0123456789abcdef0").unwrap()],
        parameters: Default::default(),
    });
    let p = plan("f1", vec![disable(USER, KEY), run, notify("hello")], "p");
    let report = r.run(&p).await;
    let statuses: Vec<_> = report.actions.iter().map(|a| a.outcome.status()).collect();
    assert_eq!(statuses, [Status::Failed; 3]);
    assert_eq!(
        report.actions[0].outcome.error().unwrap().kind(),
        ErrorKind::Unavailable
    );
    assert!(report.actions[1].outcome.to_string().contains("panicked"));
    assert_eq!(
        report.actions[2].outcome.error().unwrap().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(audit.actions().len(), 3);
    // The failed claim was released: the next delivery tries again.
    let again = r.run(&p).await;
    assert_eq!(again.count(Status::Failed), 3);
}

#[tokio::test]
async fn the_json_lines_audit_holds_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit/remedy.jsonl");
    let w = World::new();
    let r = Remediator::builder(w.router())
        .with_audit(Arc::new(JsonLinesAudit::open(&path).unwrap()))
        .enforce(true)
        .build();
    r.run(&iam_plan("f1")).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Decision, the intent written before the key was disabled, the outcome, the notification.
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0]["record"], "decision");
    let intent = &lines[1];
    assert_eq!(intent["record"], "intent");
    assert_eq!(intent["action"]["kind"], "disable_access_key");
    let action = &lines[2];
    assert_eq!(action["record"], "action");
    assert_eq!(action["intent"], intent["intent"]);
    assert_eq!(action["finding_id"], "f1");
    assert_eq!(action["policy"], "disable-key");
    assert_eq!(action["policy_version"], "v1");
    assert_eq!(action["kind"], "disable_access_key");
    assert_eq!(action["params"]["access_key_id"], KEY);
    assert_eq!(action["outcome"]["status"], "executed");
    assert!(action["guards"].as_array().unwrap().len() >= 5);
    assert!(action["time"].as_str().unwrap().contains('T'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_findings_run_concurrently_and_a_failure_does_not_stop_the_others() {
    let w = World::new();
    for i in 0..40 {
        w.iam
            .add_key(&format!("u{i}"), &format!("AKIACONCURRENT000{i:03}"));
    }
    let r = w.remediator().enforce(true).with_concurrency(4).build();
    let items = (0..41).map(|i| {
        let id = format!("f{i}");
        // Finding 40 names a key that does not exist: it fails, the others succeed.
        plan(
            &id,
            vec![disable(
                &format!("u{i}"),
                &format!("AKIACONCURRENT000{i:03}"),
            )],
            "p",
        )
    });
    let reports = r.run_all(items).await;
    assert_eq!(reports.len(), 41);
    assert_eq!(&*reports[7].finding.id, "f7");
    let executed = reports
        .iter()
        .filter(|r| r.count(Status::Executed) == 1)
        .count();
    assert_eq!(executed, 40);
    let failed = &reports[40].actions[0].outcome;
    assert_eq!(failed.error().unwrap().kind(), ErrorKind::NotFound);
}
