//! The guards an action passes before it is carried out, each a small step that passes or says
//! why the action stops, logged into the action's record as it runs.

use std::collections::BTreeSet;
use std::fmt;

use super::accounts::check_account;
use super::limit::KillSwitch;
use super::protect::Protection;
use crate::action::{ActionError, ErrorKind, Outcome, SkipReason};
use crate::config::AccountsConfig;
use crate::plan::{Action, FindingContext, Source};
use crate::store::audit::{Guard, GuardResult};
use crate::store::state::StateStore;

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

    /// What `guard` said, if it ran and said something.
    pub(crate) fn detail(&self, guard: Guard) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.guard == guard)
            .and_then(|r| r.detail.as_deref())
    }

    /// `guard` stopped the action.
    pub(crate) fn block(&mut self, guard: Guard, detail: impl Into<String>) {
        self.0.push(GuardResult {
            guard,
            passed: false,
            detail: Some(detail.into()),
        });
    }

    /// Runs one check: logs it and returns why it stopped the action, if it did.
    pub(crate) fn check<E: Into<Halt>>(
        &mut self,
        guard: Guard,
        result: Result<(), E>,
    ) -> Result<(), Halt> {
        let result = result.map_err(Into::into);
        match &result {
            Ok(()) => self.pass(guard),
            Err(halt) => self.block(guard, halt.to_string()),
        }
        result
    }
}

/// Why a guard stopped an action: a reason to skip it, or shared state that could not be read
/// (the guard fails closed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Halt {
    /// Deliberately not carried out.
    Skip(SkipReason),
    /// Not carried out because what the guard needs to know is unavailable.
    Fail(ActionError),
}

impl From<SkipReason> for Halt {
    fn from(reason: SkipReason) -> Self {
        Halt::Skip(reason)
    }
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Halt::Skip(reason) => reason.fmt(f),
            Halt::Fail(error) => error.fmt(f),
        }
    }
}

impl From<Halt> for Outcome {
    fn from(halt: Halt) -> Self {
        match halt {
            Halt::Skip(reason) => Outcome::Skipped(reason),
            Halt::Fail(error) => Outcome::Failed(error),
        }
    }
}

/// What the guards of a destructive action look at.
pub(crate) struct Checks<'a> {
    pub(crate) accounts: &'a AccountsConfig,
    pub(crate) kill_switch: &'a KillSwitch,
    pub(crate) protection: &'a Protection,
    pub(crate) state: &'a dyn StateStore,
}

impl Checks<'_> {
    /// The guards every destructive action passes first, in order: kill switch (local, then
    /// shared), sample, account, credentials, protection, circuit breaker.
    pub(crate) async fn run(
        &self,
        action: &Action,
        finding: &FindingContext,
        trail: &mut Trail,
        now: u64,
    ) -> Result<(), Halt> {
        trail.check(
            Guard::KillSwitch,
            kill_switch(self.kill_switch, self.state).await,
        )?;
        trail.check(Guard::Sample, sample(finding))?;
        match check_account(self.accounts, finding) {
            Ok(detail) => trail.note(Guard::Account, detail),
            Err(reason) => {
                trail.block(Guard::Account, reason.to_string());
                return Err(Halt::Skip(reason));
            }
        }
        trail.check(Guard::Credentials, credentials(action, finding))?;
        trail.check(
            Guard::Protection,
            protection(self.protection, action, finding),
        )?;
        trail.check(
            Guard::CircuitBreaker,
            circuit_breaker(self.state, now).await,
        )
    }
}

/// The failure of a guard that cannot read the shared state: the action is not carried out.
fn unavailable(what: &str, e: &dyn fmt::Display) -> Halt {
    Halt::Fail(ActionError::new(
        ErrorKind::StateUnavailable,
        format!("not executed: {what} cannot be read: {e}"),
    ))
}

/// Stops everything destructive while the local switch (flag or file) or the shared one is
/// engaged.
pub(crate) async fn kill_switch(switch: &KillSwitch, state: &dyn StateStore) -> Result<(), Halt> {
    if let Some(source) = switch.engaged() {
        return Err(SkipReason::KillSwitch { source }.into());
    }
    match state.stop().await {
        Ok(Some(stop)) => Err(SkipReason::KillSwitch {
            source: stop.to_string(),
        }
        .into()),
        Ok(None) => Ok(()),
        Err(e) => Err(unavailable("the shared kill switch", &e)),
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
pub(crate) async fn circuit_breaker(state: &dyn StateStore, now: u64) -> Result<(), Halt> {
    match state.breaker(now).await {
        Ok(Some(breaker)) => Err(SkipReason::CircuitOpen {
            cause: breaker.cause,
        }
        .into()),
        Ok(None) => Ok(()),
        Err(e) => Err(unavailable("the circuit breaker", &e)),
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
