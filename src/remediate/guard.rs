//! The guards an action passes before it is carried out, each a small step that passes or says
//! why the action stops, logged into the action's record as it runs.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::limit::{KillSwitch, Limiter};
use super::protect::Protection;
use crate::action::SkipReason;
use crate::plan::{Action, FindingContext, Source};

/// A guard, as named in records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Guard {
    /// The global stop for destructive actions.
    KillSwitch,
    /// No destructive action for a sample finding.
    Sample,
    /// Disabling an access key cannot contain temporary or root credentials.
    Credentials,
    /// Protected principals and resources.
    Protection,
    /// Destructive actions stopped after a rate limit was exceeded.
    CircuitBreaker,
    /// Dry run, shadow mode or enforce.
    Enforcement,
    /// The idempotency ledger.
    Ledger,
    /// The rate limit of the action's kind.
    RateLimit,
    /// Whether an executor carries out the action's kind (checked in a dry run too).
    Route,
}

impl Guard {
    /// The name records use: `kill_switch`, `sample`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Guard::KillSwitch => "kill_switch",
            Guard::Sample => "sample",
            Guard::Credentials => "credentials",
            Guard::Protection => "protection",
            Guard::CircuitBreaker => "circuit_breaker",
            Guard::Enforcement => "enforcement",
            Guard::Ledger => "ledger",
            Guard::RateLimit => "rate_limit",
            Guard::Route => "route",
        }
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one guard for one action, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardResult {
    /// The guard.
    pub guard: Guard,
    /// Whether the action may go on.
    pub passed: bool,
    /// What the guard saw, when it stopped the action or has something to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The guard results of one action, in the order the guards ran.
#[derive(Debug, Default)]
pub(crate) struct Trail(pub(crate) Vec<GuardResult>);

impl Trail {
    /// `guard` let the action go on.
    pub(crate) fn pass(&mut self, guard: Guard) {
        self.0.push(GuardResult {
            guard,
            passed: true,
            detail: None,
        });
    }

    /// `guard` let the action go on, with something to say.
    pub(crate) fn note(&mut self, guard: Guard, detail: impl Into<String>) {
        self.0.push(GuardResult {
            guard,
            passed: true,
            detail: Some(detail.into()),
        });
    }

    /// `guard` stopped the action.
    pub(crate) fn block(&mut self, guard: Guard, detail: impl Into<String>) {
        self.0.push(GuardResult {
            guard,
            passed: false,
            detail: Some(detail.into()),
        });
    }

    /// Runs one check: logs it and returns the reason it stopped the action, if it did.
    pub(crate) fn check(
        &mut self,
        guard: Guard,
        result: Result<(), SkipReason>,
    ) -> Result<(), SkipReason> {
        match &result {
            Ok(()) => self.pass(guard),
            Err(reason) => self.block(guard, reason.to_string()),
        }
        result
    }
}

/// What the guards of a destructive action look at.
pub(crate) struct Checks<'a> {
    pub(crate) kill_switch: &'a KillSwitch,
    pub(crate) protection: &'a Protection,
    pub(crate) limiter: &'a Limiter,
}

impl Checks<'_> {
    /// The guards every destructive action passes first, in order: kill switch, sample,
    /// credentials, protection, circuit breaker.
    pub(crate) fn run(
        &self,
        action: &Action,
        finding: &FindingContext,
        trail: &mut Trail,
    ) -> Result<(), SkipReason> {
        trail.check(Guard::KillSwitch, kill_switch(self.kill_switch))?;
        trail.check(Guard::Sample, sample(finding))?;
        trail.check(Guard::Credentials, credentials(action, finding))?;
        trail.check(
            Guard::Protection,
            protection(self.protection, action, finding),
        )?;
        trail.check(Guard::CircuitBreaker, circuit_breaker(self.limiter))
    }
}

/// Stops everything destructive while the switch is engaged.
pub(crate) fn kill_switch(switch: &KillSwitch) -> Result<(), SkipReason> {
    match switch.engaged() {
        Some(source) => Err(SkipReason::KillSwitch { source }),
        None => Ok(()),
    }
}

/// No destructive action on behalf of a sample finding.
pub(crate) fn sample(finding: &FindingContext) -> Result<(), SkipReason> {
    if finding.sample {
        Err(SkipReason::Sample)
    } else {
        Ok(())
    }
}

/// Disabling an access key cannot contain temporary or root credentials: say what to do instead.
pub(crate) fn credentials(action: &Action, finding: &FindingContext) -> Result<(), SkipReason> {
    match action {
        Action::DisableAccessKey(d) => match d.cannot_contain(finding) {
            Some(advice) => Err(SkipReason::TemporaryCredentials { advice }),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Protected principals and resources are never touched.
pub(crate) fn protection(
    rules: &Protection,
    action: &Action,
    finding: &FindingContext,
) -> Result<(), SkipReason> {
    match rules.check(action, finding) {
        Some(by) => Err(SkipReason::Protected { by }),
        None => Ok(()),
    }
}

/// Destructive actions stop while the breaker is open.
pub(crate) fn circuit_breaker(limiter: &Limiter) -> Result<(), SkipReason> {
    match limiter.open_cause() {
        Some(cause) => Err(SkipReason::CircuitOpen { cause }),
        None => Ok(()),
    }
}

/// How an action is to be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Enforcement {
    /// Executed.
    Enforce,
    /// Reported as what would be done (the run is a dry run).
    DryRun,
    /// Reported as what would be done: every policy that chose it is in shadow mode.
    Shadow(Vec<String>),
}

/// Which policies are enforced.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnforcementRules {
    pub(crate) enforce: bool,
    pub(crate) shadow: BTreeSet<String>,
    pub(crate) only: Option<BTreeSet<String>>,
}

impl EnforcementRules {
    /// An action runs when the run enforces and at least one policy that chose it is enforced.
    pub(crate) fn decide(&self, sources: &[Source]) -> Enforcement {
        if !self.enforce {
            return Enforcement::DryRun;
        }
        let enforced = |policy: &str| {
            !self.shadow.contains(policy) && self.only.as_ref().is_none_or(|o| o.contains(policy))
        };
        if sources.is_empty() || sources.iter().any(|s| enforced(&s.policy)) {
            Enforcement::Enforce
        } else {
            Enforcement::Shadow(sources.iter().map(|s| s.policy.to_string()).collect())
        }
    }
}

impl Enforcement {
    /// Logs the decision (the last guard before the executor).
    pub(crate) fn log(&self, trail: &mut Trail) {
        match self {
            Enforcement::Enforce => trail.pass(Guard::Enforcement),
            Enforcement::DryRun => trail.block(Guard::Enforcement, "dry run"),
            Enforcement::Shadow(_) => trail.block(Guard::Enforcement, "shadow mode"),
        }
    }
}
