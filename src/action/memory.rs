//! In-memory executors: first-class twins of the AWS ones, for tests, examples and dry runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde::Serialize;

use super::{
    ActionRequest, ErrorKind, Executor, MAX_INSTANCES_PER_CALL, Notification, Outcome,
    Verification, ssm_comment,
};
use crate::plan::{DisableAccessKey, RunCommand};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// User name to the user's keys, each with whether it is active.
type Users = BTreeMap<String, Vec<(String, bool)>>;

/// An in-memory IAM: users and their access keys; carries out `disable_access_key` exactly as the
/// AWS executor does (ownership check, already inactive).
///
/// Clones share the same store.
#[derive(Debug, Clone, Default)]
pub struct MemoryIam {
    users: Arc<Mutex<Users>>,
}

impl MemoryIam {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user with no keys (no-op when it exists).
    pub fn add_user(&self, user_name: &str) -> &Self {
        lock(&self.users).entry(user_name.to_owned()).or_default();
        self
    }

    /// Adds an active access key to a user, creating the user when needed.
    pub fn add_key(&self, user_name: &str, access_key_id: &str) -> &Self {
        lock(&self.users)
            .entry(user_name.to_owned())
            .or_default()
            .push((access_key_id.to_owned(), true));
        self
    }

    /// Whether the user's key is active; `None` when the user has no such key.
    pub fn is_active(&self, user_name: &str, access_key_id: &str) -> Option<bool> {
        lock(&self.users)
            .get(user_name)?
            .iter()
            .find(|(k, _)| k == access_key_id)
            .map(|(_, active)| *active)
    }

    /// Sets a key active or inactive (someone changed it outside remedy); whether the user has it.
    pub fn set_active(&self, user_name: &str, access_key_id: &str, active: bool) -> bool {
        let mut users = lock(&self.users);
        match users
            .get_mut(user_name)
            .and_then(|keys| keys.iter_mut().find(|(k, _)| k == access_key_id))
        {
            Some((_, state)) => {
                *state = active;
                true
            }
            None => false,
        }
    }

    /// The user's keys with whether each is active.
    pub fn keys(&self, user_name: &str) -> Vec<(String, bool)> {
        lock(&self.users)
            .get(user_name)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl Executor for MemoryIam {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let d = match request.payload::<DisableAccessKey>("the in-memory IAM") {
            Ok(d) => d,
            Err(unsupported) => return unsupported,
        };
        let (user, key) = (d.user_name.as_str(), d.access_key_id.as_str());
        let mut users = lock(&self.users);
        let Some(keys) = users.get_mut(user) else {
            return Outcome::failed(ErrorKind::NotFound, format!("user `{user}` does not exist"));
        };
        let Some((_, active)) = keys.iter_mut().find(|(k, _)| k == key) else {
            return Outcome::failed(
                ErrorKind::NotFound,
                format!("access key `{key}` does not belong to user `{user}`; nothing changed"),
            );
        };
        if !*active {
            return Outcome::already_done(format!(
                "access key `{key}` of user `{user}` is already inactive"
            ));
        }
        *active = false;
        Outcome::executed(format!(
            "access key `{key}` of user `{user}` set to inactive; the user's other keys untouched"
        ))
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let Ok(d) = request.payload::<DisableAccessKey>("the in-memory IAM") else {
            return Verification::Unknown;
        };
        match self.is_active(d.user_name.as_str(), d.access_key_id.as_str()) {
            Some(false) => Verification::Done(format!(
                "access key `{}` of user `{}` is already inactive",
                d.access_key_id, d.user_name
            )),
            Some(true) => Verification::NotDone,
            None => Verification::Unknown,
        }
    }
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
}

#[async_trait]
impl Executor for MemoryNotifier {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let n = match Notification::render(request, "the in-memory notifier") {
            Ok(n) => n,
            Err(unsupported) => return unsupported,
        };
        let channel = n.channel.clone();
        lock(&self.sent).push(n);
        Outcome::executed(format!("notified channel `{channel}`"))
    }
}
