//! The in-memory twin of the write-back executor: findings' workflow statuses and notes, archived
//! findings and suppression filters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use super::lock;
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::plan::{Action, Condition, Reversal, WorkflowStatus};

/// A suppression filter the in-memory GuardDuty holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The filter's name.
    pub name: String,
    /// What it matches.
    pub conditions: Vec<Condition>,
    /// How many days it lasts.
    pub days: u32,
}

#[derive(Debug, Default)]
struct State {
    workflow: BTreeMap<String, (WorkflowStatus, String)>,
    archived: BTreeSet<String>,
    filters: BTreeMap<String, Suppression>,
}

/// An in-memory Security Hub workflow and GuardDuty archive and filters, keyed by finding id.
/// Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct MemoryWriteback {
    state: Arc<Mutex<State>>,
}

impl MemoryWriteback {
    /// Nothing written yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workflow status and note of finding `id`, once remedy wrote one.
    pub fn workflow(&self, id: &str) -> Option<(WorkflowStatus, String)> {
        lock(&self.state).workflow.get(id).cloned()
    }

    /// Whether finding `id` is archived.
    pub fn is_archived(&self, id: &str) -> bool {
        lock(&self.state).archived.contains(id)
    }

    /// The suppression filters now in place.
    pub fn filters(&self) -> Vec<Suppression> {
        lock(&self.state).filters.values().cloned().collect()
    }
}

#[async_trait]
impl Executor for MemoryWriteback {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let id = request.finding.id.to_string();
        let mut state = lock(&self.state);
        match request.action {
            Action::UpdateFinding(u) => {
                let previous = state
                    .workflow
                    .insert(id, (u.status, u.note.clone()))
                    .map_or(WorkflowStatus::New, |(s, _)| s);
                Outcome::reversible(
                    format!("workflow status set to {} (was {previous})", u.status),
                    Reversal::SetWorkflowStatus { status: previous },
                )
            }
            Action::ArchiveFinding(_) => {
                if state.archived.insert(id) {
                    Outcome::executed("archived the finding")
                } else {
                    Outcome::already_done("the finding was archived already")
                }
            }
            Action::SuppressSimilar(s) => {
                let conditions = match s.conditions(request.finding) {
                    Ok(c) => c,
                    Err(why) => return Outcome::failed(ErrorKind::InvalidInput, why),
                };
                let name = s.filter_name(request.finding);
                state.filters.insert(
                    name.clone(),
                    Suppression {
                        name: name.clone(),
                        conditions,
                        days: s.days,
                    },
                );
                Outcome::reversible(
                    format!("created filter `{name}` for {} days", s.days),
                    Reversal::DeleteFilter {
                        region: request.finding.region.to_string(),
                        filter_name: name,
                    },
                )
            }
            Action::Undo(u) => match &u.reversal {
                Reversal::SetWorkflowStatus { status } => {
                    state
                        .workflow
                        .insert(id, (*status, "restored by remedy undo".into()));
                    Outcome::executed(format!("workflow status set back to {status}"))
                }
                Reversal::DeleteFilter { filter_name, .. } => {
                    match state.filters.remove(filter_name) {
                        Some(_) => Outcome::executed(format!("deleted filter `{filter_name}`")),
                        None => Outcome::already_done(format!("no filter `{filter_name}`")),
                    }
                }
                _ => request.unsupported("the in-memory write-back"),
            },
            _ => request.unsupported("the in-memory write-back"),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let id = request.finding.id.as_ref();
        let state = lock(&self.state);
        let done = match request.action {
            Action::UpdateFinding(u) => state.workflow.get(id).is_some_and(|(s, _)| *s == u.status),
            Action::ArchiveFinding(_) => state.archived.contains(id),
            Action::SuppressSimilar(s) => {
                state.filters.contains_key(&s.filter_name(request.finding))
            }
            _ => false,
        };
        if done {
            Verification::Done("written already".into())
        } else {
            Verification::NotDone
        }
    }
}
