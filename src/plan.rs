//! The plan: what the policies decided for one finding, as plain data.
//!
//! Evaluating policies produces a [`Plan`]; dry run, tests, replay and the remediator all consume
//! the same value, so they cannot diverge.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::id::{AccessKeyId, InstanceId, InvalidId, UserName};

/// The kind of an action: one of the built-ins or a kind a host registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActionKind(Cow<'static, str>);

impl ActionKind {
    /// `notify`: tell people through a channel.
    pub const NOTIFY: ActionKind = ActionKind(Cow::Borrowed("notify"));
    /// `disable_access_key`: set one IAM access key to inactive.
    pub const DISABLE_ACCESS_KEY: ActionKind = ActionKind(Cow::Borrowed("disable_access_key"));
    /// `run_command`: run an SSM Run Command document on instances.
    pub const RUN_COMMAND: ActionKind = ActionKind(Cow::Borrowed("run_command"));

    /// A kind name: a lower-case identifier (`[a-z][a-z0-9_]*`, at most 64 characters).
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidId> {
        let name = name.into();
        let ok = (1..=64).contains(&name.len())
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(Cow::Owned(name)))
        } else {
            Err(InvalidId {
                what: "action kind",
                value: name,
                expected: "a lower-case identifier such as `isolate_instance`",
            })
        }
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the built-in kinds.
    pub fn is_builtin(&self) -> bool {
        matches!(
            self.as_str(),
            "notify" | "disable_access_key" | "run_command"
        )
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ActionKind {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ActionKind> for String {
    fn from(kind: ActionKind) -> String {
        kind.0.into_owned()
    }
}

/// Tell people about a finding through a named channel (mapped to e.g. an SNS topic by configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notify {
    /// The channel name, e.g. `security`.
    pub channel: String,
    /// What the policy wants to say; executors add the finding's context.
    pub message: String,
}

/// Set one IAM access key of one user to inactive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DisableAccessKey {
    /// The user the key must belong to.
    pub user_name: UserName,
    /// The key to disable.
    pub access_key_id: AccessKeyId,
}

/// Run an SSM Run Command document on instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunCommand {
    /// The SSM document name, e.g. `AWS-RunShellScript`.
    pub document: String,
    /// The target instances (at least one).
    pub instance_ids: Vec<InstanceId>,
    /// Document parameters: name to list of values, as SSM takes them.
    pub parameters: BTreeMap<String, Vec<String>>,
}

/// An action of a kind registered by the host.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomAction {
    /// The registered kind.
    pub kind: ActionKind,
    /// The parameters the script gave, as JSON.
    pub params: Map<String, Value>,
    /// What the action acts on (used for idempotency and guards), e.g. an instance id.
    pub target: String,
    /// Whether the action changes something (destructive actions are guarded and made idempotent).
    pub destructive: bool,
}

/// One typed action a policy can choose.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// See [`Notify`].
    Notify(Notify),
    /// See [`DisableAccessKey`].
    DisableAccessKey(DisableAccessKey),
    /// See [`RunCommand`].
    RunCommand(RunCommand),
    /// See [`CustomAction`].
    Custom(CustomAction),
}

impl Action {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Notify(_) => ActionKind::NOTIFY,
            Action::DisableAccessKey(_) => ActionKind::DISABLE_ACCESS_KEY,
            Action::RunCommand(_) => ActionKind::RUN_COMMAND,
            Action::Custom(c) => c.kind.clone(),
        }
    }

    /// The action's parameters as a JSON object (the `params` of the plan's JSON form).
    pub fn params(&self) -> Value {
        match self {
            Action::Notify(n) => json!({ "channel": n.channel, "message": n.message }),
            Action::DisableAccessKey(d) => {
                json!({ "user_name": d.user_name, "access_key_id": d.access_key_id })
            }
            Action::RunCommand(r) => json!({
                "document": r.document,
                "instance_ids": r.instance_ids,
                "parameters": r.parameters,
            }),
            Action::Custom(c) => Value::Object(c.params.clone()),
        }
    }

    /// What the action acts on, stable across runs: the key for idempotency and rate limits.
    pub fn target(&self) -> String {
        match self {
            Action::Notify(n) => format!("channel:{}", n.channel),
            Action::DisableAccessKey(d) => {
                format!("access_key:{}/{}", d.user_name, d.access_key_id)
            }
            Action::RunCommand(r) => {
                let ids: Vec<&str> = r.instance_ids.iter().map(InstanceId::as_str).collect();
                format!("instances:{}:{}", r.document, ids.join(","))
            }
            Action::Custom(c) => format!("{}:{}", c.kind, c.target),
        }
    }

    /// Whether the action changes something in the account (everything but `notify`, unless a
    /// custom kind says otherwise).
    pub fn is_destructive(&self) -> bool {
        match self {
            Action::Notify(_) => false,
            Action::DisableAccessKey(_) | Action::RunCommand(_) => true,
            Action::Custom(c) => c.destructive,
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Action", 2)?;
        s.serialize_field("kind", &self.kind())?;
        s.serialize_field("params", &self.params())?;
        s.end()
    }
}

/// Which policy chose an action, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The policy's name (shared with the policy set: building a plan copies no names).
    #[serde(with = "arc_str")]
    pub policy: Arc<str>,
    /// The policy's version (content hash).
    #[serde(with = "arc_str")]
    pub version: Arc<str>,
    /// The reason the policy gave, if any.
    pub reason: Option<String>,
    /// The script line that chose the action, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// An action in a plan with every policy that chose it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAction {
    /// The action.
    pub action: Action,
    /// The policies that chose it (at least one), in evaluation order.
    pub sources: Vec<Source>,
}

impl PlannedAction {
    /// The first policy that chose the action.
    pub fn policy(&self) -> Option<&str> {
        self.sources.first().map(|s| &*s.policy)
    }

    /// The first reason given for the action.
    pub fn reason(&self) -> Option<&str> {
        self.sources.iter().find_map(|s| s.reason.as_deref())
    }
}

impl Serialize for PlannedAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PlannedAction", 5)?;
        s.serialize_field("kind", &self.action.kind())?;
        s.serialize_field("params", &self.action.params())?;
        s.serialize_field("policy", &self.policy())?;
        s.serialize_field("reason", &self.reason())?;
        s.serialize_field("sources", &self.sources)?;
        s.end()
    }
}

/// Why a policy failed while deciding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The script raised an error (a `throw`, a type error, an unknown function, ...).
    #[default]
    Runtime,
    /// An action constructor rejected its arguments.
    InvalidAction,
    /// `decide` returned something that is not an action, an array of actions or `()`.
    InvalidResult,
    /// The policy ran past its wall-clock deadline.
    Timeout,
    /// The policy hit a sandbox limit (operations, call depth, string/array/map size, ...).
    Limit,
    /// The script tried something the sandbox forbids (`sleep`, an import outside the directory, ...).
    Forbidden,
    /// A host-registered action kind panicked while checking its arguments.
    HostPanic,
}

/// A policy that failed while deciding on a finding; the other policies' decisions stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFailure {
    /// The policy's name.
    pub policy: String,
    /// Why it failed.
    #[serde(default)]
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
    /// The script line, when known.
    pub line: Option<usize>,
    /// The script column, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// What the policies decided for one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The finding's id.
    pub finding_id: String,
    /// The finding's type, e.g. `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom`.
    pub finding_type: String,
    /// The finding's severity.
    pub severity: f64,
    /// Whether the finding is a sample (generated) finding.
    pub sample: bool,
    /// The version (content hash) of the policy set that decided.
    #[serde(serialize_with = "arc_str::serialize")]
    pub policy_set_version: Arc<str>,
    /// The policies whose selectors matched and that ran, in order.
    #[serde(serialize_with = "arc_str::serialize_all")]
    pub evaluated: Vec<Arc<str>>,
    /// The chosen actions, each once, with every policy that chose it.
    pub actions: Vec<PlannedAction>,
    /// Policies that failed; their decisions are absent, everything else stands.
    pub errors: Vec<PolicyFailure>,
}

impl Plan {
    /// Adds an action chosen by `source`, merging it with an identical action already planned.
    pub fn push(&mut self, action: Action, source: Source) {
        if let Some(existing) = self.actions.iter_mut().find(|p| p.action == action) {
            existing.sources.push(source);
        } else {
            self.actions.push(PlannedAction {
                action,
                sources: vec![source],
            });
        }
    }

    /// Whether no policy chose any action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Serde for `Arc<str>` as a plain string (without serde's `rc` feature).
mod arc_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Arc<str>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }

    pub(super) fn serialize_all<S: Serializer>(
        values: &[Arc<str>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|v| &**v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<str>, D::Error> {
        String::deserialize(deserializer).map(Arc::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(message: &str) -> Action {
        Action::Notify(Notify {
            channel: "security".into(),
            message: message.into(),
        })
    }

    fn source(policy: &str) -> Source {
        Source {
            policy: policy.into(),
            version: "v".into(),
            reason: Some(format!("because {policy}")),
            line: None,
        }
    }

    #[test]
    fn identical_actions_merge_their_sources() {
        let mut plan = Plan {
            finding_id: "f".into(),
            finding_type: "Recon:IAMUser/UserPermissions".into(),
            severity: 5.0,
            sample: false,
            policy_set_version: "".into(),
            evaluated: vec![],
            actions: vec![],
            errors: vec![],
        };
        plan.push(notify("a"), source("p1"));
        plan.push(notify("a"), source("p2"));
        plan.push(notify("b"), source("p3"));
        assert_eq!(plan.actions.len(), 2);
        assert_eq!(plan.actions[0].sources.len(), 2);
        let json = serde_json::to_value(&plan.actions[0]).unwrap();
        assert_eq!(json["kind"], "notify");
        assert_eq!(json["params"]["message"], "a");
        assert_eq!(json["policy"], "p1");
        assert_eq!(json["reason"], "because p1");
    }

    #[test]
    fn action_kinds_are_identifiers() {
        assert!(ActionKind::new("isolate_instance").is_ok());
        assert!(ActionKind::new("Isolate").is_err());
        assert!(ActionKind::new("").is_err());
        assert!(ActionKind::NOTIFY.is_builtin());
    }

    #[test]
    fn targets_name_what_is_acted_on() {
        let a = Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new("alice").unwrap(),
            access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
        });
        assert_eq!(a.target(), "access_key:alice/AKIAIOSFODNN7EXAMPLE");
        assert!(a.is_destructive());
        assert!(!notify("x").is_destructive());
    }
}
