//! Wrappers that change how an inner executor is used: dry run, retry, timeout.

use std::time::Duration;

use async_trait::async_trait;

use super::{ActionError, ActionRequest, ErrorKind, Executor, Outcome, SkipReason, Verification};
use crate::plan::{ActionKind, is_idempotent};

/// Reports what the inner executor would do and does nothing.
#[derive(Debug, Clone)]
pub struct DryRun<E> {
    inner: E,
}

impl<E> DryRun<E> {
    /// Wraps `inner`; it is never called.
    pub fn new(inner: E) -> Self {
        Self { inner }
    }

    /// The wrapped executor.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

#[async_trait]
impl<E: Executor> Executor for DryRun<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        Outcome::Skipped(SkipReason::DryRun {
            would: request.action.describe(),
        })
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        self.inner.verify(request).await
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        self.inner.handles(kind)
    }

    fn handles_channel(&self, channel: &str) -> bool {
        self.inner.handles_channel(channel)
    }
}

/// The longest wait a [`Retry`] honours when the other side asks for one.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Retries transient failures ([`ActionError::retryable`]) with exponential backoff.
///
/// Only idempotent kinds are retried (see [`crate::plan::is_idempotent`]) unless
/// [`Retry::retry_non_idempotent`] says otherwise: a second `SendCommand` runs the command twice.
/// A failure that says nothing was done ([`ActionError::nothing_done`], a 429) is retried for
/// every kind, after the wait the other side asked for when it is longer than the backoff (at
/// most a minute: a longer wait fails the action with its reason).
#[derive(Debug, Clone)]
pub struct Retry<E> {
    inner: E,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    non_idempotent: bool,
}

impl<E> Retry<E> {
    /// Wraps `inner`: 3 attempts, 200 ms doubling up to 5 s, idempotent kinds only.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            non_idempotent: false,
        }
    }

    /// Sets the number of attempts (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first delay and the largest delay between attempts.
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Also retries kinds that are not idempotent.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.non_idempotent = yes;
        self
    }
}

#[async_trait]
impl<E: Executor> Executor for Retry<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let may_retry = self.non_idempotent || is_idempotent(&request.action.kind());
        let mut delay = self.base_delay;
        let mut attempt = 1;
        loop {
            let outcome = self.inner.execute(request).await;
            let retry = match &outcome {
                Outcome::Failed(e) => {
                    (may_retry || e.nothing_done())
                        && e.retryable()
                        && attempt < self.max_attempts
                        && e.retry_after().is_none_or(|after| after <= MAX_RETRY_AFTER)
                }
                _ => false,
            };
            if let Outcome::Failed(e) = &outcome
                && let Some(after) = e.retry_after()
            {
                delay = delay.max(after);
            }
            if !retry {
                return match outcome {
                    Outcome::Failed(e) if attempt > 1 => Outcome::Failed(
                        ActionError::new(
                            e.kind(),
                            format!("{} (after {attempt} attempts)", e.message()),
                        )
                        .with_retryable(e.retryable()),
                    ),
                    other => other,
                };
            }
            tracing::debug!(attempt, ?delay, "retrying `{}`", request.action.kind());
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(self.max_delay);
            attempt += 1;
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        self.inner.verify(request).await
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        self.inner.handles(kind)
    }

    fn handles_channel(&self, channel: &str) -> bool {
        self.inner.handles_channel(channel)
    }
}

/// Fails an action that takes longer than a limit with [`ErrorKind::Timeout`].
///
/// The inner call is dropped at the deadline; whether the backend completed the change is then
/// unknown, so the error says so and is retryable only for idempotent kinds.
#[derive(Debug, Clone)]
pub struct Timeout<E> {
    inner: E,
    limit: Duration,
}

impl<E> Timeout<E> {
    /// Wraps `inner` with a deadline of `limit` per action.
    pub fn new(inner: E, limit: Duration) -> Self {
        Self { inner, limit }
    }
}

#[async_trait]
impl<E: Executor> Executor for Timeout<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        match tokio::time::timeout(self.limit, self.inner.execute(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed(
                ActionError::new(
                    ErrorKind::Timeout,
                    format!(
                        "`{}` did not finish within {} ms; its effect is unknown",
                        request.action.kind(),
                        self.limit.as_millis()
                    ),
                )
                .with_retryable(is_idempotent(&request.action.kind())),
            ),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        tokio::time::timeout(self.limit, self.inner.verify(request))
            .await
            .unwrap_or(Verification::Unknown)
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        self.inner.handles(kind)
    }

    fn handles_channel(&self, channel: &str) -> bool {
        self.inner.handles_channel(channel)
    }
}
