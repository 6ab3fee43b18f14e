//! The audit trail: one record per decision and per action outcome.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::guard::GuardResult;
use crate::action::Outcome;
use crate::finding::{FindingType, Text};
use crate::plan::{ActionKind, Plan, Source};

/// Whether a run executes or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing is executed; outcomes say what would be done.
    DryRun,
    /// Actions of enforced policies are executed.
    Enforce,
}

/// What the policies decided for a finding, recorded before anything runs: the whole plan, with
/// the time and the run's mode.
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
    /// How long the action took, in milliseconds.
    pub duration_ms: u64,
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditRecord {
    /// See [`DecisionRecord`].
    Decision(DecisionRecord),
    /// See [`ActionRecord`].
    Action(ActionRecord),
}

/// An audit sink that could not record.
#[derive(Debug, thiserror::Error)]
#[error("audit sink `{sink}`: {message}")]
#[non_exhaustive]
pub struct AuditError {
    /// The sink (e.g. its file).
    pub sink: String,
    /// What went wrong.
    pub message: String,
}

/// Where audit records go.
#[async_trait]
pub trait AuditSink: Send + Sync + std::fmt::Debug + 'static {
    /// Records `record` durably before returning.
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError>;
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
                AuditRecord::Decision(_) => None,
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

/// Writes records to `tracing` (target `remedy::audit`, level INFO) as JSON: the default sink.
#[derive(Debug, Clone, Default)]
pub struct TracingAudit;

#[async_trait]
impl AuditSink for TracingAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let json = serde_json::to_string(record).map_err(|e| AuditError {
            sink: "tracing".into(),
            message: e.to_string(),
        })?;
        tracing::info!(target: "remedy::audit", "{json}");
        Ok(())
    }
}

/// Appends records to a JSON Lines file, one object per line; every record is flushed and synced
/// to disk (`fsync`) before `record` returns.
#[derive(Debug, Clone)]
pub struct JsonLinesAudit {
    path: Arc<PathBuf>,
    file: Arc<Mutex<std::fs::File>>,
}

impl JsonLinesAudit {
    /// Opens `path` for appending, creating it (and its directory) when needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let err = |e: std::io::Error| AuditError {
            sink: path.display().to_string(),
            message: format!("cannot open: {e}"),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        Ok(Self {
            path: Arc::new(path),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl AuditSink for JsonLinesAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let sink = self.path.display().to_string();
        let mut line = serde_json::to_vec(record).map_err(|e| AuditError {
            sink: sink.clone(),
            message: format!("cannot encode: {e}"),
        })?;
        line.push(b'\n');
        let file = Arc::clone(&self.file);
        let result = tokio::task::spawn_blocking(move || {
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            file.write_all(&line)
                .and_then(|()| file.flush())
                .and_then(|()| file.sync_all())
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError {
                sink,
                message: format!("cannot write: {e}"),
            }),
            Err(e) => Err(AuditError {
                sink,
                message: format!("write task failed: {e}"),
            }),
        }
    }
}
