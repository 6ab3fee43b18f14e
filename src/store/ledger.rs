//! The idempotency ledger: a lease per (finding, occurrence, action kind, target), held by one run
//! at a time.
//!
//! A claim has an [`Owner`] (one run of remedy) and an expiry. A live claim of another owner means
//! the action is in progress elsewhere; an expired claim (its lease ran out, or its owner's process
//! on this host is gone) is taken over, and the new owner verifies the state before acting again.
//! Finished entries are kept, so a re-delivered finding is not acted on twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::state::StateErrorKind;
pub(crate) use crate::clock::now_rfc3339;
pub use crate::clock::now_secs;
use crate::id::digest;
use crate::plan::{Action, FindingContext, PlannedAction, is_idempotent};

mod file;
mod owner;

pub use file::FileLedger;
pub use owner::Owner;

/// The default lease: how long a claim holds before another run may take it over (900 s).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(900);

/// What a ledger entry is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LedgerKey {
    /// The account the finding is about (empty when the finding names none): the same finding id
    /// in two accounts is two keys.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The finding's id.
    pub finding_id: String,
    /// The finding's occurrence (`updatedAt` and `count`) for actions repeated when GuardDuty
    /// updates the finding; empty for actions taken once per finding.
    #[serde(default)]
    pub occurrence: String,
    /// The action's kind.
    pub kind: crate::plan::ActionKind,
    /// What the action acts on ([`Action::target`]).
    pub target: String,
    /// A digest of what a notification says: each distinct message is its own entry.
    #[serde(default)]
    pub variant: String,
}

impl LedgerKey {
    /// The key of `planned` for `finding`.
    ///
    /// The rule: idempotent actions (disabling a key) and notifications are keyed per occurrence,
    /// so an updated finding re-verifies the state (and re-sends a notification); other actions
    /// (an SSM command) once per finding, unless the policy asked for them on every update
    /// ([`PlannedAction::repeat_on_update`]).
    pub fn new(finding: &FindingContext, planned: &PlannedAction) -> Self {
        let action = &planned.action;
        let kind = action.kind();
        let per_occurrence =
            is_idempotent(&kind) || matches!(action, Action::Notify(_)) || planned.repeat_on_update;
        let occurrence = if per_occurrence {
            occurrence(finding)
        } else {
            String::new()
        };
        let variant = match action {
            Action::Notify(n) => digest(&n.message),
            _ => String::new(),
        };
        Self {
            account: finding.account_id.to_string(),
            finding_id: finding.id.to_string(),
            occurrence,
            kind,
            target: action.target(),
            variant,
        }
    }

    /// The lock of this key's target: one entry per account, kind and target, whichever finding
    /// chose the action (see [`LedgerKey::is_lock`]).
    pub fn target_lock(&self) -> Self {
        Self {
            account: self.account.clone(),
            finding_id: String::new(),
            occurrence: String::new(),
            kind: self.kind.clone(),
            target: self.target.clone(),
            variant: LOCK.into(),
        }
    }

    /// Whether this is a target lock: a claim held while one destructive action on the target
    /// runs, released after it, never finished; not work an interrupted run left.
    pub fn is_lock(&self) -> bool {
        self.finding_id.is_empty() && self.variant == LOCK
    }

    /// The key's parts joined, for backends that key by one string (the account last, and only
    /// when there is one).
    pub fn joined(&self) -> String {
        let mut joined = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.finding_id, self.occurrence, self.kind, self.target, self.variant
        );
        if !self.account.is_empty() {
            joined.push('\u{1f}');
            joined.push_str(&self.account);
        }
        joined
    }
}

/// The variant of a target lock (a notification's variant is a hex digest, never this).
const LOCK: &str = "lock";

/// A finding's occurrence: when GuardDuty last updated it and how often it saw the activity.
fn occurrence(finding: &FindingContext) -> String {
    let updated = finding
        .updated_at
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    match finding.count {
        Some(count) => format!("{updated}#{count}"),
        None => updated,
    }
}

/// The state of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Claimed by an owner until its lease expires; the action is running, or the run stopped.
    Claimed,
    /// The action succeeded.
    Done,
}

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The key.
    pub key: LedgerKey,
    /// The state.
    pub state: EntryState,
    /// When the entry was last written (RFC 3339).
    pub at: String,
    /// What was done, once done.
    #[serde(default)]
    pub details: Option<String>,
    /// Who holds (or last held) the claim.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Until when a claim holds, in seconds since the Unix epoch.
    #[serde(default)]
    pub expires: Option<u64>,
    /// The finding the action is for, so that an unfinished claim can be finished later.
    #[serde(default)]
    pub finding: Option<FindingContext>,
    /// The action, with the policies that chose it.
    #[serde(default)]
    pub action: Option<PlannedAction>,
}

impl LedgerEntry {
    /// Whether the claim no longer holds: its lease ran out, or its owner's process on this host
    /// is gone. A finished entry never expires.
    pub fn is_expired(&self, now: u64) -> bool {
        self.state == EntryState::Claimed
            && (self.expires.is_none_or(|e| now >= e)
                || self.owner.as_ref().is_none_or(Owner::is_gone))
    }
}

/// What a claim is for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The key.
    pub key: &'a LedgerKey,
    /// The run claiming it.
    pub owner: &'a Owner,
    /// How long the claim holds.
    pub lease: Duration,
    /// The finding.
    pub finding: &'a FindingContext,
    /// The action.
    pub action: &'a PlannedAction,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller holds the key now and must [`Ledger::complete`] or [`Ledger::release`] it.
    Acquired,
    /// The caller took over an expired claim (the entry as it was): an earlier attempt may have
    /// acted, so verify the state before acting again. The caller holds the key now.
    TakenOver(LedgerEntry),
    /// Another owner holds a live claim: the action is in progress there.
    InProgress(LedgerEntry),
    /// The action was done before.
    Done(LedgerEntry),
}

/// A ledger that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("ledger `{path}`: {message}")]
#[non_exhaustive]
pub struct LedgerError {
    /// The ledger's location.
    pub path: String,
    /// What went wrong.
    pub message: String,
    /// What kind of failure it is (unavailable unless the backend knows better).
    pub kind: StateErrorKind,
}

impl LedgerError {
    /// An error of the ledger at `path` (kind: unavailable).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            kind: StateErrorKind::Unavailable,
        }
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: StateErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// Remembers which actions were carried out for which finding, so that a repeated or redelivered
/// finding does not execute a destructive action twice, and an interrupted run's unfinished work
/// is found and finished.
///
/// `claim` is atomic: of concurrent claims of one key (in one process or, for shared backends,
/// several), exactly one acquires it or takes it over.
#[async_trait]
pub trait Ledger: Send + Sync + std::fmt::Debug + 'static {
    /// Claims a key before executing.
    async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError>;
    /// Marks a key done (whoever holds the claim: the action did succeed).
    async fn complete(
        &self,
        key: &LedgerKey,
        owner: &Owner,
        details: &str,
    ) -> Result<(), LedgerError>;
    /// Gives a claim of `owner` back after a failure, so a later delivery may try again; a claim
    /// another owner took over in the meantime is left alone.
    async fn release(&self, key: &LedgerKey, owner: &Owner) -> Result<(), LedgerError>;
    /// Reads a key without claiming it (dry runs use this).
    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError>;
    /// Every claimed (unfinished) entry, live or expired.
    async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError>;
}

macro_rules! forward_ledger {
    ($($wrapper:ident),*) => {
        $(
            #[async_trait]
            impl<L: Ledger + ?Sized> Ledger for $wrapper<L> {
                async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError> {
                    (**self).claim(request).await
                }
                async fn complete(
                    &self,
                    key: &LedgerKey,
                    owner: &Owner,
                    details: &str,
                ) -> Result<(), LedgerError> {
                    (**self).complete(key, owner, details).await
                }
                async fn release(&self, key: &LedgerKey, owner: &Owner) -> Result<(), LedgerError> {
                    (**self).release(key, owner).await
                }
                async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
                    (**self).get(key).await
                }
                async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
                    (**self).claims().await
                }
            }
        )*
    };
}

forward_ledger!(Box, Arc);

/// The decision of a claim, given the current entry: what to answer and what to write. Every
/// backend that holds a lock while it decides uses this, so they agree.
pub(crate) fn decide(
    current: Option<LedgerEntry>,
    request: &ClaimRequest<'_>,
    now: u64,
) -> (Claim, Option<LedgerEntry>) {
    let claimed = || LedgerEntry {
        key: request.key.clone(),
        state: EntryState::Claimed,
        at: now_rfc3339(),
        details: None,
        owner: Some(request.owner.clone()),
        expires: Some(now.saturating_add(request.lease.as_secs())),
        finding: Some(request.finding.clone()),
        action: Some(request.action.clone()),
    };
    match current {
        None => (Claim::Acquired, Some(claimed())),
        Some(entry) if entry.state == EntryState::Done => (Claim::Done(entry), None),
        Some(entry) if entry.is_expired(now) => (Claim::TakenOver(entry), Some(claimed())),
        Some(entry) => (Claim::InProgress(entry), None),
    }
}

/// An in-memory ledger (lost when the process ends). Clones share the entries.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    entries: Arc<Mutex<BTreeMap<LedgerKey, LedgerEntry>>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.values().cloned().collect()
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (claim, write) = decide(entries.get(request.key).cloned(), request, now_secs());
        if let Some(entry) = write {
            entries.insert(request.key.clone(), entry);
        }
        Ok(claim)
    }

    async fn complete(
        &self,
        key: &LedgerKey,
        owner: &Owner,
        details: &str,
    ) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = entries.remove(key);
        entries.insert(key.clone(), done(key, owner, details, previous));
        Ok(())
    }

    async fn release(&self, key: &LedgerKey, owner: &Owner) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.get(key).is_some_and(|e| releasable(e, owner)) {
            entries.remove(key);
        }
        Ok(())
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(key).cloned())
    }

    async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries
            .values()
            .filter(|e| e.state == EntryState::Claimed)
            .cloned()
            .collect())
    }
}

/// The finished entry of `key`, keeping what the claim knew.
pub(crate) fn done(
    key: &LedgerKey,
    owner: &Owner,
    details: &str,
    previous: Option<LedgerEntry>,
) -> LedgerEntry {
    let (finding, action) = previous.map_or((None, None), |p| (p.finding, p.action));
    LedgerEntry {
        key: key.clone(),
        state: EntryState::Done,
        at: now_rfc3339(),
        details: Some(details.to_owned()),
        owner: Some(owner.clone()),
        expires: None,
        finding,
        action,
    }
}

/// Whether `owner` may release `entry`: its own claim, not someone's finished entry.
pub(crate) fn releasable(entry: &LedgerEntry, owner: &Owner) -> bool {
    entry.state == EntryState::Claimed && entry.owner.as_ref().is_some_and(|o| o.run == owner.run)
}
