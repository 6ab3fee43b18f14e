//! Running a plan: guards, enforcement, idempotency, audit, bounded concurrency.
//!
//! The [`Remediator`] takes a finding and the [`Plan`] the policies made for it, and carries the
//! plan out through an [`Executor`] (usually a [`crate::Router`]). Every action goes through the
//! same path whether the run is a dry run or not:
//!
//! 1. guards for destructive actions: kill switch, sample finding, protection, circuit breaker;
//! 2. enforcement: dry run (the default), shadow mode for a policy, or enforce;
//! 3. the idempotency [`Ledger`]: read in a dry run, claimed atomically before executing;
//! 4. the rate limit of the action's kind (exceeding it trips the circuit breaker and notifies);
//! 5. the executor (or, when not enforcing, [`crate::DryRun`] around it).
//!
//! Each step's result is kept in the action's [`ActionRecord`], written to the [`AuditSink`]
//! whatever the outcome. Notifications run after the plan's other actions, so that they can say
//! what remedy did.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::action::{
    ActionRequest, DryRun, ErrorKind, Executor, FindingContext, Outcome, PriorOutcome, SkipReason,
};
use crate::plan::{Action, ActionKind, Notify, Plan, PlannedAction, Source};

mod audit;
mod config;
mod guard;
mod ledger;

pub use audit::{
    ActionRecord, AuditError, AuditRecord, AuditSink, DecisionRecord, JsonLinesAudit, MemoryAudit,
    Mode, TracingAudit,
};
pub use config::{
    AwsConfig, BreakerConfig, Config, ConfigError, EnforcementConfig, NotifyConfig, PathConfig,
};
pub use guard::{GuardResult, KillSwitch, ProtectConfig, Protection, RateLimit, TagRule};
pub use ledger::{
    Claim, EntryState, FileLedger, Ledger, LedgerEntry, LedgerError, LedgerKey, MemoryLedger,
};

use guard::{Admission, Limiter};
use ledger::now_rfc3339;

/// The default number of findings handled at once.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// What came of one finding's plan.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The finding's id.
    pub finding_id: String,
    /// The finding's type.
    pub finding_type: String,
    /// The run's mode.
    pub mode: Mode,
    /// One record per action (plus the remediator's own notifications), in execution order.
    pub actions: Vec<ActionRecord>,
    /// Records the audit sink failed to write (the records are still in `actions`).
    pub audit_errors: Vec<String>,
}

impl Report {
    /// How many actions ended with `status` (`executed`, `already_done`, `skipped`, `failed`).
    pub fn count(&self, status: &str) -> usize {
        self.actions
            .iter()
            .filter(|a| a.outcome.status() == status)
            .count()
    }

    /// Whether an action failed or a record could not be written.
    pub fn has_failures(&self) -> bool {
        self.count("failed") > 0 || !self.audit_errors.is_empty()
    }
}

/// Carries out plans safely; cheap to clone (clones share ledger, limits and sinks).
#[derive(Debug, Clone)]
pub struct Remediator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    executor: Arc<dyn Executor>,
    dry: Arc<dyn Executor>,
    ledger: Arc<dyn Ledger>,
    audit: Arc<dyn AuditSink>,
    protection: Protection,
    limiter: Limiter,
    breaker_channel: String,
    kill_switch: KillSwitch,
    enforce: bool,
    shadow: BTreeSet<String>,
    only: Option<BTreeSet<String>>,
    concurrency: usize,
}

/// Builds a [`Remediator`]; everything but the executor has a safe default (dry run, in-memory
/// ledger, audit to `tracing`, no protection, no rate limits).
#[derive(Debug)]
pub struct RemediatorBuilder {
    executor: Arc<dyn Executor>,
    ledger: Arc<dyn Ledger>,
    audit: Arc<dyn AuditSink>,
    protection: Protection,
    limits: BTreeMap<ActionKind, RateLimit>,
    cooldown: Duration,
    breaker_channel: String,
    kill_switch: KillSwitch,
    enforce: bool,
    shadow: BTreeSet<String>,
    only: Option<BTreeSet<String>>,
    concurrency: usize,
}

impl Remediator {
    /// A builder around `executor`, which carries out every action that is enforced.
    pub fn builder(executor: Arc<dyn Executor>) -> RemediatorBuilder {
        let breaker = BreakerConfig::default();
        RemediatorBuilder {
            executor,
            ledger: Arc::new(MemoryLedger::new()),
            audit: Arc::new(TracingAudit),
            protection: Protection::default(),
            limits: BTreeMap::new(),
            cooldown: Duration::from_secs(breaker.cooldown_secs),
            breaker_channel: breaker.notify,
            kill_switch: KillSwitch::new(),
            enforce: false,
            shadow: BTreeSet::new(),
            only: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The run's mode.
    pub fn mode(&self) -> Mode {
        if self.inner.enforce {
            Mode::Enforce
        } else {
            Mode::DryRun
        }
    }

    /// How many findings [`Remediator::run_each`] handles at once.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// The kill switch (engage it to stop destructive actions at once).
    pub fn kill_switch(&self) -> &KillSwitch {
        &self.inner.kill_switch
    }

    /// Carries out `plan` for `finding`; every action ends in a record, none is lost.
    pub async fn run(&self, finding: &FindingContext, plan: &Plan) -> Report {
        let inner = &self.inner;
        let mode = self.mode();
        let finding = Arc::new(finding.clone());
        let mut report = Report {
            finding_id: finding.id.clone(),
            finding_type: finding.finding_type.clone(),
            mode,
            actions: Vec::new(),
            audit_errors: Vec::new(),
        };
        let decision = AuditRecord::Decision(DecisionRecord {
            time: now_rfc3339(),
            mode,
            plan: plan.clone(),
        });
        if let Err(e) = inner.audit.record(&decision).await {
            tracing::error!("{e}");
            report.audit_errors.push(e.to_string());
        }

        // Notifications last, so they can report what the other actions came to.
        let (notify, others): (Vec<&PlannedAction>, Vec<&PlannedAction>) = plan
            .actions
            .iter()
            .partition(|p| matches!(p.action, Action::Notify(_)));
        let mut prior = Vec::new();
        for planned in others.into_iter().chain(notify) {
            let mut records = Vec::new();
            let record = self
                .run_action(&finding, plan, planned, &prior, &mut records)
                .await;
            if !matches!(planned.action, Action::Notify(_)) {
                prior.push(PriorOutcome {
                    kind: record.kind.clone(),
                    target: record.target.clone(),
                    summary: record.outcome.to_string(),
                });
            }
            records.insert(0, record);
            for record in records {
                if let Err(e) = inner
                    .audit
                    .record(&AuditRecord::Action(record.clone()))
                    .await
                {
                    tracing::error!("{e}");
                    report.audit_errors.push(e.to_string());
                }
                report.actions.push(record);
            }
        }
        report
    }

    /// Carries out `plan` for a parsed finding (see [`Remediator::run`]).
    pub async fn run_finding(&self, finding: &crate::finding::Finding, plan: &Plan) -> Report {
        self.run(&FindingContext::from(finding), plan).await
    }

    /// Runs many plans, at most [`Remediator::concurrency`] findings at once, calling `on_report`
    /// with each finding's index in `items` and its report as it completes. One finding's failure
    /// never stops the others.
    pub async fn run_each<I, F>(&self, items: I, mut on_report: F)
    where
        I: IntoIterator<Item = (FindingContext, Plan)>,
        F: FnMut(usize, Report),
    {
        let mut tasks = JoinSet::new();
        let mut meta: HashMap<tokio::task::Id, (usize, String, String)> = HashMap::new();
        let mut finish =
            |joined: Result<(usize, Report), tokio::task::JoinError>,
             meta: &mut HashMap<tokio::task::Id, (usize, String, String)>| {
                match joined {
                    Ok((index, report)) => on_report(index, report),
                    Err(e) => {
                        if let Some((index, finding_id, finding_type)) = meta.remove(&e.id()) {
                            on_report(
                                index,
                                Report {
                                    finding_id,
                                    finding_type,
                                    mode: self.mode(),
                                    actions: Vec::new(),
                                    audit_errors: vec![format!("remediation task failed: {e}")],
                                },
                            );
                        }
                    }
                }
            };
        for (index, (finding, plan)) in items.into_iter().enumerate() {
            while tasks.len() >= self.inner.concurrency {
                if let Some(joined) = tasks.join_next_with_id().await {
                    finish(joined.map(|(_, r)| r), &mut meta);
                }
            }
            let this = self.clone();
            let (id, kind) = (finding.id.clone(), finding.finding_type.clone());
            let handle = tasks.spawn(async move { (index, this.run(&finding, &plan).await) });
            meta.insert(handle.id(), (index, id, kind));
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            finish(joined.map(|(_, r)| r), &mut meta);
        }
    }

    /// Runs many plans with bounded concurrency and returns the reports in input order.
    pub async fn run_all<I>(&self, items: I) -> Vec<Report>
    where
        I: IntoIterator<Item = (FindingContext, Plan)>,
    {
        let mut reports = Vec::new();
        self.run_each(items, |index, report| reports.push((index, report)))
            .await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, r)| r).collect()
    }

    async fn run_action(
        &self,
        finding: &Arc<FindingContext>,
        plan: &Plan,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        extra: &mut Vec<ActionRecord>,
    ) -> ActionRecord {
        let start = Instant::now();
        let mut guards = Vec::new();
        let outcome = self
            .guarded(finding, plan, planned, prior, &mut guards, extra)
            .await;
        let first = planned.sources.first();
        ActionRecord {
            time: now_rfc3339(),
            mode: self.mode(),
            finding_id: finding.id.clone(),
            finding_type: finding.finding_type.clone(),
            kind: planned.action.kind(),
            target: planned.action.target(),
            params: planned.action.params(),
            policy: first.map_or_else(|| "remedy".into(), |s| s.policy.to_string()),
            policy_version: first.map(|s| s.version.to_string()).unwrap_or_default(),
            sources: planned.sources.clone(),
            guards,
            outcome,
            duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    async fn guarded(
        &self,
        finding: &Arc<FindingContext>,
        plan: &Plan,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        guards: &mut Vec<GuardResult>,
        extra: &mut Vec<ActionRecord>,
    ) -> Outcome {
        let inner = &self.inner;
        let action = &planned.action;
        let destructive = action.is_destructive();
        if destructive {
            if let Some(source) = inner.kill_switch.engaged() {
                guards.push(GuardResult::block("kill_switch", &source));
                return Outcome::Skipped(SkipReason::KillSwitch { source });
            }
            guards.push(GuardResult::pass("kill_switch"));
            if plan.sample || finding.sample {
                guards.push(GuardResult::block("sample", "sample finding"));
                return Outcome::Skipped(SkipReason::Sample);
            }
            guards.push(GuardResult::pass("sample"));
            if let Some(by) = inner.protection.check(action, finding) {
                guards.push(GuardResult::block("protection", &by));
                return Outcome::Skipped(SkipReason::Protected { by });
            }
            guards.push(GuardResult::pass("protection"));
            if let Some(cause) = inner.limiter.open_cause() {
                guards.push(GuardResult::block("circuit_breaker", &cause));
                return Outcome::Skipped(SkipReason::CircuitOpen { cause });
            }
            guards.push(GuardResult::pass("circuit_breaker"));
        }

        let key = LedgerKey::new(&finding.id, action);
        let shadowed = self.shadowed(&planned.sources);
        if !inner.enforce || !shadowed.is_empty() {
            // Dry run or shadow mode: same path, the ledger only read, nothing executed.
            match inner.ledger.get(&key).await {
                Ok(Some(entry)) if entry.state == EntryState::Done => {
                    guards.push(GuardResult::block("ledger", "done by an earlier run"));
                    return Outcome::already_done(done_details(&entry));
                }
                Ok(_) => guards.push(GuardResult::pass("ledger")),
                Err(e) => guards.push(GuardResult {
                    guard: "ledger",
                    passed: true,
                    detail: Some(format!("not readable: {e}")),
                }),
            }
            if let Some(outcome) = self.rate_limit(finding, action, guards, extra).await {
                return outcome;
            }
            let detail = if inner.enforce {
                "shadow mode"
            } else {
                "dry run"
            };
            guards.push(GuardResult::block("enforcement", detail));
            let outcome =
                execute_isolated(&inner.dry, finding, action, &planned.sources, prior).await;
            return match outcome {
                Outcome::Skipped(SkipReason::DryRun { would }) if inner.enforce => {
                    Outcome::Skipped(SkipReason::Shadow {
                        policies: shadowed,
                        would,
                    })
                }
                other => other,
            };
        }
        guards.push(GuardResult::pass("enforcement"));

        match inner.ledger.claim(&key).await {
            Ok(Claim::Acquired) => guards.push(GuardResult::pass("ledger")),
            Ok(Claim::Held(entry)) => {
                guards.push(GuardResult::block("ledger", "claimed by an earlier run"));
                return Outcome::already_done(done_details(&entry));
            }
            Err(e) => {
                guards.push(GuardResult::block("ledger", e.to_string()));
                return Outcome::Failed(crate::ActionError::new(
                    ErrorKind::Unavailable,
                    format!("not executed: cannot claim the action in the ledger: {e}"),
                ));
            }
        }
        if let Some(outcome) = self.rate_limit(finding, action, guards, extra).await {
            self.release(&key).await;
            return outcome;
        }
        let outcome =
            execute_isolated(&inner.executor, finding, action, &planned.sources, prior).await;
        if outcome.is_success() {
            let details = match &outcome {
                Outcome::Executed { details } | Outcome::AlreadyDone { details } => {
                    details.as_str()
                }
                _ => "",
            };
            if let Err(e) = inner.ledger.complete(&key, details).await {
                tracing::error!("{e}");
                guards.push(GuardResult {
                    guard: "ledger",
                    passed: true,
                    detail: Some(format!("executed, but not recorded as done: {e}")),
                });
            }
        } else {
            self.release(&key).await;
        }
        outcome
    }

    async fn release(&self, key: &LedgerKey) {
        if let Err(e) = self.inner.ledger.release(key).await {
            tracing::error!("{e}");
        }
    }

    /// The sources' policies that are in shadow mode, when none of the sources is enforced.
    fn shadowed(&self, sources: &[Source]) -> Vec<String> {
        let inner = &self.inner;
        let enforced = |policy: &str| {
            !inner.shadow.contains(policy) && inner.only.as_ref().is_none_or(|o| o.contains(policy))
        };
        if sources.is_empty() || sources.iter().any(|s| enforced(&s.policy)) {
            return Vec::new();
        }
        sources.iter().map(|s| s.policy.to_string()).collect()
    }

    async fn rate_limit(
        &self,
        finding: &Arc<FindingContext>,
        action: &Action,
        guards: &mut Vec<GuardResult>,
        extra: &mut Vec<ActionRecord>,
    ) -> Option<Outcome> {
        let kind = action.kind();
        match self.inner.limiter.admit(&kind, action.is_destructive()) {
            Admission::Admitted => None,
            Admission::Limited { limit, tripped } => {
                guards.push(GuardResult::block("rate_limit", limit.to_string()));
                if tripped {
                    extra.push(self.breaker_tripped(finding, &kind, limit).await);
                }
                Some(Outcome::Skipped(SkipReason::RateLimited {
                    action_kind: kind.to_string(),
                    limit: limit.to_string(),
                }))
            }
        }
    }

    /// Tells the breaker channel that destructive actions are stopped.
    async fn breaker_tripped(
        &self,
        finding: &Arc<FindingContext>,
        kind: &ActionKind,
        limit: RateLimit,
    ) -> ActionRecord {
        let inner = &self.inner;
        let start = Instant::now();
        let message = format!(
            "remedy circuit breaker tripped: the rate limit of `{kind}` ({limit}) was exceeded while \
             handling finding {}. Destructive actions are stopped for {} s; findings keep being \
             evaluated, audited and notified. Check the policies that chose `{kind}` before the \
             breaker closes.",
            finding.id,
            inner.limiter.cooldown().as_secs()
        );
        let action = Action::Notify(Notify {
            channel: inner.breaker_channel.clone(),
            message,
        });
        let executor = if inner.enforce {
            &inner.executor
        } else {
            &inner.dry
        };
        let outcome = execute_isolated(executor, finding, &action, &[], &[]).await;
        ActionRecord {
            time: now_rfc3339(),
            mode: self.mode(),
            finding_id: finding.id.clone(),
            finding_type: finding.finding_type.clone(),
            kind: action.kind(),
            target: action.target(),
            params: action.params(),
            policy: "remedy".into(),
            policy_version: String::new(),
            sources: Vec::new(),
            guards: vec![GuardResult::block(
                "circuit_breaker",
                format!("tripped by the rate limit of `{kind}`"),
            )],
            outcome,
            duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn done_details(entry: &LedgerEntry) -> String {
    match (&entry.state, &entry.details) {
        (EntryState::Done, Some(d)) => format!("done by an earlier run at {}: {d}", entry.at),
        (EntryState::Done, None) => format!("done by an earlier run at {}", entry.at),
        (EntryState::Claimed, _) => format!(
            "claimed by another run at {}; its outcome is not recorded (check the audit trail)",
            entry.at
        ),
    }
}

/// Runs the executor in its own task, so that a panicking executor becomes a failed outcome.
async fn execute_isolated(
    executor: &Arc<dyn Executor>,
    finding: &Arc<FindingContext>,
    action: &Action,
    sources: &[Source],
    prior: &[PriorOutcome],
) -> Outcome {
    let executor = Arc::clone(executor);
    let finding = Arc::clone(finding);
    let action = action.clone();
    let sources = sources.to_vec();
    let prior = prior.to_vec();
    let task = tokio::spawn(async move {
        let request = ActionRequest::new(&action, &finding)
            .with_sources(&sources)
            .with_prior(&prior);
        executor.execute(&request).await
    });
    match task.await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => Outcome::failed(
            ErrorKind::Other,
            "the executor panicked; the action's effect is unknown",
        ),
        Err(e) => Outcome::failed(ErrorKind::Other, format!("the executor task ended: {e}")),
    }
}

impl RemediatorBuilder {
    /// Applies a configuration: protection, rate limits, breaker, ledger and audit files,
    /// enforcement and concurrency. Opens the ledger directory and the audit file.
    pub fn with_config(mut self, config: &Config) -> Result<Self, ConfigError> {
        self.protection = Protection::new(&config.protect)?;
        self.limits = config.rate_limits_by_kind();
        self.cooldown = Duration::from_secs(config.breaker.cooldown_secs);
        self.breaker_channel = config.breaker.notify.clone();
        if let Some(path) = &config.ledger.path {
            let ledger = FileLedger::open(path).map_err(|e| ConfigError::Open {
                what: "ledger",
                message: e.to_string(),
            })?;
            self.ledger = Arc::new(ledger);
        }
        if let Some(path) = &config.audit.path {
            let audit = JsonLinesAudit::open(path).map_err(|e| ConfigError::Open {
                what: "audit trail",
                message: e.to_string(),
            })?;
            self.audit = Arc::new(audit);
        }
        self.enforce = config.enforcement.enforce;
        self.shadow = config.enforcement.shadow.iter().cloned().collect();
        self.only = config
            .enforcement
            .only
            .as_ref()
            .map(|o| o.iter().cloned().collect());
        if let Some(file) = &config.enforcement.kill_switch_file {
            self.kill_switch = self.kill_switch.with_file(file);
        }
        if let Some(n) = config.concurrency {
            self.concurrency = n.max(1);
        }
        Ok(self)
    }

    /// Sets the idempotency ledger (default: in memory).
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = ledger;
        self
    }

    /// Sets the audit sink (default: [`TracingAudit`]).
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// Sets the protection rules.
    pub fn with_protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Limits actions of `kind`.
    pub fn with_rate_limit(mut self, kind: ActionKind, limit: RateLimit) -> Self {
        self.limits.insert(kind, limit);
        self
    }

    /// Sets how long the breaker stays open and which channel it tells.
    pub fn with_breaker(mut self, cooldown: Duration, channel: impl Into<String>) -> Self {
        self.cooldown = cooldown;
        self.breaker_channel = channel.into();
        self
    }

    /// Sets the kill switch (keep a clone to engage it).
    pub fn with_kill_switch(mut self, kill_switch: KillSwitch) -> Self {
        self.kill_switch = kill_switch;
        self
    }

    /// Executes enforced policies' actions (default false: dry run).
    pub fn enforce(mut self, enforce: bool) -> Self {
        self.enforce = enforce;
        self
    }

    /// Keeps `policy` in shadow mode.
    pub fn with_shadow_policy(mut self, policy: impl Into<String>) -> Self {
        self.shadow.insert(policy.into());
        self
    }

    /// Sets how many findings are handled at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Builds the remediator.
    pub fn build(self) -> Remediator {
        let dry: Arc<dyn Executor> = Arc::new(DryRun::new(Arc::clone(&self.executor)));
        Remediator {
            inner: Arc::new(Inner {
                executor: self.executor,
                dry,
                ledger: self.ledger,
                audit: self.audit,
                protection: self.protection,
                limiter: Limiter::new(self.limits, self.cooldown),
                breaker_channel: self.breaker_channel,
                kill_switch: self.kill_switch,
                enforce: self.enforce,
                shadow: self.shadow,
                only: self.only,
                concurrency: self.concurrency,
            }),
        }
    }
}
