//! `[host_kinds]`: the action kinds the host (here: the CLI) registers, by name.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::plan::ActionKind;

/// One `[host_kinds]` entry: `quarantine_instance = { params = ["instance_id"], target = "instance_id" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostKindConfig {
    /// The parameter names, in the order policies pass them.
    #[serde(default)]
    pub params: Vec<String>,
    /// The parameter that names what the action acts on (required for destructive kinds).
    #[serde(default)]
    pub target: Option<String>,
    /// Whether the kind changes something (default true).
    #[serde(default = "yes")]
    pub destructive: bool,
    /// The program that carries the action out, and its arguments (not run through a shell): it
    /// reads the request as JSON on stdin (see [`crate::action::CommandExecutor`]). Without one,
    /// the kind's actions are planned, guarded and audited, and fail `unsupported`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// How long the program may run (default 30, 1 to 3600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

fn yes() -> bool {
    true
}

impl HostKindConfig {
    /// Why the entry `name` cannot be used, if it cannot.
    pub fn check(&self, name: &str) -> Result<(), ConfigError> {
        let kind = self;
        let invalid = |field: String, message: &str| ConfigError::Invalid {
            field,
            message: message.to_owned(),
        };
        let field = format!("host_kinds.{name}");
        let built = ActionKind::new(name).map_err(|e| invalid(field.clone(), &e.to_string()))?;
        if built.is_builtin() {
            return Err(invalid(field, "is a built-in action kind"));
        }
        if kind.destructive && kind.target.is_none() {
            return Err(invalid(
                format!("{field}.target"),
                "a destructive kind must name its target parameter",
            ));
        }
        if let Some(target) = &kind.target
            && !kind.params.contains(target)
        {
            return Err(invalid(
                format!("{field}.target"),
                "must be one of the kind's `params`",
            ));
        }
        if kind
            .command
            .as_ref()
            .is_some_and(|c| c.first().is_none_or(String::is_empty))
        {
            return Err(invalid(
                format!("{field}.command"),
                "names no program (e.g. `command = [\"./isolate.sh\"]`)",
            ));
        }
        if let Some(secs) = kind.timeout_secs
            && !(1..=3600).contains(&secs)
        {
            return Err(ConfigError::Invalid {
                field: format!("{field}.timeout_secs"),
                message: format!("`{secs}` is out of range: must be from 1 to 3600"),
            });
        }
        Ok(())
    }
}
