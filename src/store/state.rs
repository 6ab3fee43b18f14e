//! Shared state: the rate windows, the circuit breaker and the kill switch that every worker of a
//! deployment sees alike.
//!
//! A [`StateStore`] is what several processes (containers behind a queue, Lambda functions)
//! share so that they act as one: a rate limit is one budget for all of them, a breaker tripped
//! by one stops all of them at once, and one `stop` engages the kill switch everywhere. The
//! in-memory backend, [`MemoryState`], serves one process; the DynamoDB backend lives in
//! `remedy::aws` (feature `aws`). Every backend passes the same conformance suite.
//!
//! Rate limits count in **fixed windows**: the window of an action is
//! `now - now % per_secs`, and at most `max` actions are admitted per window. Every backend
//! counts the same way, so the same configuration means the same thing everywhere.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::RateLimit;
use crate::plan::ActionKind;

/// What a rate window counts: an action kind, and optionally the account it acts in (for
/// per-account limits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RateKey {
    /// The action kind.
    pub kind: ActionKind,
    /// The account the window is for; `None`: every account together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl RateKey {
    /// The window of `kind`, across every account.
    pub fn new(kind: ActionKind) -> Self {
        Self {
            kind,
            account: None,
        }
    }

    /// The window of this kind in `account` only.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The key as one string (`kind`, or `kind#account`), for backends that key by one string.
    pub fn joined(&self) -> String {
        match &self.account {
            Some(account) => format!("{}#{account}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

impl std::fmt::Display for RateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.account {
            Some(account) => write!(f, "`{}` in account `{account}`", self.kind),
            None => write!(f, "`{}`", self.kind),
        }
    }
}

impl RateLimit {
    /// The start of the fixed window `now` falls in, in seconds since the Unix epoch (a window of
    /// 0 s is taken as 1 s).
    pub fn window_start(&self, now: u64) -> u64 {
        now - now % self.per_secs.max(1)
    }
}

/// The circuit breaker while it is open: destructive actions are stopped until `open_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// Until when it stays open, in seconds since the Unix epoch.
    pub open_until: u64,
    /// Why it tripped, e.g. ``rate limit of `disable_access_key` (3 per 3600 s) exceeded``.
    pub cause: String,
    /// When it tripped (RFC 3339).
    pub at: String,
    /// The run that tripped it.
    pub by: String,
}

impl Breaker {
    /// Whether it is still open at `now`.
    pub fn is_open(&self, now: u64) -> bool {
        now < self.open_until
    }
}

/// The shared kill switch while it is engaged: who engaged it, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// Who engaged it (a person, `user@host`).
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Why.
    pub reason: String,
}

impl Stop {
    /// A stop engaged now by `by` for `reason`.
    pub fn new(by: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            by: by.into(),
            at: crate::clock::now_rfc3339(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped for every worker by {} at {}: {}",
            self.by, self.at, self.reason
        )
    }
}

/// What went wrong with the shared state, whatever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StateErrorKind {
    /// The store could not be reached, timed out or failed on its side (the table may not exist).
    Unavailable,
    /// The store asked to slow down.
    Throttled,
    /// The credentials may not read or write the store.
    Denied,
    /// The store holds something that cannot be read, or rejected the request as invalid.
    Invalid,
}

impl StateErrorKind {
    fn describe(self) -> &'static str {
        match self {
            StateErrorKind::Unavailable => "unavailable",
            StateErrorKind::Throttled => "throttled",
            StateErrorKind::Denied => "access denied",
            StateErrorKind::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for StateErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The shared state could not be read or written. Destructive actions fail closed on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state {kind}: {message}")]
pub struct StateError {
    kind: StateErrorKind,
    message: String,
}

impl StateError {
    /// An error of `kind`.
    pub fn new(kind: StateErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StateErrorKind {
        self.kind
    }

    /// The message, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The state several workers share: rate windows, the circuit breaker and the kill switch.
///
/// Every change is atomic across every process that uses the same store: of concurrent
/// [`StateStore::admit`] calls on a window with room for `n`, exactly `n` are admitted; of
/// concurrent [`StateStore::trip`] calls, exactly one trips the breaker. Reads are consistent: a
/// trip or a stop is seen by the next call of any worker.
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug + 'static {
    /// Counts one action against the fixed window of `key` that `now` falls in
    /// ([`RateLimit::window_start`]), only if fewer than `limit.max` were counted; `Ok(false)`:
    /// the window is full, nothing was counted.
    async fn admit(&self, key: &RateKey, limit: RateLimit, now: u64) -> Result<bool, StateError>;
    /// The breaker, if it is open at `now`.
    async fn breaker(&self, now: u64) -> Result<Option<Breaker>, StateError>;
    /// Opens the breaker unless it is open at `now`; `Ok(true)`: this call opened it.
    async fn trip(&self, breaker: &Breaker, now: u64) -> Result<bool, StateError>;
    /// The shared kill switch, if it is engaged.
    async fn stop(&self) -> Result<Option<Stop>, StateError>;
    /// Engages (`Some`) or releases (`None`) the shared kill switch.
    async fn set_stop(&self, stop: Option<&Stop>) -> Result<(), StateError>;
    /// The head last recorded for the audit trail named `trail` (see [`ChainHead`]).
    async fn chain_head(&self, trail: &str) -> Result<Option<ChainHead>, StateError>;
    /// Records `head` for the audit trail named `trail`, unless a longer one is recorded (a slow
    /// writer never moves the head back).
    async fn set_chain_head(&self, trail: &str, head: &ChainHead) -> Result<(), StateError>;
}

/// Where an audit trail ended when it was last written: its length in bytes and the SHA-256 of
/// its last line. Kept outside the file (in the `[state]` table), it shows lines removed from the
/// trail's end, which the chain alone cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The trail's length after the line, in bytes.
    pub bytes: u64,
    /// The SHA-256 of the line, in hex.
    pub hash: String,
}

macro_rules! forward_state {
    ($($wrapper:ident),*) => {
        $(
            #[async_trait]
            impl<S: StateStore + ?Sized> StateStore for $wrapper<S> {
                async fn admit(
                    &self,
                    key: &RateKey,
                    limit: RateLimit,
                    now: u64,
                ) -> Result<bool, StateError> {
                    (**self).admit(key, limit, now).await
                }
                async fn breaker(&self, now: u64) -> Result<Option<Breaker>, StateError> {
                    (**self).breaker(now).await
                }
                async fn trip(&self, breaker: &Breaker, now: u64) -> Result<bool, StateError> {
                    (**self).trip(breaker, now).await
                }
                async fn stop(&self) -> Result<Option<Stop>, StateError> {
                    (**self).stop().await
                }
                async fn set_stop(&self, stop: Option<&Stop>) -> Result<(), StateError> {
                    (**self).set_stop(stop).await
                }
                async fn chain_head(&self, trail: &str) -> Result<Option<ChainHead>, StateError> {
                    (**self).chain_head(trail).await
                }
                async fn set_chain_head(
                    &self,
                    trail: &str,
                    head: &ChainHead,
                ) -> Result<(), StateError> {
                    (**self).set_chain_head(trail, head).await
                }
            }
        )*
    };
}

forward_state!(Box, Arc);

/// Shared state in the process's memory (the default): one process's workers share it; it is
/// lost when the process ends. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    inner: Arc<Mutex<Memory>>,
}

#[derive(Debug, Default)]
struct Memory {
    /// Counts by key, window length and window start.
    windows: BTreeMap<(RateKey, u64, u64), u32>,
    breaker: Option<Breaker>,
    stop: Option<Stop>,
    heads: BTreeMap<String, ChainHead>,
}

impl MemoryState {
    /// Empty state: no window counted, the breaker closed, the kill switch released.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl StateStore for MemoryState {
    async fn admit(&self, key: &RateKey, limit: RateLimit, now: u64) -> Result<bool, StateError> {
        let per = limit.per_secs.max(1);
        let start = limit.window_start(now);
        let mut memory = self.lock();
        // Windows that ended are of no use any more.
        memory
            .windows
            .retain(|(_, per, start), _| start.saturating_add(*per) > now);
        let count = memory.windows.entry((key.clone(), per, start)).or_insert(0);
        if *count < limit.max {
            *count += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn breaker(&self, now: u64) -> Result<Option<Breaker>, StateError> {
        Ok(self.lock().breaker.clone().filter(|b| b.is_open(now)))
    }

    async fn trip(&self, breaker: &Breaker, now: u64) -> Result<bool, StateError> {
        let mut memory = self.lock();
        if memory.breaker.as_ref().is_some_and(|b| b.is_open(now)) {
            return Ok(false);
        }
        memory.breaker = Some(breaker.clone());
        Ok(true)
    }

    async fn stop(&self) -> Result<Option<Stop>, StateError> {
        Ok(self.lock().stop.clone())
    }

    async fn set_stop(&self, stop: Option<&Stop>) -> Result<(), StateError> {
        self.lock().stop = stop.cloned();
        Ok(())
    }

    async fn chain_head(&self, trail: &str) -> Result<Option<ChainHead>, StateError> {
        Ok(self.lock().heads.get(trail).cloned())
    }

    async fn set_chain_head(&self, trail: &str, head: &ChainHead) -> Result<(), StateError> {
        let mut memory = self.lock();
        let longer = memory
            .heads
            .get(trail)
            .is_some_and(|known| known.bytes > head.bytes);
        if !longer {
            memory.heads.insert(trail.to_owned(), head.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_keys_join() {
        let limit = RateLimit::new(1, 3600);
        assert_eq!(limit.window_start(7_199), 3_600);
        assert_eq!(limit.window_start(7_200), 7_200);
        let zero = RateLimit::new(1, 0);
        assert_eq!(zero.window_start(17), 17);
        let key = RateKey::new(ActionKind::DISABLE_ACCESS_KEY);
        assert_eq!(key.joined(), "disable_access_key");
        assert_eq!(
            key.with_account("123456789012").joined(),
            "disable_access_key#123456789012"
        );
        let e = StateError::new(StateErrorKind::Throttled, "table `t`: slow down");
        assert_eq!(
            e.to_string(),
            "shared state throttled: table `t`: slow down"
        );
    }
}
