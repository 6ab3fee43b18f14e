//! [`Simulation`]: the guards of a configuration, run on each side's plans on the findings' own
//! clock, with nothing executed.
//!
//! Each side gets a real [`Remediator`] built from the configuration's guards (protection,
//! `[accounts]`, `[approval]`, `shadow`/`only`, rate limits per kind and per account, the circuit
//! breaker) with an in-memory ledger, state and approval store, an audit sink that keeps nothing,
//! an executor that only answers "executed", and a virtual clock set to each finding's
//! `updatedAt`. It enforces, so every guard answers as in a real run: the guards are the real
//! code, not a copy of their rules. Fed in `updatedAt` order (see [`InOrder`](super::InOrder)),
//! the rate windows and the breaker count as they would have on those days, and the ledger
//! reports a repeat delivery as done before.
//!
//! What it cannot know: the kill switch (the switch of that day is not in the history), whether
//! an executor would have succeeded, and a person's answer to an approval request (pending
//! requests stay pending). The ledger and the approval store keep one entry per distinct action,
//! as the real ones do, so with a configuration memory grows with the distinct actions replayed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::summary::{GuardTally, Sides};
use super::{Comparison, ReplayError, Side};
use crate::action::{ActionRequest, Executor, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::plan::ActionKind;
use crate::remediate::{Protection, Remediator};
use crate::store::approval::MemoryApprovals;
use crate::store::audit::{AuditError, AuditRecord, AuditSink, Guard};

/// What the guards would have done with one planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fate {
    /// Every guard passed: it would have been carried out.
    Executed,
    /// It would have waited for a person's approval.
    PendingApproval,
    /// The ledger had it done (or in progress) already: a repeat delivery, not acted on twice.
    Repeat,
    /// A guard could not decide (shared state unavailable); not expected in a replay.
    Failed,
    /// A guard stopped it, named as records name the reason: `protected`, `rate_limited`,
    /// `circuit_open`, `shadow`, `account_not_allowed`, `sample`, `temporary_credentials`, ...
    Skipped(&'static str),
}

impl Fate {
    /// The fates a summary always names, even at zero.
    pub const NAMED: [Fate; 7] = [
        Fate::Executed,
        Fate::PendingApproval,
        Fate::Skipped("protected"),
        Fate::Skipped("rate_limited"),
        Fate::Skipped("circuit_open"),
        Fate::Skipped("shadow"),
        Fate::Repeat,
    ];

    /// The fate of an action that ended with `outcome`.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Executed { .. } => Fate::Executed,
            Outcome::PendingApproval { .. } => Fate::PendingApproval,
            Outcome::AlreadyDone { .. } | Outcome::InProgress { .. } => Fate::Repeat,
            Outcome::Skipped(reason) => Fate::Skipped(reason.kind()),
            Outcome::Failed(_) => Fate::Failed,
        }
    }

    /// The name the summary counts it under.
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Executed => "executed",
            Fate::PendingApproval => "pending_approval",
            Fate::Repeat => "repeat",
            Fate::Failed => "failed",
            Fate::Skipped(kind) => kind,
        }
    }
}

/// The guards of a configuration, simulated for both sides of a replay (see the module's docs).
#[derive(Debug)]
pub struct Simulation {
    sides: Sides<Runner>,
}

#[derive(Debug)]
struct Runner {
    remediator: Remediator,
    clock: Clock,
    tally: GuardTally,
}

impl Simulation {
    /// Both sides' guards as `config` sets them. Nothing of the configuration's files (ledger,
    /// audit trail, approval store) or shared state is opened.
    pub fn from_config(config: &Config) -> Result<Self, ReplayError> {
        Ok(Self {
            sides: Sides {
                old: Runner::new(config)?,
                new: Runner::new(config)?,
            },
        })
    }

    /// Runs both plans of `comparison` through their side's guards at `time` (seconds since the
    /// Unix epoch, the finding's `updatedAt`) and counts what would have happened. Call it in
    /// time order.
    pub async fn observe(&mut self, time: u64, comparison: &Comparison) {
        for side in [Side::Old, Side::New] {
            let plan = comparison.plan(side);
            if plan.actions.is_empty() {
                continue;
            }
            let runner = self.sides.get_mut(side);
            runner.clock.set(time);
            let report = runner.remediator.run(plan).await;
            for record in &report.actions {
                if record.sources.is_empty() {
                    // The remediator's own: a breaker's notification or an approval's ask.
                    let tripped = record
                        .guards
                        .iter()
                        .any(|g| g.guard == Guard::CircuitBreaker && !g.passed);
                    if tripped {
                        runner.tally.breaker_trips += 1;
                    }
                    continue;
                }
                let fate = Fate::of(&record.outcome).as_str();
                *runner.tally.actions.entry(fate.to_owned()).or_default() += 1;
            }
        }
    }

    /// What the guards did on each side so far.
    pub fn tallies(&self) -> Sides<GuardTally> {
        Sides {
            old: self.sides.old.tally.clone(),
            new: self.sides.new.tally.clone(),
        }
    }
}

impl Runner {
    fn new(config: &Config) -> Result<Self, ReplayError> {
        let clock = Clock::virtual_at(0);
        let mut builder = Remediator::builder(Arc::new(Simulated))
            .with_protection(Protection::new(&config.protect)?)
            .with_accounts(config.accounts.clone())
            .with_breaker(
                Duration::from_secs(config.breaker.cooldown_secs),
                config.breaker.notify.clone(),
            )
            .with_approval(config.approval.clone())
            .with_writeback_kinds(config.writeback.kinds.iter().cloned())
            .with_audit(Arc::new(Discard))
            .with_ledger(Arc::new(super::ledger::CompactLedger::default()))
            .with_clock(clock.clone())
            .with_concurrency(1)
            .enforce(true);
        if config.keeps_approvals() {
            // Kept as the configured run keeps them (here in memory): a suppression waits for a
            // person, as it would, instead of being refused.
            builder = builder.with_approval_store(Arc::new(MemoryApprovals::new()));
        }
        for (kind, limit) in config.rate_limits_by_kind() {
            builder = builder.with_rate_limit(kind, limit);
        }
        for policy in &config.enforcement.shadow {
            builder = builder.with_shadow_policy(policy.clone());
        }
        if let Some(only) = &config.enforcement.only {
            builder = builder.with_only_policies(only.iter().cloned());
        }
        let mut tally = GuardTally::default();
        for fate in Fate::NAMED {
            tally.actions.insert(fate.as_str().to_owned(), 0);
        }
        Ok(Self {
            remediator: builder.build(),
            clock,
            tally,
        })
    }
}

/// The executor of a simulation: answers "executed" and does nothing.
#[derive(Debug)]
struct Simulated;

#[async_trait]
impl Executor for Simulated {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        Outcome::executed(format!(
            "would have carried out `{}` (replay: nothing was done)",
            request.action.kind()
        ))
    }

    fn handles(&self, _kind: &ActionKind) -> bool {
        true
    }
}

/// The audit sink of a simulation: keeps nothing.
#[derive(Debug)]
struct Discard;

#[async_trait]
impl AuditSink for Discard {
    async fn record(&self, _record: &AuditRecord) -> Result<(), AuditError> {
        Ok(())
    }
}
