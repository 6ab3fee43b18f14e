//! How one planned action is carried out: guards, ledger, rate limit, enforcement, executor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Remediator;
use super::guard::{Enforcement, Trail};
use crate::action::{
    ActionError, ActionRequest, ApprovalAsk, ApprovalClosed, ErrorKind, Executor, Outcome,
    PriorOutcome, SkipReason, Verification,
};
use crate::plan::{Action, FindingContext, Plan, PlannedAction, Source};
use crate::store::approval::Decision;
use crate::store::audit::Guard;
use crate::store::audit::{ActionRecord, AuditError, AuditRecord, IntentRecord};
use crate::store::ledger::{Claim, ClaimRequest, EntryState, LedgerKey, now_rfc3339, now_secs};

mod entry;
use entry::{claim_details, done_by, done_details, is_own};

/// Numbers the intents of the process, whichever remediator writes them: an intent id (the run and
/// this number) is unique, so it can name its action record (`remedy undo RECORD_ID`).
static INTENTS: AtomicU64 = AtomicU64::new(0);

impl Remediator {
    /// Carries out one action of `plan`; records the remediator's own notifications (a tripped
    /// breaker) in `extra`.
    pub(super) async fn carry_out(
        &self,
        plan: &Plan,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        extra: &mut Vec<ActionRecord>,
        approved: Option<&Decision>,
    ) -> ActionRecord {
        let start = Instant::now();
        let mut trail = Trail::default();
        let mut intent = None;
        let request = Request {
            finding: &plan.finding,
            planned,
            prior,
            approved,
            target_lock: None,
        };
        let outcome = self.outcome(&request, &mut trail, extra, &mut intent).await;
        let mut record = self.record(
            &plan.finding,
            &planned.action,
            planned.sources.clone(),
            trail,
            outcome,
            start,
        );
        record.intent = intent;
        record
    }

    /// The record of `action`; without sources, it is the remediator's own (policy `remedy`).
    pub(super) fn record(
        &self,
        finding: &FindingContext,
        action: &Action,
        sources: Vec<Source>,
        trail: Trail,
        outcome: Outcome,
        start: Instant,
    ) -> ActionRecord {
        let first = sources.first();
        let policy = first.map_or_else(|| "remedy".into(), |s| s.policy.to_string());
        let policy_version = first.map(|s| s.version.to_string()).unwrap_or_default();
        ActionRecord {
            time: now_rfc3339(),
            mode: self.mode(),
            finding_id: Arc::clone(&finding.id),
            finding_type: finding.finding_type.clone(),
            account_id: finding.account_id.clone(),
            region: finding.region.clone(),
            kind: action.kind(),
            target: action.target(),
            params: action.params(),
            policy,
            policy_version,
            sources,
            guards: trail.0,
            outcome,
            intent: None,
            closes: None,
            duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    async fn outcome(
        &self,
        request: &Request<'_>,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
        intent: &mut Option<String>,
    ) -> Outcome {
        let inner = &self.inner;
        let Request {
            finding, planned, ..
        } = *request;
        let action = &planned.action;
        let destructive = action.is_destructive();
        if destructive {
            if inner.shutdown.is_stopping() {
                trail.block(Guard::KillSwitch, "remedy is stopping");
                return Outcome::Skipped(SkipReason::Interrupted);
            }
            if let Err(halt) = inner
                .checks()
                .run(action, finding, trail, inner.clock.now_secs())
                .await
            {
                return halt.into();
            }
        }
        let kind = action.kind();
        if !inner.executor.handles(&kind) {
            trail.block(Guard::Route, format!("no executor carries out `{kind}`"));
            return Outcome::failed(
                ErrorKind::Unsupported,
                format!("no executor is configured for action kind `{kind}`"),
            );
        }
        let enforcement = inner.enforcement.decide(&planned.sources);
        let key = LedgerKey::new(finding, planned);
        if let Some(outcome) = self
            .approval_gate(request, &enforcement, &key, trail, extra)
            .await
        {
            return outcome;
        }
        if !(destructive && enforcement == Enforcement::Enforce) {
            return self
                .claimed(request, &key, enforcement, trail, extra, intent)
                .await;
        }
        // One destructive action on one target at a time, whichever finding chose it: taken
        // before the finding's own claim, so a delivery waiting for the target holds nothing.
        let lock = match self.lock(&key, request, trail).await {
            Ok(lock) => lock,
            Err(outcome) => return outcome,
        };
        let locked = Request {
            target_lock: Some(&lock.key),
            ..*request
        };
        let outcome = self
            .claimed(&locked, &key, enforcement, trail, extra, intent)
            .await;
        self.release(&lock.key).await;
        outcome
    }

    /// The ledger (claimed when enforcing, read otherwise), the rate limit, enforcement, and the
    /// executor.
    async fn claimed(
        &self,
        request: &Request<'_>,
        key: &LedgerKey,
        enforcement: Enforcement,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
        intent: &mut Option<String>,
    ) -> Outcome {
        let Request {
            finding, planned, ..
        } = *request;
        let action = &planned.action;
        let enforce = enforcement == Enforcement::Enforce;
        let mut verify = false;
        if enforce {
            match self.claim(key, finding, planned, trail).await {
                Ok(taken_over) => verify = taken_over,
                Err(outcome) => return outcome,
            }
        } else if let Some(outcome) = self.peek(key, trail).await {
            return outcome;
        }
        if let Some(outcome) = self.rate_limit(finding, action, trail, extra).await {
            if enforce {
                self.release(key).await;
            }
            return outcome;
        }
        enforcement.log(trail);
        let policies = match enforcement {
            Enforcement::Enforce => Vec::new(),
            Enforcement::DryRun => {
                // Say where it would run: the account, and the role assumed there.
                let mut would = match trail.detail(Guard::Account) {
                    Some(place) if place.contains(" as ") => {
                        format!("{} in {place}", action.describe())
                    }
                    _ => action.describe(),
                };
                if trail
                    .detail(Guard::Approval)
                    .is_some_and(|d| d.starts_with("would wait"))
                {
                    would.push_str(", once a person approves it");
                }
                return Outcome::Skipped(SkipReason::DryRun { would });
            }
            Enforcement::Shadow(policies) => policies,
        };
        if !policies.is_empty() {
            return Outcome::Skipped(SkipReason::Shadow {
                policies,
                would: action.describe(),
            });
        }
        self.act(request, key, verify, trail, intent).await
    }

    /// Verifies a taken-over claim, writes the intent of a destructive action, and executes.
    async fn act(
        &self,
        request: &Request<'_>,
        key: &LedgerKey,
        verify: bool,
        trail: &mut Trail,
        intent: &mut Option<String>,
    ) -> Outcome {
        let Request {
            finding, planned, ..
        } = *request;
        if verify && let Some(done) = self.verify(request, key, trail).await {
            self.finish(key, &done, trail).await;
            return done;
        }
        if planned.action.is_destructive() {
            match self.intend(key, finding, planned).await {
                Ok(id) => *intent = Some(id),
                Err(e) => {
                    trail.block(
                        Guard::Ledger,
                        "not executed: the intent could not be recorded",
                    );
                    self.release(key).await;
                    return Outcome::Failed(ActionError::new(
                        ErrorKind::AuditUnavailable,
                        format!("not executed: the audit trail cannot record the intent: {e}"),
                    ));
                }
            }
        }
        self.execute_to_the_end(request, key, intent.clone(), trail)
            .await
    }

    /// Executes in a task of its own that also finishes the ledger entry, and writes the action's
    /// outcome record itself when the caller stopped waiting (its future was dropped or aborted):
    /// an action that ran is never left without its outcome, and a later run finds it done
    /// instead of executing it again.
    async fn execute_to_the_end(
        &self,
        request: &Request<'_>,
        key: &LedgerKey,
        intent: Option<String>,
        trail: &mut Trail,
    ) -> Outcome {
        let (sent, received) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let finding = request.finding.clone();
        let planned = request.planned.clone();
        let prior = request.prior.to_vec();
        let key = key.clone();
        let target_lock = request.target_lock.cloned();
        tokio::spawn(async move {
            let start = Instant::now();
            let outcome = this.execute(&finding, &planned, &prior, &key).await;
            let mut own = Trail::default();
            this.finish(&key, &outcome, &mut own).await;
            if let Err((outcome, mut own)) = sent.send((outcome, own)) {
                own.note(
                    Guard::Ledger,
                    "recorded by the task that carried it out: the caller stopped waiting",
                );
                let mut record = this.record(
                    &finding,
                    &planned.action,
                    planned.sources.clone(),
                    own,
                    outcome,
                    start,
                );
                record.intent = intent;
                if let Err(e) = this.inner.audit.record(&AuditRecord::Action(record)).await {
                    tracing::error!("{e}");
                }
                // The caller would have released the target's lock.
                if let Some(lock) = &target_lock {
                    this.release(lock).await;
                }
            }
        });
        match received.await {
            Ok((outcome, own)) => {
                trail.0.extend(own.0);
                outcome
            }
            Err(_) => Outcome::failed(
                ErrorKind::Other,
                "the task carrying the action out ended without an outcome; its effect is unknown",
            ),
        }
    }

    /// A dry run or shadow action only reads the ledger: done before is reported as done.
    pub(super) async fn peek(&self, key: &LedgerKey, trail: &mut Trail) -> Option<Outcome> {
        match self.inner.ledger.get(key).await {
            Ok(Some(entry)) if entry.state == EntryState::Done => {
                trail.block(Guard::Ledger, done_by(&entry, &self.inner.owner));
                Some(Outcome::already_done(done_details(
                    &entry,
                    &self.inner.owner,
                )))
            }
            Ok(Some(entry)) if !entry.is_expired(now_secs()) => {
                trail.note(
                    Guard::Ledger,
                    format!("in progress: {}", claim_details(&entry)),
                );
                None
            }
            Ok(Some(entry)) => {
                trail.note(
                    Guard::Ledger,
                    format!(
                        "an unfinished claim would be taken over: {}",
                        claim_details(&entry)
                    ),
                );
                None
            }
            Ok(None) => {
                trail.pass(Guard::Ledger);
                None
            }
            Err(e) => {
                trail.note(Guard::Ledger, format!("not readable: {e}"));
                None
            }
        }
    }

    /// An enforced action claims its key before it executes; `Ok(true)`: an expired claim was
    /// taken over, so the state is verified first.
    pub(super) async fn claim(
        &self,
        key: &LedgerKey,
        finding: &FindingContext,
        planned: &PlannedAction,
        trail: &mut Trail,
    ) -> Result<bool, Outcome> {
        let inner = &self.inner;
        let request = ClaimRequest {
            key,
            owner: &inner.owner,
            lease: inner.lease,
            finding,
            action: planned,
        };
        match inner.ledger.claim(&request).await {
            Ok(Claim::Acquired) => {
                trail.pass(Guard::Ledger);
                Ok(false)
            }
            Ok(Claim::TakenOver(entry)) => {
                trail.note(
                    Guard::Ledger,
                    format!(
                        "took over an unfinished claim ({}); verifying before acting",
                        claim_details(&entry)
                    ),
                );
                Ok(true)
            }
            Ok(Claim::InProgress(entry)) => {
                let by = if is_own(&entry, &inner.owner) {
                    "claimed earlier in this run (a duplicate of this run's input)"
                } else {
                    "claimed by another run"
                };
                trail.block(Guard::Ledger, by);
                Err(Outcome::InProgress {
                    details: claim_details(&entry),
                })
            }
            Ok(Claim::Done(entry)) => {
                trail.block(Guard::Ledger, done_by(&entry, &inner.owner));
                Err(Outcome::already_done(done_details(&entry, &inner.owner)))
            }
            Err(e) if !planned.action.is_destructive() => {
                // Notifications keep flowing: at worst one is sent twice.
                trail.note(Guard::Ledger, format!("not claimed, sent anyway: {e}"));
                Ok(false)
            }
            Err(e) => {
                trail.block(Guard::Ledger, e.to_string());
                Err(Outcome::Failed(ActionError::new(
                    ErrorKind::StateUnavailable,
                    format!("not executed: the ledger is unavailable: {e}"),
                )))
            }
        }
    }

    /// Asks the executor whether an interrupted attempt's effect is in place.
    async fn verify(
        &self,
        request: &Request<'_>,
        key: &LedgerKey,
        trail: &mut Trail,
    ) -> Option<Outcome> {
        let executor = Arc::clone(&self.inner.executor);
        let joined = key.joined();
        let action_request = ActionRequest::new(&request.planned.action, request.finding)
            .with_sources(&request.planned.sources)
            .with_key(&joined);
        match executor.verify(&action_request).await {
            Verification::Done(details) => {
                trail.note(Guard::Ledger, "verified: already in place");
                Some(Outcome::already_done(format!(
                    "{details} (verified after an interrupted attempt)"
                )))
            }
            Verification::NotDone => {
                trail.note(Guard::Ledger, "verified: not in place, acting");
                None
            }
            Verification::Unknown => None,
        }
    }

    /// Writes the intent record of a destructive action before it executes.
    async fn intend(
        &self,
        key: &LedgerKey,
        finding: &FindingContext,
        planned: &PlannedAction,
    ) -> Result<String, AuditError> {
        let inner = &self.inner;
        let sequence = INTENTS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{sequence}", inner.owner.run);
        let record = AuditRecord::Intent(Box::new(IntentRecord {
            time: now_rfc3339(),
            intent: id.clone(),
            owner: inner.owner.clone(),
            key: key.clone(),
            finding: finding.clone(),
            action: planned.clone(),
        }));
        inner.audit.record(&record).await.map(|()| id)
    }

    /// Marks a successful action done, or gives the claim back so a later delivery may retry;
    /// an action whose effect is unknown keeps its claim until it expires, so the next run
    /// verifies before acting again.
    pub(super) async fn finish(&self, key: &LedgerKey, outcome: &Outcome, trail: &mut Trail) {
        let details = match outcome {
            Outcome::Executed { details, .. } | Outcome::AlreadyDone { details } => details,
            Outcome::Failed(e) if e.kind() == ErrorKind::Interrupted => return,
            _ => {
                self.release(key).await;
                return;
            }
        };
        if let Err(e) = self
            .inner
            .ledger
            .complete(key, &self.inner.owner, details)
            .await
        {
            tracing::error!("{e}");
            trail.note(
                Guard::Ledger,
                format!("executed, but not recorded as done: {e}"),
            );
        }
    }

    pub(super) async fn release(&self, key: &LedgerKey) {
        if let Err(e) = self.inner.ledger.release(key, &self.inner.owner).await {
            tracing::error!("{e}");
        }
    }

    /// Runs the executor; once the run is stopping and the grace period is over, the action is
    /// abandoned with its effect unknown.
    async fn execute(
        &self,
        finding: &FindingContext,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        key: &LedgerKey,
    ) -> Outcome {
        let shutdown = self.inner.shutdown.clone();
        let run = execute_isolated(
            &self.inner.executor,
            finding,
            &planned.action,
            &planned.sources,
            prior,
            AboutRequest::default(),
            Some(key.joined()),
        );
        tokio::select! {
            outcome = run => outcome,
            () = shutdown.grace_over() => Outcome::Failed(
                ActionError::new(
                    ErrorKind::Interrupted,
                    "remedy was stopped while the action ran; its effect is unknown (the next run \
                     verifies and finishes it)",
                )
                .with_retryable(true),
            ),
        }
    }
}

/// One action to carry out, with what it needs.
#[derive(Clone, Copy)]
pub(super) struct Request<'a> {
    pub(super) finding: &'a FindingContext,
    pub(super) planned: &'a PlannedAction,
    pub(super) prior: &'a [PriorOutcome],
    /// The decision of the approval request being carried out, if it is one.
    pub(super) approved: Option<&'a Decision>,
    /// The ledger key of the target's lock, while it is held.
    pub(super) target_lock: Option<&'a LedgerKey>,
}

/// What a notification says about an approval request, if anything.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum AboutRequest<'a> {
    /// Nothing: any action, any other notification.
    #[default]
    Nothing,
    /// It asks about the request.
    Ask(&'a ApprovalAsk),
    /// It says the request was closed without the channel.
    Closes(&'a ApprovalClosed),
}

/// Runs the executor in its own task, so that a panicking executor becomes a failed outcome.
pub(super) async fn execute_isolated(
    executor: &Arc<dyn Executor>,
    finding: &FindingContext,
    action: &Action,
    sources: &[Source],
    prior: &[PriorOutcome],
    about: AboutRequest<'_>,
    key: Option<String>,
) -> Outcome {
    let executor = Arc::clone(executor);
    let finding = finding.clone();
    let action = action.clone();
    let sources = sources.to_vec();
    let prior = prior.to_vec();
    let (ask, closes) = match about {
        AboutRequest::Nothing => (None, None),
        AboutRequest::Ask(ask) => (Some(ask.clone()), None),
        AboutRequest::Closes(closed) => (None, Some(closed.clone())),
    };
    let task = tokio::spawn(async move {
        let mut request = ActionRequest::new(&action, &finding)
            .with_sources(&sources)
            .with_prior(&prior);
        if let Some(ask) = &ask {
            request = request.with_approval(ask);
        }
        if let Some(closed) = &closes {
            request = request.with_closes(closed);
        }
        if let Some(key) = &key {
            request = request.with_key(key);
        }
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
