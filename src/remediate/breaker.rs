//! The rate limit of an action's kind, and the circuit breaker it trips.

use std::time::Instant;

use super::Remediator;
use super::guard::Trail;
use crate::action::{ActionError, ErrorKind, Outcome, SkipReason};
use crate::clock::now_rfc3339;
use crate::config::RateLimit;
use crate::plan::{Action, ActionKind, FindingContext, Notify};
use crate::store::audit::ActionRecord;
use crate::store::audit::Guard;
use crate::store::state::{Breaker, RateKey};

impl Remediator {
    /// Counts the action against its kind's rate windows: first its account's (with
    /// `per_account`), then every account's. A full account window skips the action; a full
    /// window of every account skips it too, and for a destructive kind trips the breaker. A
    /// window that cannot be counted fails a destructive action closed and lets a notification
    /// through.
    pub(super) async fn rate_limit(
        &self,
        finding: &FindingContext,
        action: &Action,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
    ) -> Option<Outcome> {
        let kind = action.kind();
        let limit = self.inner.limits.get(&kind).copied()?;
        let now = self.inner.clock.now_secs();
        if let Some(account_limit) = limit.account_window() {
            // A finding that names no account counts as account `-`, as in the ledger's keys.
            let account = match finding.account_id.as_str() {
                "" => "-",
                account => account,
            };
            let key = RateKey::new(kind.clone()).with_account(account);
            let window = format!("{account_limit} in account {account}");
            match self.admit(action, &key, account_limit, now, trail).await {
                Ok(true) => {}
                // One account's window: the others are still answered, the breaker stays shut.
                Ok(false) => return Some(rate_limited(&kind, window, trail)),
                Err(outcome) => return outcome,
            }
        }
        match self
            .admit(action, &RateKey::new(kind.clone()), limit, now, trail)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                let skipped = rate_limited(&kind, limit.to_string(), trail);
                if action.is_destructive() && self.trip(&kind, limit, now, trail).await {
                    extra.push(self.breaker_tripped(finding, &kind, limit).await);
                }
                return Some(skipped);
            }
            Err(outcome) => return outcome,
        }
        None
    }

    /// Counts `action` in the window of `key`: whether there was room; `Err` with what to do when
    /// the window cannot be counted (fail a destructive action, send a notification anyway).
    async fn admit(
        &self,
        action: &Action,
        key: &RateKey,
        limit: RateLimit,
        now: u64,
        trail: &mut Trail,
    ) -> Result<bool, Option<Outcome>> {
        match self.inner.state.admit(key, limit, now).await {
            Ok(admitted) => Ok(admitted),
            Err(e) if !action.is_destructive() => {
                trail.note(Guard::RateLimit, format!("not counted, sent anyway: {e}"));
                Err(None)
            }
            Err(e) => {
                trail.block(Guard::RateLimit, e.to_string());
                Err(Some(Outcome::Failed(ActionError::new(
                    ErrorKind::StateUnavailable,
                    format!("not executed: the rate limit cannot be counted: {e}"),
                ))))
            }
        }
    }

    /// Opens the breaker for every worker; `true` when this call opened it.
    async fn trip(&self, kind: &ActionKind, limit: RateLimit, now: u64, trail: &mut Trail) -> bool {
        let inner = &self.inner;
        let breaker = Breaker {
            // A cooldown too long to add to the clock keeps the breaker open for good.
            open_until: now.saturating_add(inner.cooldown.as_secs()),
            cause: format!("rate limit of `{kind}` ({limit}) exceeded"),
            at: now_rfc3339(),
            by: inner.owner.to_string(),
        };
        match inner.state.trip(&breaker, now).await {
            Ok(tripped) => tripped,
            Err(e) => {
                tracing::error!("the circuit breaker could not be opened: {e}");
                trail.note(Guard::CircuitBreaker, format!("could not be opened: {e}"));
                false
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
            inner.cooldown.as_secs()
        );
        let action = Action::Notify(Notify {
            channel: inner.breaker_channel.clone(),
            message,
        });
        let outcome = if inner.enforcement.enforce {
            super::carry::execute_isolated(
                &inner.executor,
                finding,
                &action,
                &[],
                &[],
                super::carry::AboutRequest::default(),
                None,
            )
            .await
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

/// The outcome of an action whose window (`window`, said as the limit) is full.
fn rate_limited(kind: &ActionKind, window: String, trail: &mut Trail) -> Outcome {
    trail.block(Guard::RateLimit, window.clone());
    Outcome::Skipped(SkipReason::RateLimited {
        action_kind: kind.to_string(),
        limit: window,
    })
}
