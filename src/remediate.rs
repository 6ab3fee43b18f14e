//! Running a plan: guards, enforcement, idempotency, audit, bounded concurrency.
//!
//! The [`Remediator`] takes a [`Plan`] (which carries its finding's context) and carries it out
//! through an [`Executor`] (usually a [`crate::action::Router`]). What must outlive a call (the
//! ledger, the audit trail, approvals, rate windows) is kept by the stores of [`crate::store`]. Every action goes through the
//! same path whether the run is a dry run or not:
//!
//! 1. guards for destructive actions ([`Guard`](crate::store::audit::Guard)): kill switch (local, then shared), sample
//!    finding, credentials that an action cannot contain, protection, circuit breaker;
//! 2. the idempotency [`Ledger`]: read in a dry run, claimed atomically before executing;
//! 3. the rate limit of the action's kind (exceeding it trips the circuit breaker and notifies);
//!    rate windows, the breaker and the shared kill switch live in a [`StateStore`], so that
//!    several workers sharing one store act as one (a destructive action whose state cannot be
//!    read or written is not executed: `failed`, kind `state_unavailable`);
//! 4. enforcement: dry run (the default), shadow mode for a policy, or enforce;
//! 5. the executor (or, when not enforcing, a report of what it would do).
//!
//! Each step's result is kept in the action's [`ActionRecord`], written to the [`AuditSink`]
//! whatever the outcome. Notifications run after the plan's other actions, so that they can say
//! what remedy did.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::action::{Executor, Outcome, PriorOutcome, SkipReason, Status};
use crate::plan::{
    Action, ActionKind, FindingContext, Plan, PlannedAction, PolicyFailure, is_writeback,
};

mod accounts;
mod approval;
mod breaker;
mod builder;
mod carry;
mod guard;
mod limit;
mod lock;
mod protect;
mod shutdown;

#[cfg(feature = "chat")]
pub(crate) use approval::SLACK_DECIDER;
pub use builder::RemediatorBuilder;
pub use limit::KillSwitch;
pub use protect::Protection;
pub use shutdown::Shutdown;

use crate::clock::{now_rfc3339, now_secs};
use crate::config::{AccountsConfig, RateLimit};
use crate::store::approval::ApprovalStore;
use crate::store::audit::{
    ActionRecord, AuditRecord, AuditSink, DecisionRecord, Mode, PolicyFailureRecord,
};
use crate::store::ledger::{Ledger, LedgerEntry, LedgerError, Owner};
use crate::store::state::StateStore;
use guard::{Checks, EnforcementRules};

/// The default number of findings handled at once.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// What came of one finding's plan.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The finding the plan was for.
    pub finding: FindingContext,
    /// The run's mode.
    pub mode: Mode,
    /// One record per action (plus the remediator's own notifications), in execution order.
    pub actions: Vec<ActionRecord>,
    /// The policies that failed while deciding (from the plan).
    pub policy_errors: Vec<PolicyFailure>,
    /// Records the audit sink failed to write (the records are still in `actions`).
    pub audit_errors: Vec<String>,
}

impl Report {
    fn new(finding: FindingContext, mode: Mode) -> Self {
        Self {
            finding,
            mode,
            actions: Vec::new(),
            policy_errors: Vec::new(),
            audit_errors: Vec::new(),
        }
    }

    /// How many actions ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.actions
            .iter()
            .filter(|a| a.outcome.status() == status)
            .count()
    }

    /// Whether an action failed or a record could not be written.
    pub fn has_failures(&self) -> bool {
        self.count(Status::Failed) > 0 || !self.audit_errors.is_empty()
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
    ledger: Arc<dyn Ledger>,
    audit: Arc<dyn AuditSink>,
    protection: Protection,
    accounts: AccountsConfig,
    limits: BTreeMap<ActionKind, RateLimit>,
    cooldown: Duration,
    state: Arc<dyn StateStore>,
    breaker_channel: String,
    kill_switch: KillSwitch,
    enforcement: EnforcementRules,
    concurrency: usize,
    owner: Owner,
    lease: Duration,
    shutdown: Shutdown,
    approval: approval::ApprovalRules,
    approvals: Arc<dyn ApprovalStore>,
    /// Whether requests are kept beyond the process (`suppress_similar` needs that).
    approvals_kept: bool,
    /// The audit key (`[audit] key_env`): approval requests and decisions are sealed with it.
    audit_key: Option<crate::store::audit::AuditKey>,
    locks: lock::LocalLocks,
    /// The clock of the rate windows, the breaker and approval expiry (virtual in a replay).
    clock: crate::clock::Clock,
    /// The write-back kinds that are on (`[writeback] kinds`).
    writeback: std::collections::BTreeSet<ActionKind>,
}

impl Inner {
    fn checks(&self) -> Checks<'_> {
        Checks {
            accounts: &self.accounts,
            kill_switch: &self.kill_switch,
            protection: &self.protection,
            state: &*self.state,
        }
    }
}

impl Remediator {
    /// A builder around `executor`, which carries out every action that is enforced.
    pub fn builder(executor: Arc<dyn Executor>) -> RemediatorBuilder {
        RemediatorBuilder::new(executor)
    }

    /// The run's mode.
    pub fn mode(&self) -> Mode {
        if self.inner.enforcement.enforce {
            Mode::Enforce
        } else {
            Mode::DryRun
        }
    }

    /// How many plans [`Remediator::run_each`] carries out at once.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// The local kill switch (engage it to stop this remediator's destructive actions at once;
    /// [`StateStore::set_stop`] stops every worker sharing the state).
    pub fn kill_switch(&self) -> &KillSwitch {
        &self.inner.kill_switch
    }

    /// The shared state: rate windows, the circuit breaker, the shared kill switch.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.state
    }

    /// The shutdown handle (stop it to end the run gracefully).
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.inner.ledger
    }

    /// The run that holds this remediator's claims.
    pub fn owner(&self) -> &Owner {
        &self.inner.owner
    }

    /// The claims of earlier runs that are unfinished and expired: work an interrupted run left
    /// (`remedy ledger reconcile` finishes it).
    pub async fn unfinished(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        let now = now_secs();
        let claims = self.inner.ledger.claims().await?;
        Ok(claims
            .into_iter()
            .filter(|c| c.is_expired(now) && !c.key.is_lock())
            .collect())
    }

    /// Carries out `plan`; every action ends in a record, none is lost.
    pub async fn run(&self, plan: &Plan) -> Report {
        self.run_closing(plan, None, None).await
    }

    /// Carries out the plan of an approved request: like [`Remediator::run`], every guard runs;
    /// the approval guard passes, naming `decision`.
    async fn run_approved(
        &self,
        plan: &Plan,
        decision: &crate::store::approval::Decision,
    ) -> Report {
        self.run_closing(plan, None, Some(decision)).await
    }

    /// The approval store.
    pub fn approvals(&self) -> &Arc<dyn ApprovalStore> {
        &self.inner.approvals
    }

    /// Whether the remediator's executor carries out actions of `kind` (see
    /// [`Executor::handles`]).
    pub fn handles(&self, kind: &ActionKind) -> bool {
        self.inner.executor.handles(kind)
    }

    /// Whether a `notify` to `channel` reaches a notifier.
    pub fn handles_channel(&self, channel: &str) -> bool {
        self.inner.executor.handles_channel(channel)
    }

    /// Audits action record `record` and adds it to `report`; an audit failure is logged and
    /// kept in the report's `audit_errors` (the record stays in the report).
    async fn keep(&self, report: &mut Report, record: ActionRecord) {
        if let Err(e) = self
            .inner
            .audit
            .record(&AuditRecord::Action(record.clone()))
            .await
        {
            tracing::error!("{e}");
            report.audit_errors.push(e.to_string());
        }
        report.actions.push(record);
    }

    /// The record of a policy's failure on `finding`.
    pub fn failure_record(
        &self,
        finding: &FindingContext,
        failure: &PolicyFailure,
    ) -> PolicyFailureRecord {
        PolicyFailureRecord {
            time: now_rfc3339(),
            mode: self.mode(),
            finding_id: Arc::clone(&finding.id),
            finding_type: finding.finding_type.clone(),
            account_id: finding.account_id.clone(),
            region: finding.region.clone(),
            failure: failure.clone(),
        }
    }

    /// Finishes the action of an interrupted run: carries out `plan` (made from its claim or its
    /// intent record) like [`Remediator::run`]; its outcome record names `intent` as the one it
    /// closes.
    pub async fn reconcile(&self, plan: &Plan, intent: Option<&str>) -> Report {
        self.run_closing(plan, intent, None).await
    }

    async fn run_closing(
        &self,
        plan: &Plan,
        closes: Option<&str>,
        approved: Option<&crate::store::approval::Decision>,
    ) -> Report {
        let inner = &self.inner;
        let mode = self.mode();
        let mut report = Report::new(plan.finding.clone(), mode);
        report.policy_errors = plan.errors.clone();
        let decision = AuditRecord::Decision(DecisionRecord {
            time: now_rfc3339(),
            mode,
            plan: plan.clone(),
        });
        if let Err(e) = inner.audit.record(&decision).await {
            tracing::error!("{e}");
            report.audit_errors.push(e.to_string());
        }
        for failure in &plan.errors {
            let record = AuditRecord::PolicyFailure(self.failure_record(&plan.finding, failure));
            if let Err(e) = inner.audit.record(&record).await {
                tracing::error!("{e}");
                report.audit_errors.push(e.to_string());
            }
        }

        // Write-back after the other actions, and only when they all came to what they should;
        // notifications last, so they can report what the other actions came to.
        let (notify, others): (Vec<&PlannedAction>, Vec<&PlannedAction>) = plan
            .actions
            .iter()
            .partition(|p| matches!(p.action, Action::Notify(_)));
        let (writeback, others): (Vec<&PlannedAction>, Vec<&PlannedAction>) = others
            .into_iter()
            .partition(|p| is_writeback(&p.action.kind()));
        let mut prior = Vec::new();
        let mut unfinished: Vec<String> = Vec::new();
        for planned in others.into_iter().chain(writeback).chain(notify) {
            let mut records = Vec::new();
            let kind = planned.action.kind();
            let held = writeback_off(&kind, &inner.writeback).or_else(|| {
                (is_writeback(&kind) && !unfinished.is_empty()).then(|| writeback_held(&unfinished))
            });
            let mut record = match held {
                Some(outcome) => self.record(
                    &plan.finding,
                    &planned.action,
                    planned.sources.clone(),
                    guard::Trail::default(),
                    outcome,
                    std::time::Instant::now(),
                ),
                None => {
                    self.carry_out(plan, planned, &prior, &mut records, approved)
                        .await
                }
            };
            if !is_writeback(&planned.action.kind())
                && !matches!(planned.action, Action::Notify(_))
                && !came_to_its_end(&record.outcome)
            {
                unfinished.push(format!("{} ({})", record.kind, record.outcome));
            }
            record.closes = closes.map(str::to_owned);
            if !matches!(planned.action, Action::Notify(_)) {
                prior.push(PriorOutcome {
                    kind: record.kind.clone(),
                    target: record.target.clone(),
                    summary: record.outcome.to_string(),
                    approval_id: match &record.outcome {
                        Outcome::PendingApproval { approval_id, .. } => {
                            Some(approval_id.to_string())
                        }
                        _ => None,
                    },
                });
            }
            records.insert(0, record);
            for record in records {
                self.keep(&mut report, record).await;
            }
        }
        report
    }

    /// Carries out many plans, at most [`Remediator::concurrency`] at once, calling `on_report`
    /// with each plan's index in `plans` and its report as it completes. One plan's failure never
    /// stops the others, and every plan gets a report (once the [`Remediator::shutdown`] is
    /// stopping, the actions not started are recorded as interrupted).
    pub async fn run_each<I, F>(&self, plans: I, on_report: F)
    where
        I: IntoIterator<Item = Plan>,
        F: FnMut(usize, Report),
    {
        self.run_from(Iter(plans.into_iter()), on_report).await;
    }

    /// Carries out the plans that arrive on `plans` until it closes, like
    /// [`Remediator::run_each`] (the index is the plan's place in arrival order); a report is
    /// handed to `on_report` as soon as it is ready, while later plans are still awaited, so a
    /// stream's first finding is acted on before the stream ends.
    ///
    /// Plans arrive in batches: a sender hands over every plan it has at once (a batch of one
    /// when it has one), so that the two sides meet once per batch, not once per plan. A stream
    /// may not end, so once the [`Remediator::shutdown`] is stopping no further plan is taken:
    /// the plans in flight finish and the call returns.
    pub async fn run_received<F>(
        &self,
        plans: &mut tokio::sync::mpsc::Receiver<Vec<Plan>>,
        on_report: F,
    ) where
        F: FnMut(usize, Report),
    {
        let batches = Batches {
            channel: plans,
            batch: Vec::new().into_iter(),
            shutdown: &self.inner.shutdown,
        };
        self.run_from(batches, on_report).await;
    }

    async fn run_from<S, F>(&self, mut plans: S, mut on_report: F)
    where
        S: PlanSource,
        F: FnMut(usize, Report),
    {
        let mut tasks = JoinSet::new();
        let mut started: HashMap<tokio::task::Id, (usize, FindingContext)> = HashMap::new();
        let mode = self.mode();
        let mut finish =
            |joined: Result<(usize, Report), tokio::task::JoinError>,
             started: &mut HashMap<tokio::task::Id, (usize, FindingContext)>| {
                match joined {
                    Ok((index, report)) => on_report(index, report),
                    Err(e) => {
                        if let Some((index, finding)) = started.remove(&e.id()) {
                            let mut report = Report::new(finding, mode);
                            report
                                .audit_errors
                                .push(format!("remediation task failed: {e}"));
                            on_report(index, report);
                        }
                    }
                }
            };
        let mut index = 0;
        let mut open = true;
        while open || !tasks.is_empty() {
            let room = tasks.len() < self.inner.concurrency;
            tokio::select! {
                biased;
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    // A finished task's finding is forgotten: a long stream keeps only the
                    // findings in flight.
                    if let Ok((id, _)) = &joined {
                        started.remove(id);
                    }
                    finish(joined.map(|(_, r)| r), &mut started);
                }
                plan = plans.next_plan(), if open && room => match plan {
                    Some(plan) => {
                        let this = self.clone();
                        let finding = plan.finding.clone();
                        let i = index;
                        index += 1;
                        let handle = tasks.spawn(async move { (i, this.run(&plan).await) });
                        started.insert(handle.id(), (i, finding));
                    }
                    None => open = false,
                },
            }
        }
    }

    /// Carries out many plans with bounded concurrency and returns the reports in input order.
    pub async fn run_all<I>(&self, plans: I) -> Vec<Report>
    where
        I: IntoIterator<Item = Plan>,
    {
        let mut reports = Vec::new();
        self.run_each(plans, |index, report| reports.push((index, report)))
            .await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, r)| r).collect()
    }
}

/// Where [`Remediator::run_from`] takes its plans from.
trait PlanSource {
    /// The next plan, or `None` when there is none left.
    async fn next_plan(&mut self) -> Option<Plan>;
}

/// Plans from an iterator.
struct Iter<I>(I);

impl<I: Iterator<Item = Plan>> PlanSource for Iter<I> {
    async fn next_plan(&mut self) -> Option<Plan> {
        self.0.next()
    }
}

/// Plans from a channel of batches (the batch being taken, then the next one) until the channel
/// closes or the remediator is stopping.
struct Batches<'a> {
    channel: &'a mut tokio::sync::mpsc::Receiver<Vec<Plan>>,
    batch: std::vec::IntoIter<Plan>,
    shutdown: &'a Shutdown,
}

impl PlanSource for Batches<'_> {
    async fn next_plan(&mut self) -> Option<Plan> {
        loop {
            if self.shutdown.is_stopping() {
                return None;
            }
            if let Some(plan) = self.batch.next() {
                return Some(plan);
            }
            self.batch = tokio::select! {
                batch = self.channel.recv() => batch?.into_iter(),
                () = self.shutdown.stopped() => return None,
            };
        }
    }
}

#[cfg(test)]
mod tests;

/// Whether an action's outcome lets the plan's write-back go on: it executed, was done already,
/// or (dry run, shadow) would have been carried out.
fn came_to_its_end(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Executed { .. }
            | Outcome::AlreadyDone { .. }
            | Outcome::Skipped(SkipReason::DryRun { .. } | SkipReason::Shadow { .. })
    )
}

/// The outcome of a write-back action whose kind is not among the kinds turned on (`on`): a
/// recorded skip naming the line that turns it on, before any guard, approval or call.
fn writeback_off(
    kind: &ActionKind,
    on: &std::collections::BTreeSet<ActionKind>,
) -> Option<Outcome> {
    if !is_writeback(kind) || on.contains(kind) {
        return None;
    }
    let kinds: Vec<String> = on
        .iter()
        .chain(std::iter::once(kind))
        .map(|k| format!("\"{k}\""))
        .collect();
    Some(Outcome::Skipped(SkipReason::NotEnabled {
        action_kind: kind.to_string(),
        setting: format!("[writeback] kinds = [{}]", kinds.join(", ")),
    }))
}

/// The outcome of a write-back held back because `unfinished` did not come to their end: a
/// finding is never closed while what should close it is undone.
fn writeback_held(unfinished: &[String]) -> Outcome {
    Outcome::Skipped(SkipReason::HeldBack {
        unfinished: unfinished.to_vec(),
    })
}
