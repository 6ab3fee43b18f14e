//! The typed actions a policy can choose: [`Action`] and its kinds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::context::FindingContext;
use crate::id::{AccessKeyId, InstanceId, UserName};

mod containment;
mod kind;
mod payload;
mod runbook;
mod undo;
mod writeback;

pub use containment::{
    DEFAULT_QUARANTINE_POLICY, DisableConsoleLogin, IamPrincipal, PrincipalKind,
    QUARANTINE_INLINE_POLICY, QuarantinePrincipal, REVOKE_POLICY_PREFIX, RevokeRoleSessions,
};
pub use kind::ActionKind;
pub use payload::ActionPayload;
pub use runbook::{ISOLATION_DOCUMENT, IsolateInstance, StartAutomation, StartExecution};
pub use undo::{Reversal, Undo};
pub use writeback::{
    ArchiveFinding, Condition, MAX_SUPPRESSION_DAYS, SUPPRESSION_PREFIX, SuppressBy,
    SuppressSimilar, UpdateFinding, WorkflowStatus, is_writeback,
};

use containment::{role_out_of_scope, user_out_of_scope};
use runbook::listed;

/// Why a user's access key is not the finding's to touch, if it is not: one principal the finding
/// names (its own, or an attack sequence's actor) must be both the user and the key.
fn key_out_of_scope(user: &str, key: &str, finding: &FindingContext) -> Option<String> {
    let named = finding
        .principals()
        .any(|p| p.user_name.as_deref() == Some(user) && p.access_key_id.as_deref() == Some(key));
    if named {
        return None;
    }
    if finding
        .principals()
        .all(|p| p.user_name.as_deref() != Some(user))
    {
        return Some(format!(
            "user `{user}` (the finding names {})",
            finding
                .user_name()
                .map_or("no user".to_owned(), |u| format!("user `{u}`"))
        ));
    }
    Some(format!(
        "access key `{key}` (the finding names {})",
        finding
            .access_key_id()
            .map_or("no access key".to_owned(), |k| format!("key `{k}`"))
    ))
}

/// Tell people about a finding through a named channel (mapped to e.g. an SNS topic by configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The channel name, e.g. `security`.
    pub channel: String,
    /// What the policy wants to say; executors add the finding's context.
    pub message: String,
}

/// Set one IAM access key of one user to inactive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableAccessKey {
    /// The user the key must belong to.
    pub user_name: UserName,
    /// The key to disable.
    pub access_key_id: AccessKeyId,
}

impl DisableAccessKey {
    /// When disabling this key cannot contain the threat described by `finding`, what to do
    /// instead. The one place of the rule "temporary and root credentials cannot be disabled as an
    /// access key": the remediator checks it as a guard, in dry runs and real runs alike.
    ///
    /// Temporary credentials (`ASIA…` keys, principals of type `AssumedRole` or `FederatedUser`)
    /// cannot be disabled with `UpdateAccessKey`; root credentials must be rotated by the account
    /// owner.
    pub fn cannot_contain(&self, finding: &FindingContext) -> Option<String> {
        let user_type = finding
            .principal
            .as_ref()
            .and_then(|p| p.user_type.as_deref());
        match user_type {
            Some("Root") => {
                return Some(
                    "root credentials cannot be disabled by remedy: rotate the root user's password \
                     and access keys, check its MFA, and review CloudTrail for the root user"
                        .into(),
                );
            }
            Some("AssumedRole") => {
                return Some(
                    "the key belongs to an assumed-role session: revoke the role's active sessions \
                     (the `revoke_role_sessions` action, or IAM's \"Revoke active sessions\") and \
                     review who may assume the role"
                        .into(),
                );
            }
            Some("FederatedUser") => {
                return Some(
                    "the key belongs to a federated session: deny the federated user with a policy \
                     on the IAM user that called GetFederationToken, then rotate that user's keys"
                        .into(),
                );
            }
            _ => {}
        }
        self.access_key_id.is_temporary().then(|| {
            "`ASIA…` keys are temporary STS credentials that UpdateAccessKey cannot disable: \
             revoke the sessions of the role (`revoke_role_sessions`) or user that issued them"
                .into()
        })
    }
}

/// Run an SSM Run Command document on instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommand {
    /// The SSM document name, e.g. `AWS-RunShellScript`.
    pub document: String,
    /// The target instances (at least one).
    pub instance_ids: Vec<InstanceId>,
    /// Document parameters: name to list of values, as SSM takes them.
    #[serde(default)]
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

impl CustomAction {
    /// The parameter `name` when it is a string.
    pub fn str_param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }

    /// The parameter `name` when it is an integer.
    pub fn int_param(&self, name: &str) -> Option<i64> {
        self.params.get(name).and_then(Value::as_i64)
    }

    /// The parameter `name` when it is a boolean.
    pub fn bool_param(&self, name: &str) -> Option<bool> {
        self.params.get(name).and_then(Value::as_bool)
    }

    /// Every parameter read into `T` (a `serde::Deserialize` struct): the typed way for an
    /// executor to read its kind's parameters. An error names the parameter that does not fit.
    ///
    /// ```
    /// # use remedy::plan::{ActionKind, CustomAction};
    /// #[derive(serde::Deserialize)]
    /// struct Isolate { instance_id: String, security_group: Option<String> }
    ///
    /// let action = CustomAction {
    ///     kind: ActionKind::new("isolate_instance")?,
    ///     params: serde_json::json!({"instance_id": "i-0abc"}).as_object().cloned().unwrap_or_default(),
    ///     target: "i-0abc".into(),
    ///     destructive: true,
    /// };
    /// let isolate: Isolate = action.params_as()?;
    /// assert_eq!(isolate.instance_id, "i-0abc");
    /// assert!(isolate.security_group.is_none());
    /// assert_eq!(action.str_param("instance_id"), Some("i-0abc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn params_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.params.clone()))
    }
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
    /// See [`RevokeRoleSessions`].
    RevokeRoleSessions(RevokeRoleSessions),
    /// See [`QuarantinePrincipal`].
    QuarantinePrincipal(QuarantinePrincipal),
    /// See [`DisableConsoleLogin`].
    DisableConsoleLogin(DisableConsoleLogin),
    /// See [`StartAutomation`].
    StartAutomation(StartAutomation),
    /// See [`StartExecution`].
    StartExecution(StartExecution),
    /// See [`IsolateInstance`].
    IsolateInstance(IsolateInstance),
    /// See [`UpdateFinding`].
    UpdateFinding(UpdateFinding),
    /// See [`ArchiveFinding`].
    ArchiveFinding(ArchiveFinding),
    /// See [`SuppressSimilar`].
    SuppressSimilar(SuppressSimilar),
    /// See [`Undo`].
    Undo(Undo),
    /// See [`CustomAction`].
    Custom(CustomAction),
}

/// An action's parameters that do not fit its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{kind}` action: {message}")]
pub struct InvalidAction {
    /// The action's kind.
    pub kind: String,
    /// What is wrong.
    pub message: String,
}

impl Action {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Notify(_) => ActionKind::NOTIFY,
            Action::DisableAccessKey(_) => ActionKind::DISABLE_ACCESS_KEY,
            Action::RunCommand(_) => ActionKind::RUN_COMMAND,
            Action::RevokeRoleSessions(_) => ActionKind::REVOKE_ROLE_SESSIONS,
            Action::QuarantinePrincipal(_) => ActionKind::QUARANTINE_PRINCIPAL,
            Action::DisableConsoleLogin(_) => ActionKind::DISABLE_CONSOLE_LOGIN,
            Action::StartAutomation(_) => ActionKind::START_AUTOMATION,
            Action::StartExecution(_) => ActionKind::START_EXECUTION,
            Action::IsolateInstance(_) => ActionKind::ISOLATE_INSTANCE,
            Action::UpdateFinding(_) => ActionKind::UPDATE_FINDING,
            Action::ArchiveFinding(_) => ActionKind::ARCHIVE_FINDING,
            Action::SuppressSimilar(_) => ActionKind::SUPPRESS_SIMILAR,
            Action::Undo(_) => ActionKind::UNDO,
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
            Action::RevokeRoleSessions(r) => json!({ "role_name": r.role_name }),
            Action::QuarantinePrincipal(q) => json!(q.principal),
            Action::DisableConsoleLogin(d) => json!({ "user_name": d.user_name }),
            Action::StartAutomation(a) => {
                json!({ "document": a.document, "parameters": a.parameters })
            }
            Action::StartExecution(e) => {
                json!({ "state_machine": e.state_machine, "input": e.input })
            }
            Action::IsolateInstance(i) => json!({ "instance_id": i.instance_id }),
            Action::UpdateFinding(u) => json!({ "status": u.status, "note": u.note }),
            Action::ArchiveFinding(_) => json!({}),
            Action::SuppressSimilar(s) => json!({ "criteria": s.criteria, "days": s.days }),
            Action::Undo(u) => json!({ "record": u.record, "reversal": u.reversal }),
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
            Action::RevokeRoleSessions(r) => format!("role:{}", r.role_name),
            Action::QuarantinePrincipal(q) => {
                format!("{}:{}", q.principal.kind(), q.principal.name())
            }
            Action::DisableConsoleLogin(d) => format!("login_profile:{}", d.user_name),
            Action::StartAutomation(a) => a.target(),
            Action::StartExecution(e) => e.target(),
            Action::IsolateInstance(i) => format!("instance:{}", i.instance_id),
            Action::UpdateFinding(_) => "finding:workflow".into(),
            Action::ArchiveFinding(_) => "finding:archive".into(),
            Action::SuppressSimilar(s) => format!("finding:suppress:{}", s.listed()),
            Action::Undo(u) => format!("record:{}", u.record),
            Action::Custom(c) => format!("{}:{}", c.kind, c.target),
        }
    }

    /// Whether the action changes something in the account (everything but `notify`, unless a
    /// custom kind says otherwise).
    pub fn is_destructive(&self) -> bool {
        match self {
            Action::Notify(_) => false,
            Action::DisableAccessKey(_)
            | Action::RunCommand(_)
            | Action::RevokeRoleSessions(_)
            | Action::QuarantinePrincipal(_)
            | Action::DisableConsoleLogin(_)
            | Action::StartAutomation(_)
            | Action::StartExecution(_)
            | Action::IsolateInstance(_)
            | Action::UpdateFinding(_)
            | Action::ArchiveFinding(_)
            | Action::SuppressSimilar(_)
            | Action::Undo(_) => true,
            Action::Custom(c) => c.destructive,
        }
    }

    /// What the action touches that `finding` does not name, if anything: a destructive action may
    /// act only on the finding's principal (its user, access key, principal id, role) and its
    /// instances. Notifications touch nothing.
    pub fn out_of_scope(&self, finding: &FindingContext) -> Option<String> {
        if !self.is_destructive() {
            return None;
        }
        let names = |name: &str| finding.names().any(|n| n == name);
        match self {
            Action::DisableAccessKey(d) => {
                key_out_of_scope(d.user_name.as_str(), d.access_key_id.as_str(), finding)
            }
            Action::RevokeRoleSessions(r) => role_out_of_scope(r.role_name.as_str(), finding),
            Action::QuarantinePrincipal(q) => q.principal.out_of_scope(finding),
            Action::DisableConsoleLogin(d) => user_out_of_scope(d.user_name.as_str(), finding),
            Action::Undo(u) => u.reversal.out_of_scope(finding),
            Action::StartAutomation(a) => a.out_of_scope(finding),
            Action::StartExecution(e) => e.out_of_scope(finding),
            Action::IsolateInstance(i) => (!names(i.instance_id.as_str())).then(|| {
                format!(
                    "instance `{}` (not one of the finding's instances)",
                    i.instance_id
                )
            }),
            Action::RunCommand(r) => r
                .instance_ids
                .iter()
                .find(|i| {
                    !finding
                        .instance_ids
                        .iter()
                        .any(|f| f.as_str() == i.as_str())
                })
                .map(|i| format!("instance `{i}` (not one of the finding's instances)")),
            Action::Custom(c) => {
                (!names(&c.target)).then(|| format!("`{}` (not named by the finding)", c.target))
            }
            // They act on the plan's finding itself, named by its context, never by the policy.
            Action::Notify(_)
            | Action::UpdateFinding(_)
            | Action::ArchiveFinding(_)
            | Action::SuppressSimilar(_) => None,
        }
    }

    /// What carrying out the action means, in a few words (`disable access key … of user …`).
    pub fn describe(&self) -> String {
        match self {
            Action::Notify(n) => {
                let first = n.message.lines().next().unwrap_or_default();
                let mut end = first.len().min(120);
                while !first.is_char_boundary(end) {
                    end -= 1;
                }
                let cut = if end < first.len() { "…" } else { "" };
                format!(
                    "notify channel `{}`: {}{cut}",
                    n.channel,
                    first.get(..end).unwrap_or_default()
                )
            }
            Action::DisableAccessKey(d) => format!(
                "disable access key `{}` of user `{}`",
                d.access_key_id, d.user_name
            ),
            Action::RunCommand(r) => {
                let ids: Vec<&str> = r.instance_ids.iter().map(InstanceId::as_str).collect();
                format!("run `{}` on {}", r.document, ids.join(", "))
            }
            Action::RevokeRoleSessions(r) => format!(
                "revoke the active sessions of role `{}` (deny sessions issued before now)",
                r.role_name
            ),
            Action::QuarantinePrincipal(q) => format!("quarantine {}", q.principal),
            Action::DisableConsoleLogin(d) => {
                format!("delete the console password of user `{}`", d.user_name)
            }
            Action::StartAutomation(a) => {
                format!("start runbook `{}`{}", a.document, listed(&a.parameters))
            }
            Action::StartExecution(e) => {
                format!("start state machine `{}`", e.state_machine)
            }
            Action::IsolateInstance(i) => format!(
                "isolate instance `{}` with `{ISOLATION_DOCUMENT}`",
                i.instance_id
            ),
            Action::UpdateFinding(u) => format!(
                "set the finding's Security Hub workflow status to {} with note \"{}\"",
                u.status,
                u.note.escape_default()
            ),
            Action::ArchiveFinding(_) => "archive the finding in GuardDuty".into(),
            Action::SuppressSimilar(s) => format!(
                "suppress findings of this type with the same {} for {} days (a GuardDuty filter \
                 archiving them)",
                s.listed(),
                s.days
            ),
            Action::Undo(u) => format!("undo record `{}`: {}", u.record, u.reversal),
            Action::Custom(c) => format!("{} `{}`", c.kind, c.target),
        }
    }

    /// The action of `kind` with `params`, as the plan's JSON form holds it. `target` and
    /// `destructive` matter only for host kinds: the target as [`Action::target`] wrote it
    /// (`kind:target`), and whether the kind is destructive (absent: destructive, so guarded).
    pub fn from_parts(
        kind: &ActionKind,
        params: Value,
        target: Option<&str>,
        destructive: Option<bool>,
    ) -> Result<Self, InvalidAction> {
        let invalid = |message: String| InvalidAction {
            kind: kind.to_string(),
            message,
        };
        let typed = |e: serde_json::Error| invalid(e.to_string());
        match kind.as_str() {
            "notify" => serde_json::from_value(params)
                .map(Action::Notify)
                .map_err(typed),
            "disable_access_key" => serde_json::from_value(params)
                .map(Action::DisableAccessKey)
                .map_err(typed),
            "run_command" => serde_json::from_value(params)
                .map(Action::RunCommand)
                .map_err(typed),
            "revoke_role_sessions" => serde_json::from_value(params)
                .map(Action::RevokeRoleSessions)
                .map_err(typed),
            "quarantine_principal" => serde_json::from_value(params)
                .map(Action::QuarantinePrincipal)
                .map_err(typed),
            "disable_console_login" => serde_json::from_value(params)
                .map(Action::DisableConsoleLogin)
                .map_err(typed),
            "start_automation" => serde_json::from_value(params)
                .map(Action::StartAutomation)
                .map_err(typed),
            "start_execution" => serde_json::from_value(params)
                .map(Action::StartExecution)
                .map_err(typed),
            "isolate_instance" => serde_json::from_value(params)
                .map(Action::IsolateInstance)
                .map_err(typed),
            "update_finding" => serde_json::from_value(params)
                .map(Action::UpdateFinding)
                .map_err(typed),
            "archive_finding" => serde_json::from_value(params)
                .map(Action::ArchiveFinding)
                .map_err(typed),
            "suppress_similar" => serde_json::from_value::<SuppressSimilar>(params)
                .map_err(typed)
                .and_then(|s| match s.invalid() {
                    Some(why) => Err(invalid(why)),
                    None => Ok(Action::SuppressSimilar(s)),
                }),
            "undo" => serde_json::from_value(params)
                .map(Action::Undo)
                .map_err(typed),
            _ => {
                let Value::Object(params) = params else {
                    return Err(invalid("`params` must be an object".into()));
                };
                let prefix = format!("{kind}:");
                let target = target
                    .and_then(|t| t.strip_prefix(&prefix))
                    .ok_or_else(|| invalid(format!("`target` must start with `{prefix}`")))?;
                Ok(Action::Custom(CustomAction {
                    kind: kind.clone(),
                    params,
                    target: target.to_owned(),
                    destructive: destructive.unwrap_or(true),
                }))
            }
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Action", 2)?;
        s.serialize_field("kind", &self.kind())?;
        s.serialize_field("params", &self.params())?;
        s.end()
    }
}

/// Whether an action of this kind can be repeated without changing the result.
///
/// Idempotent: `disable_access_key`, `revoke_role_sessions` (a repeat finds the finding's policy
/// and keeps its time), `quarantine_principal` (attached once), `disable_console_login` (no
/// password stays no password) and `undo`; their executors read the state before they change
/// it. These are keyed per occurrence in the ledger (an updated finding re-checks the state) and
/// may be retried. `run_command` and `notify` are not (a second call runs the command again or
/// sends a second message); custom kinds are assumed not to be.
pub fn is_idempotent(kind: &ActionKind) -> bool {
    [
        ActionKind::DISABLE_ACCESS_KEY,
        ActionKind::REVOKE_ROLE_SESSIONS,
        ActionKind::QUARANTINE_PRINCIPAL,
        ActionKind::DISABLE_CONSOLE_LOGIN,
        ActionKind::UNDO,
    ]
    .contains(kind)
}
