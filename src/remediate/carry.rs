//! How one planned action is carried out: guards, ledger, rate limit, enforcement, executor.

use std::sync::Arc;
use std::time::Instant;

use super::Remediator;
use super::audit::ActionRecord;
use super::guard::{Enforcement, Guard, Trail};
use super::ledger::{Claim, EntryState, LedgerEntry, LedgerKey, now_rfc3339};
use super::limit::{Admission, RateLimit};
use crate::action::{
    ActionError, ActionRequest, ErrorKind, Executor, Outcome, PriorOutcome, SkipReason,
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
        let outcome = self
            .outcome(&plan.finding, planned, prior, &mut trail, extra)
            .await;
        self.record(
            &plan.finding,
            &planned.action,
            planned.sources.clone(),
            trail,
            outcome,
            start,
        )
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
            finding_id: finding.id.clone(),
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
    ) -> Outcome {
        let inner = &self.inner;
        let action = &planned.action;
        if action.is_destructive()
            && let Err(reason) = inner.checks().run(action, finding, trail)
        {
            return Outcome::Skipped(reason);
        }
        let enforcement = inner.enforcement.decide(&planned.sources);
        let key = LedgerKey::new(&finding.id, action);
        let claimed = if enforcement == Enforcement::Enforce {
            if let Err(outcome) = self.claim(&key, trail).await {
                return outcome;
            }
            true
        } else {
            if let Some(outcome) = self.peek(&key, trail).await {
                return outcome;
            }
            false
        };
        if let Some(outcome) = self.rate_limit(finding, action, trail, extra).await {
            if claimed {
                self.release(&key).await;
            }
            return outcome;
        }
        enforcement.log(trail);
        match enforcement {
            Enforcement::Enforce => {
                let outcome =
                    execute_isolated(&inner.executor, finding, action, &planned.sources, prior)
                        .await;
                self.finish(&key, &outcome, trail).await;
                outcome
            }
            Enforcement::DryRun => Outcome::Skipped(SkipReason::DryRun {
                would: action.describe(),
            }),
            Enforcement::Shadow(policies) => Outcome::Skipped(SkipReason::Shadow {
                policies,
                would: action.describe(),
            }),
        }
    }

    /// A dry run or shadow action only reads the ledger: done before is reported as done.
    async fn peek(&self, key: &LedgerKey, trail: &mut Trail) -> Option<Outcome> {
        match self.inner.ledger.get(key).await {
            Ok(Some(entry)) if entry.state == EntryState::Done => {
                trail.block(Guard::Ledger, "done by an earlier run");
                Some(Outcome::already_done(done_details(&entry)))
            }
            Ok(_) => {
                trail.pass(Guard::Ledger);
                None
            }
            Err(e) => {
                trail.note(Guard::Ledger, format!("not readable: {e}"));
                None
            }
        }
    }

    /// An enforced action claims its key before it executes.
    async fn claim(&self, key: &LedgerKey, trail: &mut Trail) -> Result<(), Outcome> {
        match self.inner.ledger.claim(key).await {
            Ok(Claim::Acquired) => {
                trail.pass(Guard::Ledger);
                Ok(())
            }
            Ok(Claim::Held(entry)) => {
                trail.block(Guard::Ledger, "claimed by an earlier run");
                Err(Outcome::already_done(done_details(&entry)))
            }
            Err(e) => {
                trail.block(Guard::Ledger, e.to_string());
                Err(Outcome::Failed(ActionError::new(
                    ErrorKind::Unavailable,
                    format!("not executed: cannot claim the action in the ledger: {e}"),
                )))
            }
        }
    }

    /// Marks a successful action done, or gives the claim back so a later delivery may retry.
    async fn finish(&self, key: &LedgerKey, outcome: &Outcome, trail: &mut Trail) {
        let details = match outcome {
            Outcome::Executed { details } | Outcome::AlreadyDone { details } => details,
            _ => {
                self.release(key).await;
                return;
            }
        };
        if let Err(e) = self.inner.ledger.complete(key, details).await {
            tracing::error!("{e}");
            trail.note(
                Guard::Ledger,
                format!("executed, but not recorded as done: {e}"),
            );
        }
    }

    async fn release(&self, key: &LedgerKey) {
        if let Err(e) = self.inner.ledger.release(key).await {
            tracing::error!("{e}");
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
