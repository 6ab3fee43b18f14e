//! The approval store: requests waiting for a person, and their decisions.
//!
//! An action that needs approval (`[approval]`, see [`ApprovalConfig`]) is not executed by an
//! enforcing run: its guards run, then an [`ApprovalRequest`] holding the finding and the exact
//! action is stored in an [`ApprovalStore`], the configured channel is asked, and the action's
//! outcome is `pending_approval` with the request's id. [`Remediator::approve`] carries the
//! action out through every guard again (kill switch, protection, breaker, rate limit, ledger):
//! an approval never bypasses a guard. [`Remediator::deny`] closes it, and
//! [`Remediator::expire`] applies the timeout. A request is decided once: the store records the
//! first decision atomically and refuses every later one.
//!
//! The request's id is derived from the action's ledger key, so a finding delivered again (SQS
//! redelivers, GuardDuty updates the finding) finds the same request instead of asking twice. A
//! request that was approved lets a later delivery of the same action run (through every guard);
//! one that was denied keeps it skipped.
//!
//! [`Remediator::approve`]: crate::Remediator::approve
//! [`Remediator::deny`]: crate::Remediator::deny
//! [`Remediator::expire`]: crate::Remediator::expire
//! [`ApprovalConfig`]: crate::config::ApprovalConfig

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::AuditKey;
use super::ledger::{LedgerKey, Owner};
use crate::config::OnTimeout;
use crate::id::ApprovalId;
use crate::plan::{FindingContext, PlannedAction};

mod file;

pub use file::FileApprovals;

/// What a person (or the timeout) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Carry the action out (through every guard).
    Approve,
    /// Do not.
    Deny,
}

impl Verdict {
    /// `approve` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

impl From<OnTimeout> for Verdict {
    fn from(on_timeout: OnTimeout) -> Self {
        match on_timeout {
            OnTimeout::Approve => Self::Approve,
            OnTimeout::Deny => Self::Deny,
        }
    }
}

/// A decision on a request: who, what, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Approve or deny.
    pub verdict: Verdict,
    /// Who decided (`timeout` when the request expired).
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Their note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the timeout decided (`on_timeout`), not a person.
    #[serde(default)]
    pub timed_out: bool,
    /// With an audit key (`[audit] key_env`): the HMAC binding the decision to its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl Decision {
    /// A person's decision, made now.
    pub fn by(verdict: Verdict, by: impl Into<String>, note: Option<String>) -> Self {
        Self {
            verdict,
            by: by.into(),
            at: super::ledger::now_rfc3339(),
            note,
            timed_out: false,
            seal: None,
        }
    }

    /// The timeout's decision, made now.
    pub fn timeout(on_timeout: OnTimeout) -> Self {
        Self {
            verdict: on_timeout.into(),
            by: "timeout".into(),
            at: super::ledger::now_rfc3339(),
            note: None,
            timed_out: true,
            seal: None,
        }
    }

    /// What the seal covers: the request's id and the decision, seal aside.
    fn sealed_bytes(&self, id: &ApprovalId) -> Vec<u8> {
        let mut bare = self.clone();
        bare.seal = None;
        let mut bytes = id.as_str().as_bytes().to_vec();
        bytes.push(0);
        bytes.extend(serde_json::to_vec(&bare).unwrap_or_default());
        bytes
    }

    /// Seals the decision on request `id` with `key`.
    pub fn sealed(mut self, id: &ApprovalId, key: &AuditKey) -> Self {
        self.seal = Some(key.seal_hex(&self.sealed_bytes(id)));
        self
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match self.verdict {
            Verdict::Approve => "approved",
            Verdict::Deny => "denied",
        };
        if self.timed_out {
            write!(f, "{done} on timeout at {}", self.at)?;
        } else {
            write!(f, "{done} by {} at {}", self.by, self.at)?;
        }
        match &self.note {
            Some(note) => write!(f, ": {note}"),
            None => Ok(()),
        }
    }
}

/// One action waiting for (or past) a decision, with everything needed to carry it out later:
/// the plan is self-contained, so no policy is evaluated again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The request's id.
    pub id: ApprovalId,
    /// When it was asked (RFC 3339).
    pub requested_at: String,
    /// When it expires, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// When it expires (RFC 3339).
    pub expires: String,
    /// What happens then.
    pub on_timeout: OnTimeout,
    /// The channel that was asked.
    pub channel: String,
    /// The run that asked.
    pub requested_by: Owner,
    /// The action's ledger key.
    pub key: LedgerKey,
    /// The finding.
    pub finding: FindingContext,
    /// The action, with the policies that chose it and their reasons.
    pub action: PlannedAction,
    /// The decision, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// What came of the action after the decision (the outcome, for people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// With an audit key (`[audit] key_env`): the HMAC of the request (decision, result and seal
    /// aside), so that an edit shows even to one who recomputes the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl ApprovalRequest {
    /// Whether nobody has decided yet.
    pub fn is_pending(&self) -> bool {
        self.decision.is_none()
    }

    /// Whether it expired by `now` (seconds since the Unix epoch).
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// What the seal covers: the request, decision, result and seal aside.
    fn sealed_bytes(&self) -> Vec<u8> {
        let mut bare = self.clone();
        bare.decision = None;
        bare.result = None;
        bare.seal = None;
        serde_json::to_vec(&bare).unwrap_or_default()
    }

    /// Seals the request with `key`.
    pub fn sealed(mut self, key: &AuditKey) -> Self {
        self.seal = Some(key.seal_hex(&self.sealed_bytes()));
        self
    }

    /// Why the request's seal, or its decision's, does not verify under `key`, if it does not.
    pub fn check_seals(&self, key: &AuditKey) -> Result<(), String> {
        let sealed = self
            .seal
            .as_deref()
            .is_some_and(|seal| key.verifies(&self.sealed_bytes(), seal));
        if !sealed {
            return Err(format!(
                "request `{}` is not sealed with the audit key: it was edited or written without it",
                self.id
            ));
        }
        if let Some(decision) = &self.decision {
            let sealed = decision
                .seal
                .as_deref()
                .is_some_and(|seal| key.verifies(&decision.sealed_bytes(&self.id), seal));
            if !sealed {
                return Err(format!(
                    "the decision on request `{}` is not sealed with the audit key: it was edited \
                     or written without it",
                    self.id
                ));
            }
        }
        Ok(())
    }

    /// Why the request does not hold together, if it does not: its id is the digest of its
    /// ledger key, and its key is the one its finding and action make. A request file edited to
    /// carry another action, target or finding fails here, and is never carried out.
    pub fn check(&self) -> Result<(), String> {
        if approval_id(&self.key) != self.id {
            return Err(format!(
                "request `{}` does not match its own key: it was edited",
                self.id
            ));
        }
        if LedgerKey::new(&self.finding, &self.action) != self.key {
            return Err(format!(
                "request `{}` names an action or finding other than its key's: it was edited",
                self.id
            ));
        }
        if self.result.is_some() && self.decision.is_none() {
            return Err(format!(
                "request `{}` has a result but no decision: its decision was removed",
                self.id
            ));
        }
        Ok(())
    }
}

/// The id of the request for `key`: the same action of the same finding is one request.
pub fn approval_id(key: &LedgerKey) -> ApprovalId {
    let mut hasher = Sha256::new();
    for part in [
        key.account.as_str(),
        key.finding_id.as_str(),
        key.occurrence.as_str(),
        key.kind.as_str(),
        key.target.as_str(),
        key.variant.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    ApprovalId::from_digest(&hex)
}

/// What went wrong with an approval, whatever the store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// No request has this id.
    #[error("no approval request `{0}`")]
    NotFound(ApprovalId),
    /// The request has its decision already; nothing was changed.
    #[error("approval request `{id}` was already decided: {decision}")]
    AlreadyDecided {
        /// The request.
        id: ApprovalId,
        /// The decision that stands.
        decision: Box<Decision>,
    },
    /// The request expired before it was approved; `remedy expire` applies its timeout.
    #[error(
        "approval request `{id}` expired at {expires}; it can no longer be approved (`remedy \
         expire` applies its timeout: {on_timeout})"
    )]
    Expired {
        /// The request.
        id: ApprovalId,
        /// When it expired (RFC 3339).
        expires: String,
        /// What its timeout does.
        on_timeout: OnTimeout,
    },
    /// Approving (and applying timeouts) carries actions out: a remediator that does not enforce
    /// cannot do it.
    #[error("a dry run cannot approve: approving carries the action out (run with --execute)")]
    NotEnforcing,
    /// The store could not be read or written.
    #[error("the approval store `{store}` is unavailable: {message}")]
    Unavailable {
        /// The store (a directory, a table).
        store: String,
        /// What went wrong.
        message: String,
    },
    /// The store holds something that cannot be read.
    #[error("the approval store `{store}` holds an unreadable request: {message}")]
    Invalid {
        /// The store.
        store: String,
        /// What went wrong.
        message: String,
    },
}

/// What [`ApprovalStore::request`] found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Requested {
    /// The request was stored: nobody has been asked yet.
    Created,
    /// A request with this id exists (asked earlier, maybe decided): here it is, unchanged.
    Exists(Box<ApprovalRequest>),
}

/// Where approval requests are kept; every backend passes the same conformance suite
/// (`tests/approval_conformance.rs`).
#[async_trait]
pub trait ApprovalStore: Send + Sync + fmt::Debug {
    /// Stores `request` unless a request with its id exists (atomically: of two runs asking at
    /// once, one creates it and the other gets [`Requested::Exists`]).
    async fn request(&self, request: &ApprovalRequest) -> Result<Requested, ApprovalError>;

    /// The request `id`, with its decision and result if it has them.
    async fn get(&self, id: &ApprovalId) -> Result<Option<ApprovalRequest>, ApprovalError>;

    /// Every request that is not finished, oldest first: undecided, or decided with its action not
    /// carried out yet (a decider that stopped half-way, or a failure that may succeed later).
    async fn unfinished(&self) -> Result<Vec<ApprovalRequest>, ApprovalError>;

    /// Every request nobody has decided on, oldest first.
    async fn pending(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let mut open = self.unfinished().await?;
        open.retain(ApprovalRequest::is_pending);
        Ok(open)
    }

    /// Records `decision`, once: a request decided already is refused with
    /// [`ApprovalError::AlreadyDecided`] (the first decision stands, atomically, however many
    /// deciders race), an unknown id with [`ApprovalError::NotFound`]. Returns the request as
    /// decided.
    async fn decide(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRequest, ApprovalError>;

    /// Records what came of a decided request's action: the request is finished.
    async fn finish(&self, id: &ApprovalId, result: &str) -> Result<(), ApprovalError>;
}

/// Approval requests in memory: for tests, and for one process that needs no restart.
#[derive(Debug, Default)]
pub struct MemoryApprovals {
    requests: Mutex<BTreeMap<ApprovalId, ApprovalRequest>>,
}

impl MemoryApprovals {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<ApprovalId, ApprovalRequest>) -> T) -> T {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut requests)
    }
}

#[async_trait]
impl ApprovalStore for MemoryApprovals {
    async fn request(&self, request: &ApprovalRequest) -> Result<Requested, ApprovalError> {
        Ok(self.with(|r| match r.get(&request.id) {
            Some(existing) => Requested::Exists(Box::new(existing.clone())),
            None => {
                r.insert(request.id.clone(), request.clone());
                Requested::Created
            }
        }))
    }

    async fn get(&self, id: &ApprovalId) -> Result<Option<ApprovalRequest>, ApprovalError> {
        Ok(self.with(|r| r.get(id).cloned()))
    }

    async fn unfinished(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let mut open: Vec<ApprovalRequest> =
            self.with(|r| r.values().filter(|r| r.result.is_none()).cloned().collect());
        oldest_first(&mut open);
        Ok(open)
    }

    async fn decide(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRequest, ApprovalError> {
        self.with(|r| {
            let request = r
                .get_mut(id)
                .ok_or_else(|| ApprovalError::NotFound(id.clone()))?;
            if let Some(earlier) = &request.decision {
                return Err(ApprovalError::AlreadyDecided {
                    id: id.clone(),
                    decision: Box::new(earlier.clone()),
                });
            }
            request.decision = Some(decision.clone());
            Ok(request.clone())
        })
    }

    async fn finish(&self, id: &ApprovalId, result: &str) -> Result<(), ApprovalError> {
        self.with(|r| match r.get_mut(id) {
            Some(request) => {
                request.result = Some(result.to_owned());
                Ok(())
            }
            None => Err(ApprovalError::NotFound(id.clone())),
        })
    }
}

/// Sorts requests oldest first (then by id, so the order is stable).
pub(crate) fn oldest_first(requests: &mut [ApprovalRequest]) {
    requests.sort_by(|a, b| (a.expires_at, a.id.as_str()).cmp(&(b.expires_at, b.id.as_str())));
}
