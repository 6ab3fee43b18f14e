//! The in-memory twin of the runbook executor: SSM Automation and Step Functions runs, started
//! once per idempotency token, and instances isolated and released.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::lock;
use crate::action::{ActionRequest, Executor, Outcome, Verification};
use crate::plan::{Action, ISOLATION_DOCUMENT, Reversal};

/// A run the in-memory runbook service started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartedRun {
    /// Its id (an Automation execution id, a Step Functions execution name).
    pub id: String,
    /// The Automation document or the state machine.
    pub target: String,
    /// The parameters (Automation) or the input (Step Functions), as JSON.
    pub input: Value,
    /// The idempotency token it was started with.
    pub token: String,
}

#[derive(Debug, Default)]
struct State {
    runs: Vec<StartedRun>,
    isolated: BTreeSet<String>,
}

/// An in-memory SSM Automation and Step Functions: records each run it starts, once per
/// idempotency token (a second start with the token finds the first run, as AWS does), and
/// keeps which instances `isolate_instance` isolated and its undo released. It starts whatever
/// it is given: the allowlist is the policies' and the AWS executor's. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct MemoryRunbooks {
    state: Arc<Mutex<State>>,
}

impl MemoryRunbooks {
    /// A service with no runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every run started so far.
    pub fn runs(&self) -> Vec<StartedRun> {
        lock(&self.state).runs.clone()
    }

    /// Whether `instance` is isolated now.
    pub fn is_isolated(&self, instance: &str) -> bool {
        lock(&self.state).isolated.contains(instance)
    }

    /// Starts `target` once per `token`: the run, and whether it is new.
    fn start(&self, target: &str, input: Value, token: String) -> (String, bool) {
        let mut state = lock(&self.state);
        if let Some(run) = state.runs.iter().find(|r| r.token == token) {
            return (run.id.clone(), false);
        }
        let id = format!("memory-run-{}", state.runs.len() + 1);
        state.runs.push(StartedRun {
            id: id.clone(),
            target: target.to_owned(),
            input,
            token,
        });
        (id, true)
    }
}

fn said(target: &str, id: &str, new: bool) -> String {
    let how = if new { "started" } else { "already started" };
    format!("{how} `{target}`: run {id}")
}

#[async_trait]
impl Executor for MemoryRunbooks {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let token = request.idempotency_token();
        match request.action {
            Action::StartAutomation(a) => {
                let input = serde_json::to_value(&a.parameters).unwrap_or_default();
                let (id, new) = self.start(&a.document, input, token);
                Outcome::executed(said(&a.document, &id, new))
            }
            Action::StartExecution(e) => {
                let input = serde_json::json!({
                    "finding": request.finding,
                    "params": Value::Object(e.input.clone()),
                });
                let (id, new) = self.start(&e.state_machine, input, token);
                Outcome::executed(said(&e.state_machine, &id, new))
            }
            Action::IsolateInstance(i) => {
                let input =
                    serde_json::json!({"InstanceId": [i.instance_id], "Action": ["Contain"]});
                let (id, new) = self.start(ISOLATION_DOCUMENT, input, token);
                lock(&self.state)
                    .isolated
                    .insert(i.instance_id.as_str().to_owned());
                Outcome::reversible(
                    said(ISOLATION_DOCUMENT, &id, new),
                    Reversal::ReleaseInstance {
                        instance_id: i.instance_id.clone(),
                    },
                )
            }
            Action::Undo(u) => match &u.reversal {
                Reversal::ReleaseInstance { instance_id } => {
                    let input =
                        serde_json::json!({"InstanceId": [instance_id], "Action": ["Release"]});
                    let (id, new) = self.start(ISOLATION_DOCUMENT, input, token);
                    lock(&self.state).isolated.remove(instance_id.as_str());
                    Outcome::executed(said(ISOLATION_DOCUMENT, &id, new))
                }
                _ => request.unsupported("the in-memory runbooks"),
            },
            _ => request.unsupported("the in-memory runbooks"),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let token = request.idempotency_token();
        match lock(&self.state).runs.iter().find(|r| r.token == token) {
            Some(run) => Verification::Done(format!("run {} was started", run.id)),
            None => Verification::NotDone,
        }
    }
}
