//! The plan: what the policies decided for one finding, as plain, self-contained data.
//!
//! Evaluating policies produces a [`Plan`]: the finding's context ([`FindingContext`]), the typed
//! actions with every policy that chose them, and the policies that failed. The remediator needs
//! nothing else to carry it out, so a plan can cross any boundary (a queue, an approval that waits
//! hours, the audit trail replayed next month) as JSON and run the same:
//!
//! ```
//! use remedy::Plan;
//!
//! let json = r#"{"schema": 1, "finding_id": "f-1",
//!   "finding_type": "Recon:IAMUser/UserPermissions", "severity": 5.0, "sample": false,
//!   "policy_set_version": "v1", "evaluated": ["recon-notify"],
//!   "actions": [{"kind": "notify", "params": {"channel": "security", "message": "recon"},
//!                "sources": [{"policy": "recon-notify", "version": "v1", "reason": null}]}],
//!   "errors": []}"#;
//! let plan = Plan::from_json_str(json)?;
//! assert_eq!(&*plan.finding.id, "f-1");
//! assert_eq!(Plan::from_json_str(&serde_json::to_string(&plan)?)?, plan);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

mod action;
mod context;
pub mod kinds;

pub use action::{
    Action, ActionKind, ActionPayload, CustomAction, DEFAULT_QUARANTINE_POLICY, DisableAccessKey,
    DisableConsoleLogin, ISOLATION_DOCUMENT, IamPrincipal, InvalidAction, IsolateInstance, Notify,
    PrincipalKind, QUARANTINE_INLINE_POLICY, QuarantinePrincipal, REVOKE_POLICY_PREFIX, Reversal,
    RevokeRoleSessions, RunCommand, StartAutomation, StartExecution, Undo, is_idempotent,
};
pub use action::{
    ArchiveFinding, Condition, MAX_SUPPRESSION_DAYS, SUPPRESSION_PREFIX, SuppressBy,
    SuppressSimilar, UpdateFinding, WorkflowStatus, is_writeback,
};
pub use context::{FindingContext, Principal};

/// The version of the plan's JSON form; a plan of a newer schema is refused.
pub const PLAN_SCHEMA: u32 = 1;

/// Which policy chose an action, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The policy's name (shared with the policy set: building a plan copies no names).
    pub policy: Arc<str>,
    /// The policy's version (content hash).
    pub version: Arc<str>,
    /// The reason the policy gave, if any.
    #[serde(default)]
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
    /// Whether a policy asked for the action again each time GuardDuty updates the finding
    /// (`.repeat_on_update()`); only matters for actions that are not idempotent (an SSM command),
    /// which otherwise run once per finding.
    pub repeat_on_update: bool,
    /// Whether a policy asked that a person approve the action before it runs (`.ask_first()`),
    /// whatever `[approval]` says; only matters for destructive actions.
    pub ask_first: bool,
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
        let mut s = serializer.serialize_struct("PlannedAction", 9)?;
        s.serialize_field("kind", &self.action.kind())?;
        s.serialize_field("params", &self.action.params())?;
        s.serialize_field("target", &self.action.target())?;
        s.serialize_field("destructive", &self.action.is_destructive())?;
        s.serialize_field("policy", &self.policy())?;
        s.serialize_field("reason", &self.reason())?;
        s.serialize_field("sources", &self.sources)?;
        if self.repeat_on_update {
            s.serialize_field("repeat_on_update", &true)?;
        } else {
            s.skip_field("repeat_on_update")?;
        }
        if self.ask_first {
            s.serialize_field("ask_first", &true)?;
        } else {
            s.skip_field("ask_first")?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for PlannedAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The JSON form; `policy` and `reason` are derived from `sources` and ignored.
        #[derive(Deserialize)]
        struct Form {
            kind: ActionKind,
            params: Value,
            #[serde(default)]
            target: Option<String>,
            #[serde(default)]
            destructive: Option<bool>,
            sources: Vec<Source>,
            #[serde(default)]
            repeat_on_update: bool,
            #[serde(default)]
            ask_first: bool,
        }
        let form = Form::deserialize(deserializer)?;
        let action = Action::from_parts(
            &form.kind,
            form.params,
            form.target.as_deref(),
            form.destructive,
        )
        .map_err(serde::de::Error::custom)?;
        Ok(Self {
            action,
            sources: form.sources,
            repeat_on_update: form.repeat_on_update,
            ask_first: form.ask_first,
        })
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
    /// A destructive action would touch something the finding does not name.
    OutOfScope,
}

/// A policy that failed while deciding on a finding; the other policies' decisions stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFailure {
    /// The policy's name.
    pub policy: String,
    /// The policy's file (the helper module's, when the error is in one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
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

impl FailureKind {
    /// The name records use: `runtime`, `out_of_scope`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Runtime => "runtime",
            FailureKind::InvalidAction => "invalid_action",
            FailureKind::InvalidResult => "invalid_result",
            FailureKind::Timeout => "timeout",
            FailureKind::Limit => "limit",
            FailureKind::Forbidden => "forbidden",
            FailureKind::HostPanic => "host_panic",
            FailureKind::OutOfScope => "out_of_scope",
        }
    }
}

/// `policy `name` failed at file:line:column (kind): message`. The message may quote finding
/// data: escape it (see [`crate::finding::inert`]) before showing it on a terminal.
impl std::fmt::Display for PolicyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy `{}` failed", self.policy)?;
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(column)) => write!(f, " at {file}:{line}:{column}")?,
            (Some(file), Some(line), None) => write!(f, " at {file}:{line}")?,
            (Some(file), None, _) => write!(f, " in {file}")?,
            (None, Some(line), Some(column)) => write!(f, " at line {line}, column {column}")?,
            (None, Some(line), None) => write!(f, " at line {line}")?,
            (None, None, _) => {}
        }
        write!(f, " ({}): {}", self.kind.as_str(), self.message)
    }
}

/// What the policies decided for one finding, with everything needed to carry it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The version of the JSON form ([`PLAN_SCHEMA`]).
    pub schema: u32,
    /// The finding the plan is for (flattened into the JSON form).
    #[serde(flatten)]
    pub finding: FindingContext,
    /// The version (content hash) of the policy set that decided.
    pub policy_set_version: Arc<str>,
    /// The policies whose selectors matched and that ran, in order.
    pub evaluated: Vec<Arc<str>>,
    /// The chosen actions, each once, with every policy that chose it.
    pub actions: Vec<PlannedAction>,
    /// Policies that failed; their decisions are absent, everything else stands.
    pub errors: Vec<PolicyFailure>,
}

/// A plan that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The text is not a plan.
    #[error("not a plan: {0}")]
    Json(#[from] serde_json::Error),
    /// The plan was written by a newer remedy.
    #[error("plan schema {found} is newer than this remedy reads (up to {PLAN_SCHEMA})")]
    Schema {
        /// The plan's schema.
        found: u32,
    },
}

impl Plan {
    /// An empty plan for `finding`, decided by the policy set of `policy_set_version`.
    pub fn new(finding: FindingContext, policy_set_version: impl Into<Arc<str>>) -> Self {
        Self {
            schema: PLAN_SCHEMA,
            finding,
            policy_set_version: policy_set_version.into(),
            evaluated: Vec::new(),
            actions: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Reads a plan from its JSON form (also a decision record of the audit trail, whose extra
    /// fields are ignored).
    pub fn from_json_str(text: &str) -> Result<Self, PlanError> {
        Self::from_json_value(serde_json::from_str(text)?)
    }

    /// Reads a plan from its JSON form as a value.
    pub fn from_json_value(value: Value) -> Result<Self, PlanError> {
        let plan: Plan = serde_json::from_value(value)?;
        if plan.schema > PLAN_SCHEMA {
            return Err(PlanError::Schema { found: plan.schema });
        }
        Ok(plan)
    }

    /// Adds an action chosen by `source`, merging it with an identical action already planned.
    pub fn push(&mut self, action: Action, source: Source) {
        self.push_repeated(action, source, false);
    }

    /// [`Plan::push`], with whether the policy wants the action on every update of the finding.
    pub fn push_repeated(&mut self, action: Action, source: Source, repeat_on_update: bool) {
        self.push_planned(action, source, repeat_on_update, false);
    }

    /// [`Plan::push_repeated`], with whether the policy wants a person to approve the action
    /// first (`.ask_first()`; one policy asking is enough).
    pub fn push_planned(
        &mut self,
        action: Action,
        source: Source,
        repeat_on_update: bool,
        ask_first: bool,
    ) {
        if let Some(existing) = self.actions.iter_mut().find(|p| p.action == action) {
            existing.sources.push(source);
            existing.repeat_on_update |= repeat_on_update;
            existing.ask_first |= ask_first;
        } else {
            self.actions.push(PlannedAction {
                action,
                sources: vec![source],
                repeat_on_update,
                ask_first,
            });
        }
    }

    /// Whether no policy chose any action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingType, Severity};
    use crate::id::{AccessKeyId, InstanceId, RoleName, UserName};

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

    fn plan() -> Plan {
        let context = FindingContext::new(
            "f",
            FindingType::new("Recon:IAMUser/UserPermissions").unwrap(),
            Severity::new(5.0).unwrap(),
        );
        Plan::new(context, "set")
    }

    #[test]
    fn identical_actions_merge_their_sources() {
        let mut plan = plan();
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
        assert!(ActionKind::new("quarantine_instance").is_ok());
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

    #[test]
    fn every_action_kind_round_trips() {
        let mut plan = plan();
        plan.finding.principal = Some(Principal {
            user_name: Some("alice".into()),
            ..Principal::default()
        });
        plan.finding
            .instance_tags
            .insert("env".into(), "prod".into());
        plan.push(notify("a"), source("p1"));
        plan.push(
            Action::RunCommand(RunCommand {
                document: "AWS-RunShellScript".into(),
                instance_ids: vec![InstanceId::new("i-0123456789abcdef0").unwrap()],
                parameters: [("commands".to_owned(), vec!["uptime".to_owned()])].into(),
            }),
            source("p2"),
        );
        let instance = || InstanceId::new("i-0123456789abcdef0").unwrap();
        for action in [
            Action::StartAutomation(StartAutomation {
                document: "AWSSupport-ContainIAMPrincipal".into(),
                parameters: [("UserName".to_owned(), vec!["alice".to_owned()])].into(),
            }),
            Action::StartExecution(StartExecution {
                state_machine: "respond".into(),
                input: serde_json::json!({"depth": 2, "tags": ["a"]})
                    .as_object()
                    .cloned()
                    .unwrap(),
            }),
            Action::IsolateInstance(IsolateInstance {
                instance_id: instance(),
            }),
        ] {
            assert!(action.is_destructive() && !is_idempotent(&action.kind()));
            plan.push(action, source("p2"));
        }
        let alice = || UserName::new("alice").unwrap();
        let role = || IamPrincipal::Role(RoleName::new("web").unwrap());
        let builtins = [
            Action::DisableAccessKey(DisableAccessKey {
                user_name: alice(),
                access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
            }),
            Action::RevokeRoleSessions(RevokeRoleSessions {
                role_name: RoleName::new("web").unwrap(),
            }),
            Action::QuarantinePrincipal(QuarantinePrincipal { principal: role() }),
            Action::QuarantinePrincipal(QuarantinePrincipal {
                principal: IamPrincipal::User(alice()),
            }),
            Action::DisableConsoleLogin(DisableConsoleLogin { user_name: alice() }),
            Action::Undo(Undo {
                record: "run-1-0".into(),
                reversal: Reversal::DeleteInlinePolicy {
                    principal: role(),
                    policy_name: RevokeRoleSessions::policy_name("f"),
                },
            }),
            Action::Undo(Undo {
                record: "run-1-2".into(),
                reversal: Reversal::ReleaseInstance {
                    instance_id: instance(),
                },
            }),
            Action::Undo(Undo {
                record: "run-1-1".into(),
                reversal: Reversal::EnableAccessKey {
                    user_name: alice(),
                    access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
                },
            }),
        ];
        let mut kinds: Vec<ActionKind> = builtins.iter().map(Action::kind).collect();
        for action in builtins {
            assert!(action.is_destructive(), "{}", action.kind());
            assert!(is_idempotent(&action.kind()), "{}", action.kind());
            plan.push(action, source("p4"));
        }
        for action in [
            Action::UpdateFinding(UpdateFinding {
                status: WorkflowStatus::Resolved,
                note: "key disabled".into(),
            }),
            Action::ArchiveFinding(ArchiveFinding {}),
            Action::SuppressSimilar(SuppressSimilar {
                criteria: vec![SuppressBy::RemoteIp],
                days: 7,
            }),
        ] {
            assert!(action.is_destructive(), "{}", action.kind());
            kinds.push(action.kind());
            plan.push(action, source("p5"));
        }
        plan.push(
            Action::Custom(CustomAction {
                kind: ActionKind::new("quarantine_instance").unwrap(),
                params: serde_json::Map::from_iter([("instance_id".into(), "i-1".into())]),
                target: "i-1".into(),
                destructive: false,
            }),
            source("p3"),
        );
        let json = serde_json::to_string(&plan).unwrap();
        let back = Plan::from_json_str(&json).unwrap();
        assert_eq!(back, plan);
        assert!(!back.actions.last().unwrap().action.is_destructive());
        // Every built-in kind is in the plan.
        kinds.extend([
            ActionKind::NOTIFY,
            ActionKind::RUN_COMMAND,
            ActionKind::START_AUTOMATION,
            ActionKind::START_EXECUTION,
            ActionKind::ISOLATE_INSTANCE,
        ]);
        for kind in ActionKind::builtin() {
            assert!(kinds.contains(&kind), "{kind} is not round-tripped");
        }
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let quarantine = value["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "quarantine_principal")
            .unwrap();
        assert_eq!(
            quarantine["params"],
            serde_json::json!({"kind": "role", "name": "web"})
        );
        assert_eq!(quarantine["target"], "role:web");
    }

    #[test]
    fn newer_schemas_and_bad_actions_are_refused() {
        let mut value = serde_json::to_value(plan()).unwrap();
        value["schema"] = 2.into();
        assert!(matches!(
            Plan::from_json_value(value),
            Err(PlanError::Schema { found: 2 })
        ));
        let mut value = serde_json::to_value(plan()).unwrap();
        value["actions"] = serde_json::json!([{"kind": "disable_access_key",
            "params": {"user_name": "a b", "access_key_id": "AKIAIOSFODNN7EXAMPLE"},
            "sources": []}]);
        let err = Plan::from_json_value(value).unwrap_err().to_string();
        assert!(err.contains("user name"), "{err}");
    }
}
