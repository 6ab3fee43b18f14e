//! The audit trail: a decision record per finding, an intent record before each destructive
//! action, and an outcome record per action.
//!
//! The intent is written (and flushed) before a destructive action executes; when it cannot be
//! written, the action is not executed. So the trail never lacks an action that was carried out,
//! and an intent without an outcome names an action an interrupted run may or may not have done
//! (`remedy ledger reconcile` lists and finishes them).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ledger::{LedgerKey, Owner};
use crate::action::Outcome;
use crate::finding::{FindingType, Text};
use crate::plan::{ActionKind, FindingContext, Plan, PlannedAction, PolicyFailure, Source};

mod chain;
mod file;
mod lines;
mod undo;
mod view;

pub use chain::{AuditKey, CHAIN_START, Verification, line_hash, verify, verify_head};
pub use file::{JsonLinesAudit, UnfinishedIntent};
pub use undo::{UndoChecks, UndoError, UndoPlan, undo_plan};
pub use view::{TrailFilter, TrailReader, TrailRecord};

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
    /// Whether the finding's account is one remedy may act in, and as what it acts there.
    Account,
    /// Whether a person must approve the action first, and whether one has.
    Approval,
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
            Guard::Account => "account",
            Guard::Approval => "approval",
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

/// Whether a run executes or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing is executed; outcomes say what would be done.
    DryRun,
    /// Actions of enforced policies are executed.
    Enforce,
}

/// What the policies decided for a finding, recorded before anything runs: the whole plan, with
/// the time and the run's mode. Replayable: [`Plan::from_json_str`] reads it back.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// When (RFC 3339).
    pub time: String,
    /// The run's mode.
    pub mode: Mode,
    /// The plan, its fields inlined in the record.
    #[serde(flatten)]
    pub plan: Plan,
}

/// What is about to be done: written and flushed before a destructive action executes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntentRecord {
    /// When (RFC 3339).
    pub time: String,
    /// The intent's id; the action's outcome record carries it.
    pub intent: String,
    /// The run that intends it.
    pub owner: Owner,
    /// The ledger key of the action.
    pub key: LedgerKey,
    /// The finding.
    pub finding: FindingContext,
    /// The action with the policies that chose it.
    pub action: PlannedAction,
}

/// What came of one action: the guards it went through and the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    /// When (RFC 3339).
    pub time: String,
    /// The run's mode.
    pub mode: Mode,
    /// The finding's id.
    pub finding_id: Arc<str>,
    /// The finding's type.
    pub finding_type: FindingType,
    /// The account the finding is about (empty when the finding names none).
    pub account_id: Text,
    /// The finding's region.
    pub region: Text,
    /// The action's kind.
    pub kind: ActionKind,
    /// What it acts on.
    pub target: String,
    /// The action's parameters.
    pub params: Value,
    /// The first policy that chose it (`remedy` for the remediator's own notifications).
    pub policy: String,
    /// That policy's version.
    pub policy_version: String,
    /// Every policy that chose it.
    pub sources: Vec<Source>,
    /// The guards, in the order they were checked.
    pub guards: Vec<GuardResult>,
    /// The outcome.
    pub outcome: Outcome,
    /// The intent record written before the action executed, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The intent of an interrupted run this record finishes (`remedy ledger reconcile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes: Option<String>,
    /// How long the action took, in milliseconds.
    pub duration_ms: u64,
}

/// A policy that failed on a finding: which, where in which file, and why. Its other decisions,
/// and every other policy's, stand.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyFailureRecord {
    /// When (RFC 3339).
    pub time: String,
    /// The run's mode.
    pub mode: Mode,
    /// The finding's id.
    pub finding_id: Arc<str>,
    /// The finding's type.
    pub finding_type: FindingType,
    /// The account the finding is about.
    pub account_id: Text,
    /// The finding's region.
    pub region: Text,
    /// The failure, its fields inlined.
    #[serde(flatten)]
    pub failure: PolicyFailure,
}

/// What happened to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalEvent {
    /// An action was held and a person asked.
    Requested,
    /// A person (or the timeout) approved it.
    Approved,
    /// A person (or the timeout) denied it.
    Denied,
    /// Someone tried to decide it and was refused before deciding (not an approver): the
    /// request is unchanged; `by` says who, `note` why.
    Refused,
}

/// An approval request asked or decided: the action's final outcome follows in its own action
/// record.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRecord {
    /// When (RFC 3339).
    pub time: String,
    /// What happened.
    pub event: ApprovalEvent,
    /// The request.
    pub approval_id: crate::id::ApprovalId,
    /// The finding's id.
    pub finding_id: Arc<str>,
    /// The account the finding is about.
    pub account_id: Text,
    /// The action's kind.
    pub kind: ActionKind,
    /// What it acts on.
    pub target: String,
    /// The first policy that chose it.
    pub policy: String,
    /// The channel asked.
    pub channel: String,
    /// When the request expires (RFC 3339).
    pub expires: String,
    /// What happens then (`deny` or `approve`).
    pub on_timeout: String,
    /// Who decided (`timeout` when the request expired); absent for a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The decider's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditRecord {
    /// See [`DecisionRecord`].
    Decision(DecisionRecord),
    /// See [`IntentRecord`].
    Intent(Box<IntentRecord>),
    /// See [`ActionRecord`].
    Action(ActionRecord),
    /// See [`PolicyFailureRecord`].
    PolicyFailure(PolicyFailureRecord),
    /// See [`ApprovalRecord`].
    Approval(Box<ApprovalRecord>),
}

/// An audit sink that could not record.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit sink `{sink}`: {message}")]
#[non_exhaustive]
pub struct AuditError {
    /// The sink (e.g. its file).
    pub sink: String,
    /// What went wrong.
    pub message: String,
}

impl AuditError {
    /// An error of `sink`.
    pub fn new(sink: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            sink: sink.into(),
            message: message.into(),
        }
    }
}

/// Where audit records go.
#[async_trait]
pub trait AuditSink: Send + Sync + std::fmt::Debug + 'static {
    /// Records `record` durably before returning; an error means it may not be recorded.
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError>;
}

#[async_trait]
impl<S: AuditSink + ?Sized> AuditSink for Box<S> {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        (**self).record(record).await
    }
}

#[async_trait]
impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        (**self).record(record).await
    }
}

/// Keeps records in memory (tests, embedding). Clones share the records.
#[derive(Debug, Clone, Default)]
pub struct MemoryAudit {
    records: Arc<Mutex<Vec<AuditRecord>>>,
}

impl MemoryAudit {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The action records so far.
    pub fn actions(&self) -> Vec<ActionRecord> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::Action(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    /// The intent records so far.
    pub fn intents(&self) -> Vec<IntentRecord> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::Intent(i) => Some(*i),
                _ => None,
            })
            .collect()
    }
}

#[async_trait]
impl AuditSink for MemoryAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.clone());
        Ok(())
    }
}

/// Writes records to `tracing` (target `remedy::audit`, level INFO) as JSON: the default sink of
/// dry runs and of embedders that keep their own trail.
#[derive(Debug, Clone, Default)]
pub struct TracingAudit;

#[async_trait]
impl AuditSink for TracingAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        // Nothing listens (the usual dry run): the record would be built for no one.
        if !tracing::enabled!(target: "remedy::audit", tracing::Level::INFO) {
            return Ok(());
        }
        let json =
            serde_json::to_string(record).map_err(|e| AuditError::new("tracing", e.to_string()))?;
        tracing::info!(target: "remedy::audit", "{}", crate::finding::inert_json(&json));
        Ok(())
    }
}

/// A sink that cannot record: every record fails with the reason. Stands in for an audit file that
/// could not be opened, so that destructive actions fail closed while notifications still go out
/// and say so.
#[derive(Debug, Clone)]
pub struct UnavailableAudit {
    error: AuditError,
}

impl UnavailableAudit {
    /// A sink failing with `error`.
    pub fn new(error: AuditError) -> Self {
        Self { error }
    }
}

#[async_trait]
impl AuditSink for UnavailableAudit {
    async fn record(&self, _record: &AuditRecord) -> Result<(), AuditError> {
        Err(self.error.clone())
    }
}
