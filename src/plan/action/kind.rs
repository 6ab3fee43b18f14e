//! The kind of an action: its name, a built-in's constant or a kind a host registered.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::InvalidId;

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
    /// `revoke_role_sessions`: deny the sessions of an IAM role issued before the remediation.
    pub const REVOKE_ROLE_SESSIONS: ActionKind = ActionKind(Cow::Borrowed("revoke_role_sessions"));
    /// `quarantine_principal`: attach the quarantine policy to an IAM user or role.
    pub const QUARANTINE_PRINCIPAL: ActionKind = ActionKind(Cow::Borrowed("quarantine_principal"));
    /// `disable_console_login`: delete an IAM user's console password.
    pub const DISABLE_CONSOLE_LOGIN: ActionKind =
        ActionKind(Cow::Borrowed("disable_console_login"));
    /// `start_automation`: start an SSM Automation runbook.
    pub const START_AUTOMATION: ActionKind = ActionKind(Cow::Borrowed("start_automation"));
    /// `start_execution`: start a Step Functions state machine.
    pub const START_EXECUTION: ActionKind = ActionKind(Cow::Borrowed("start_execution"));
    /// `isolate_instance`: contain an instance with `AWSSupport-ContainEC2Instance`.
    pub const ISOLATE_INSTANCE: ActionKind = ActionKind(Cow::Borrowed("isolate_instance"));
    /// `update_finding`: set the finding's Security Hub workflow status, with a note.
    pub const UPDATE_FINDING: ActionKind = ActionKind(Cow::Borrowed("update_finding"));
    /// `archive_finding`: archive the finding in GuardDuty.
    pub const ARCHIVE_FINDING: ActionKind = ActionKind(Cow::Borrowed("archive_finding"));
    /// `suppress_similar`: archive findings like this one for some days (a GuardDuty filter).
    pub const SUPPRESS_SIMILAR: ActionKind = ActionKind(Cow::Borrowed("suppress_similar"));
    /// `undo`: reverse what an earlier action did (`remedy undo`; policies cannot choose it).
    pub const UNDO: ActionKind = ActionKind(Cow::Borrowed("undo"));

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
