//! In-memory executors: first-class twins of the AWS ones, for tests, examples and dry runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::Serialize;

use super::{
    ActionRequest, ErrorKind, Executor, MAX_INSTANCES_PER_CALL, Notification, Outcome,
    Verification, ssm_comment,
};
use crate::plan::RunCommand;

mod iam;
mod runbooks;
mod writeback;

pub use iam::MemoryIam;
pub use runbooks::{MemoryRunbooks, StartedRun};
pub use writeback::{MemoryWriteback, Suppression};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A command the in-memory SSM received: one `SendCommand` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentCommand {
    /// The command id it was given.
    pub command_id: String,
    /// The document.
    pub document: String,
    /// The instances of this call (at most 50).
    pub instance_ids: Vec<String>,
    /// The parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// The comment (carries the finding id).
    pub comment: String,
}

/// An in-memory SSM that records the commands it is sent, split into calls of at most 50
/// instances as the AWS executor does. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct MemorySsm {
    sent: Arc<Mutex<Vec<SentCommand>>>,
}

impl MemorySsm {
    /// An SSM with no commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every `SendCommand` call so far.
    pub fn commands(&self) -> Vec<SentCommand> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Executor for MemorySsm {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let r = match request.payload::<RunCommand>("the in-memory SSM") {
            Ok(r) => r,
            Err(unsupported) => return unsupported,
        };
        if r.instance_ids.is_empty() {
            return Outcome::failed(ErrorKind::InvalidInput, "run_command names no instance");
        }
        let mut sent = lock(&self.sent);
        let mut ids = Vec::new();
        for batch in r.instance_ids.chunks(MAX_INSTANCES_PER_CALL) {
            let command_id = format!("memory-command-{}", sent.len() + 1);
            ids.push(command_id.clone());
            sent.push(SentCommand {
                command_id,
                document: r.document.clone(),
                instance_ids: batch.iter().map(|i| i.as_str().to_owned()).collect(),
                parameters: r.parameters.clone(),
                comment: ssm_comment(request.finding_id()),
            });
        }
        Outcome::executed(format!(
            "sent `{}` to {} instance(s): command {}",
            r.document,
            r.instance_ids.len(),
            ids.join(", ")
        ))
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let Ok(r) = request.payload::<RunCommand>("the in-memory SSM") else {
            return Verification::Unknown;
        };
        let comment = ssm_comment(request.finding_id());
        let sent = lock(&self.sent);
        let found = sent.iter().find(|c| {
            c.comment == comment
                && c.document == r.document
                && r.instance_ids
                    .iter()
                    .any(|i| c.instance_ids.iter().any(|s| s == i.as_str()))
        });
        match found {
            Some(c) => Verification::Done(format!(
                "command {} with `{}` was already sent for this finding",
                c.command_id, c.document
            )),
            None => Verification::NotDone,
        }
    }
}

/// An in-memory notifier that records the notifications it is sent. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct MemoryNotifier {
    sent: Arc<Mutex<Vec<Notification>>>,
    /// For each message, the index of its thread's first message (itself for a parent), by
    /// channel and finding: the twin of the chat channels' threading.
    threads: Arc<Mutex<Vec<(String, String, usize)>>>,
}

impl MemoryNotifier {
    /// A notifier with no messages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every notification so far.
    pub fn messages(&self) -> Vec<Notification> {
        lock(&self.sent).clone()
    }

    /// The message that started the thread of message `index` (the first message about the same
    /// finding on the same channel), when `index` is a reply; `None` for a parent or an index out
    /// of range.
    pub fn parent_of(&self, index: usize) -> Option<usize> {
        lock(&self.threads)
            .get(index)
            .map(|(_, _, parent)| *parent)
            .filter(|parent| *parent != index)
    }
}

#[async_trait]
impl Executor for MemoryNotifier {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let n = match Notification::render(request, "the in-memory notifier") {
            Ok(n) => n,
            Err(unsupported) => return unsupported,
        };
        let channel = n.channel.clone();
        let mut sent = lock(&self.sent);
        let mut threads = lock(&self.threads);
        let index = sent.len();
        // The first message of this finding on this channel.
        let finding = request.finding.id.to_string();
        let parent = threads
            .iter()
            .position(|(c, f, _)| *c == channel && *f == finding)
            .unwrap_or(index);
        sent.push(n);
        threads.push((channel.clone(), finding, parent));
        if parent == index {
            Outcome::executed(format!("notified channel `{channel}`"))
        } else {
            Outcome::executed(format!(
                "notified channel `{channel}` (a reply in the thread of message {parent})"
            ))
        }
    }
}
