//! How one planned action is carried out: guards, ledger, rate limit, enforcement, executor.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Remediator;
use super::audit::{ActionRecord, AuditError, AuditRecord, IntentRecord};
use super::guard::{Enforcement, Guard, Trail};
use super::ledger::{
    Claim, ClaimRequest, EntryState, LedgerEntry, LedgerKey, Owner, now_rfc3339, now_secs,
};
use super::limit::{Admission, RateLimit};
use crate::action::{
    ActionError, ActionRequest, ErrorKind, Executor, Outcome, PriorOutcome, SkipReason,
    Verification,
};
use crate::plan::{Action, ActionKind, FindingContext, Notify, Plan, PlannedAction, Source};

impl Remediator {
    /// Carries out one action of `plan`; records the remediator's own notifications (a tripped
    /// breaker) in `extra`.
    pub(super) async fn carry_out(
        &self,
        plan: &Plan,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        extra: &mut Vec<ActionRecord>,
    ) -> ActionRecord {
        let start = Instant::now();
        let mut trail = Trail::default();
        let mut intent = None;
        let outcome = self
            .outcome(
                &plan.finding,
                planned,
                prior,
                &mut trail,
                extra,
                &mut intent,
            )
            .await;
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
    fn record(
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
        finding: &FindingContext,
        planned: &PlannedAction,
        prior: &[PriorOutcome],
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
        intent: &mut Option<String>,
    ) -> Outcome {
        let inner = &self.inner;
        let action = &planned.action;
        let destructive = action.is_destructive();
        if destructive {
            if inner.shutdown.is_stopping() {
                trail.block(Guard::KillSwitch, "remedy is stopping");
                return Outcome::Skipped(SkipReason::Interrupted);
            }
            if let Err(reason) = inner.checks().run(action, finding, trail) {
                return Outcome::Skipped(reason);
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
        let enforce = enforcement == Enforcement::Enforce;
        let mut verify = false;
        if enforce {
            match self.claim(&key, finding, planned, trail).await {
                Ok(taken_over) => verify = taken_over,
                Err(outcome) => return outcome,
            }
        } else if let Some(outcome) = self.peek(&key, trail).await {
            return outcome;
        }
        if let Some(outcome) = self.rate_limit(finding, action, trail, extra).await {
            if enforce {
                self.release(&key).await;
            }
            return outcome;
        }
        enforcement.log(trail);
        let policies = match enforcement {
            Enforcement::Enforce => Vec::new(),
            Enforcement::DryRun => {
                return Outcome::Skipped(SkipReason::DryRun {
                    would: action.describe(),
                });
            }
            Enforcement::Shadow(policies) => policies,
        };
        if !policies.is_empty() {
            return Outcome::Skipped(SkipReason::Shadow {
                policies,
                would: action.describe(),
            });
        }
        let request = Request {
            finding,
            planned,
            prior,
        };
        if verify && let Some(done) = self.verify(&request, trail).await {
            self.finish(&key, &done, trail).await;
            return done;
        }
        if destructive {
            match self.intend(&key, finding, planned).await {
                Ok(id) => *intent = Some(id),
                Err(e) => {
                    trail.block(
                        Guard::Ledger,
                        "not executed: the intent could not be recorded",
                    );
                    self.release(&key).await;
                    return Outcome::Failed(ActionError::new(
                        ErrorKind::AuditUnavailable,
                        format!("not executed: the audit trail cannot record the intent: {e}"),
                    ));
                }
            }
        }
        let outcome = self.execute(&request).await;
        self.finish(&key, &outcome, trail).await;
        outcome
    }

    /// A dry run or shadow action only reads the ledger: done before is reported as done.
    async fn peek(&self, key: &LedgerKey, trail: &mut Trail) -> Option<Outcome> {
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
    async fn claim(
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
    async fn verify(&self, request: &Request<'_>, trail: &mut Trail) -> Option<Outcome> {
        let executor = Arc::clone(&self.inner.executor);
        let action_request = ActionRequest::new(&request.planned.action, request.finding)
            .with_sources(&request.planned.sources);
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
        let sequence = inner.intents.fetch_add(1, Ordering::Relaxed);
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
    async fn finish(&self, key: &LedgerKey, outcome: &Outcome, trail: &mut Trail) {
        let details = match outcome {
            Outcome::Executed { details } | Outcome::AlreadyDone { details } => details,
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

    async fn release(&self, key: &LedgerKey) {
        if let Err(e) = self.inner.ledger.release(key, &self.inner.owner).await {
            tracing::error!("{e}");
        }
    }

    /// Runs the executor; once the run is stopping and the grace period is over, the action is
    /// abandoned with its effect unknown.
    async fn execute(&self, request: &Request<'_>) -> Outcome {
        let shutdown = self.inner.shutdown.clone();
        let run = execute_isolated(
            &self.inner.executor,
            request.finding,
            &request.planned.action,
            &request.planned.sources,
            request.prior,
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

    async fn rate_limit(
        &self,
        finding: &FindingContext,
        action: &Action,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
    ) -> Option<Outcome> {
        let kind = action.kind();
        match self.inner.limiter.admit(&kind, action.is_destructive()) {
            Admission::Admitted => None,
            Admission::Limited { limit, tripped } => {
                trail.block(Guard::RateLimit, limit.to_string());
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
        finding: &FindingContext,
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
        let outcome = if inner.enforcement.enforce {
            execute_isolated(&inner.executor, finding, &action, &[], &[]).await
        } else {
            Outcome::Skipped(SkipReason::DryRun {
                would: action.describe(),
            })
        };
        let mut trail = Trail::default();
        trail.block(
            Guard::CircuitBreaker,
            format!("tripped by the rate limit of `{kind}`"),
        );
        self.record(finding, &action, Vec::new(), trail, outcome, start)
    }
}

/// One action to carry out, with what it needs.
struct Request<'a> {
    finding: &'a FindingContext,
    planned: &'a PlannedAction,
    prior: &'a [PriorOutcome],
}

fn claim_details(entry: &LedgerEntry) -> String {
    let by = entry
        .owner
        .as_ref()
        .map_or_else(|| "an unknown run".to_owned(), ToString::to_string);
    format!("claimed by {by} at {}", entry.at)
}

/// Whether this run (this process) holds or held the entry's claim.
fn is_own(entry: &LedgerEntry, own: &Owner) -> bool {
    entry.owner.as_ref().is_some_and(|o| o.run == own.run)
}

/// Who did it: this run (a duplicate within one run) or an earlier one.
fn done_by(entry: &LedgerEntry, own: &Owner) -> &'static str {
    if is_own(entry, own) {
        "done earlier in this run"
    } else {
        "done by an earlier run"
    }
}

fn done_details(entry: &LedgerEntry, own: &Owner) -> String {
    let by = done_by(entry, own);
    match &entry.details {
        Some(d) => format!("{by} at {}: {d}", entry.at),
        None => format!("{by} at {}", entry.at),
    }
}

/// Runs the executor in its own task, so that a panicking executor becomes a failed outcome.
async fn execute_isolated(
    executor: &Arc<dyn Executor>,
    finding: &FindingContext,
    action: &Action,
    sources: &[Source],
    prior: &[PriorOutcome],
) -> Outcome {
    let executor = Arc::clone(executor);
    let finding = finding.clone();
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
