//! The rate limit of an action's kind, and the circuit breaker it trips.

use std::time::Instant;

use super::Remediator;
use super::audit::ActionRecord;
use super::clock::{now_rfc3339, now_secs};
use super::guard::{Guard, Trail};
use super::limit::RateLimit;
use super::state::{Breaker, RateKey};
use crate::action::{ActionError, ErrorKind, Outcome, SkipReason};
use crate::plan::{Action, ActionKind, FindingContext, Notify};

impl Remediator {
    /// Counts the action against its kind's rate window. A full window skips it, and for a
    /// destructive kind trips the breaker; a window that cannot be counted fails a destructive
    /// action closed and lets a notification through.
    pub(super) async fn rate_limit(
        &self,
        finding: &FindingContext,
        action: &Action,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
    ) -> Option<Outcome> {
        let inner = &self.inner;
        let kind = action.kind();
        let limit = inner.limits.get(&kind).copied()?;
        let destructive = action.is_destructive();
        let now = now_secs();
        match inner
            .state
            .admit(&RateKey::new(kind.clone()), limit, now)
            .await
        {
            Ok(true) => return None,
            Ok(false) => {}
            Err(e) if !destructive => {
                trail.note(Guard::RateLimit, format!("not counted, sent anyway: {e}"));
                return None;
            }
            Err(e) => {
                trail.block(Guard::RateLimit, e.to_string());
                return Some(Outcome::Failed(ActionError::new(
                    ErrorKind::StateUnavailable,
                    format!("not executed: the rate limit cannot be counted: {e}"),
                )));
            }
        }
        trail.block(Guard::RateLimit, limit.to_string());
        if destructive && self.trip(&kind, limit, now, trail).await {
            extra.push(self.breaker_tripped(finding, &kind, limit).await);
        }
        Some(Outcome::Skipped(SkipReason::RateLimited {
            action_kind: kind.to_string(),
            limit: limit.to_string(),
        }))
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
            super::carry::execute_isolated(&inner.executor, finding, &action, &[], &[]).await
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
